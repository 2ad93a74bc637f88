// Package shareddata locates the read-only real data (../shared/data next to
// the repository) for tests and benchmarks.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared data folder, found by walking up from the working
// directory to the repository root (the folder holding go.mod) and looking
// beside it. When it is missing the test is skipped with a message, except
// under CI=true, where it fails.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d, ok := Find(); ok {
		return d
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("../shared/data not found next to the repository (required under CI=true)")
	}
	tb.Skip("../shared/data not found next to the repository; skipping test on real data")
	return ""
}

// Path joins elements onto Dir.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Dir(tb)}, elem...)...)
}

// Find looks for the shared data folder without a testing.TB.
func Find() (string, bool) {
	if d := os.Getenv("KILN_SHARED_DATA"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, true
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return filepath.Clean(d), true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
