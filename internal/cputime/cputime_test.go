package cputime

import (
	"runtime"
	"testing"
	"time"
)

func TestProcessAdvances(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no CPU time source here")
	}
	start := Process()
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if d := Process() - start; d <= 0 || x == 0 {
		t.Fatalf("CPU time went from %v by %v while spinning", start, d)
	}
}
