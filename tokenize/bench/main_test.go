package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain points shareddata at ../shared/data beside the main module's
// root: this nested module's own go.mod would otherwise stop the search.
func TestMain(m *testing.M) {
	if os.Getenv("KILN_SHARED_DATA") == "" {
		if d, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data")); err == nil {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				os.Setenv("KILN_SHARED_DATA", d)
			}
		}
	}
	os.Exit(m.Run())
}
