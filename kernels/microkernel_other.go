//go:build !amd64

package kernels

// microKernel computes the mr x nr tile C (+)= Ap * Bp over kn steps; ap is
// k-major [kn][mr], bp [kn][nr], c has row stride ldc. store overwrites C.
func microKernel(kn int, ap, bp, c []float32, ldc int, store bool) {
	microKernelGo(kn, ap, bp, c, ldc, store)
}
