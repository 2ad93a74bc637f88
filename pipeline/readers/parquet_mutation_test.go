package readers

import (
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestParquetMutations: randomly corrupted Parquet files give an error or
// documents quickly, with bounded memory, never a hang, crash or a
// multi-gigabyte allocation (seen before the footer and page checks).
func TestParquetMutations(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	seed := parquetSeed(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < n; i++ {
		b := append([]byte(nil), seed...)
		for k := 0; k < 1+rng.Intn(3); k++ {
			b[rng.Intn(len(b))] = byte(rng.Intn(256))
		}
		p := filepath.Join(dir, "a.parquet")
		os.WriteFile(p, b, 0o644)
		done := make(chan error, 1)
		t0 := time.Now()
		go func() { _, err := readAll(t, Options{Format: "parquet", TaskBytes: 1}, false, p); done <- err }()
		var m runtime.MemStats
		select {
		case <-done:
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > 1<<30 {
				t.Fatalf("input %d: heap %d MB", i, m.HeapAlloc>>20)
			}
		case <-time.After(3 * time.Second):
			runtime.ReadMemStats(&m)
			t.Fatalf("input %d slow (%v), heap %d MB", i, time.Since(t0), m.HeapAlloc>>20)
		}
	}
}
