//go:build !goexperiment.simd

package kernels

import "golang.org/x/sys/cpu"

// microKernel computes the mr x nr tile C (+)= Ap * Bp over kn steps; ap is
// k-major [kn][mr], bp [kn][nr], c has row stride ldc. store overwrites C.
// Without the simd experiment the assembly tile still runs where the CPU
// has AVX-512 (the assembly needs no compiler support).
func microKernel(kn int, ap, bp, c []float32, ldc int, store bool) {
	_ = ap[kn*mr-1]
	_ = bp[kn*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if cpu.X86.HasAVX512F {
		microKernelAVX512(kn, &ap[0], &bp[0], &c[0], ldc, store)
		return
	}
	microKernelGo(kn, ap, bp, c, ldc, store)
}
