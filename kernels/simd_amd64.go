//go:build goexperiment.simd && amd64

package kernels

import "simd/archsimd"

// microKernel computes the mr x nr (8 x 32) tile C (+)= Ap * Bp over kn
// steps; ap is k-major [kn][8], bp [kn][32], c has row stride ldc. store
// overwrites C instead of adding. AVX-512 machines use the assembly tile.
func microKernel(kn int, ap, bp, c []float32, ldc int, store bool) {
	_ = ap[kn*mr-1]
	_ = bp[kn*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if archsimd.X86.AVX512() {
		microKernelAVX512(kn, &ap[0], &bp[0], &c[0], ldc, store)
		return
	}
	microKernelGo(kn, ap, bp, c, ldc, store)
}

// dot returns sum(a[i]*b[i]), 16 lanes at a time then a fixed-order tail.
func dot(a, b []float32) float32 {
	n := len(a)
	i := 0
	var acc archsimd.Float32x16
	for ; i+16 <= n; i += 16 {
		acc = archsimd.LoadFloat32x16Slice(a[i:]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:]), acc)
	}
	var lanes [16]float32
	acc.Store(&lanes)
	var s float32
	for _, v := range lanes {
		s += v
	}
	for ; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpy: y += alpha * x.
func axpy(y, x []float32, alpha float32) {
	n := len(x)
	i := 0
	al := archsimd.BroadcastFloat32x16(alpha)
	for ; i+16 <= n; i += 16 {
		al.MulAdd(archsimd.LoadFloat32x16Slice(x[i:]), archsimd.LoadFloat32x16Slice(y[i:])).StoreSlice(y[i:])
	}
	for ; i < n; i++ {
		y[i] += alpha * x[i]
	}
}
