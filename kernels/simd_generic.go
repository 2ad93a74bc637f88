//go:build !goexperiment.simd || !amd64

package kernels

// microKernel computes the mr x nr tile C (+)= Ap * Bp over kn steps; ap is
// k-major [kn][mr], bp [kn][nr], c has row stride ldc. store overwrites C.
func microKernel(kn int, ap, bp, c []float32, ldc int, store bool) {
	microKernelGo(kn, ap, bp, c, ldc, store)
}

// dot returns sum(a[i]*b[i]).
func dot(a, b []float32) float32 {
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpy: y += alpha * x.
func axpy(y, x []float32, alpha float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}
