package tokenize

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPU returns the calling OS thread's CPU time. Benchmarks lock the
// goroutine to its thread and report MB per CPU-second next to wall-clock
// MB/s, which stays meaningful on a machine shared with other jobs.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
