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
	vzeroupper()
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
	vzeroupper()
	for ; i < n; i++ {
		y[i] += alpha * x[i]
	}
}

// maxOf returns the largest element of x (len >= 1).
func maxOf(x []float32) float32 {
	i := 0
	m := x[0]
	if len(x) >= 16 {
		acc := archsimd.LoadFloat32x16Slice(x)
		for i = 16; i+16 <= len(x); i += 16 {
			acc = acc.Max(archsimd.LoadFloat32x16Slice(x[i:]))
		}
		var lanes [16]float32
		acc.Store(&lanes)
		vzeroupper()
		for _, v := range lanes {
			m = max(m, v)
		}
	}
	for ; i < len(x); i++ {
		m = max(m, x[i])
	}
	return m
}

// expShift writes dst[i] = exp(src[i] - mx) (dst may be src, or nil) and
// returns the sum, reduced per lane then in lane order (deterministic).
func expShift(dst, src []float32, mx float32) float64 {
	n := len(src) &^ 15
	var lanes [16]float32
	var sum float64
	if n > 0 && archsimd.X86.AVX512() {
		var d *float32
		if dst != nil {
			d = &dst[:n][0]
		}
		expShiftAVX512(d, &src[0], n, mx, &lanes[0])
		for _, v := range lanes {
			sum += float64(v)
		}
	} else {
		n = 0
	}
	for i := n; i < len(src); i++ {
		e := expf(src[i] - mx)
		if dst != nil {
			dst[i] = e
		}
		sum += float64(e)
	}
	return sum
}

// scale: x *= k.
func scale(x []float32, k float32) {
	i := 0
	kv := archsimd.BroadcastFloat32x16(k)
	for ; i+16 <= len(x); i += 16 {
		archsimd.LoadFloat32x16Slice(x[i:]).Mul(kv).StoreSlice(x[i:])
	}
	vzeroupper()
	for ; i < len(x); i++ {
		x[i] *= k
	}
}
