package kernels

import (
	"sync"
	"time"
)

// MeasurePeak measures the machine's fp32 FMA throughput in FLOP/s with the
// matmul micro-kernel on L1-resident panels, on threads goroutines for about
// d: the ceiling MFU is reported against.
func MeasurePeak(threads int, d time.Duration) float64 {
	if threads <= 0 {
		threads = NewCPU(0).Threads()
	}
	const kn = 128
	var wg sync.WaitGroup
	flops := make([]float64, threads)
	start := time.Now()
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ap := make([]float32, kn*mr)
			bp := make([]float32, kn*nr)
			c := make([]float32, mr*nr)
			for i := range ap {
				ap[i] = 1e-3
			}
			for i := range bp {
				bp[i] = 1e-3
			}
			calls := 0
			for time.Since(start) < d {
				for i := 0; i < 256; i++ {
					microKernel(kn, ap, bp, c, nr, false)
				}
				calls += 256
			}
			flops[w] = float64(calls) * 2 * mr * nr * kn
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	var total float64
	for _, f := range flops {
		total += f
	}
	return total / el
}
