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

// expVec is expf on 16 lanes (inputs clamped to [-87.3, 88.7]).
func expVec(x archsimd.Float32x16) archsimd.Float32x16 {
	x = x.Max(archsimd.BroadcastFloat32x16(-87.33654)).Min(archsimd.BroadcastFloat32x16(88.72283))
	n := x.Mul(archsimd.BroadcastFloat32x16(1.44269504088896341)).RoundToEvenScaled(0)
	r := n.Mul(archsimd.BroadcastFloat32x16(-0.693359375)).Add(x)
	r = n.Mul(archsimd.BroadcastFloat32x16(2.12194440e-4)).Add(r)
	p := archsimd.BroadcastFloat32x16(1.9875691500e-4)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(1.3981999507e-3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(8.3334519073e-3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(4.1665795894e-2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(1.6666665459e-1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(5.0000001201e-1))
	p = p.MulAdd(r.Mul(r), r).Add(archsimd.BroadcastFloat32x16(1))
	e := n.ConvertToInt32().Add(archsimd.BroadcastInt32x16(127)).ShiftAllLeft(23).AsFloat32x16()
	return p.Mul(e)
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
		for _, v := range lanes {
			m = max(m, v)
		}
	}
	for ; i < len(x); i++ {
		m = max(m, x[i])
	}
	return m
}

// expShift writes dst[i] = exp(src[i] - mx) (dst may be src) and returns
// the sum, reduced per lane then in lane order (deterministic).
func expShift(dst, src []float32, mx float32) float64 {
	i := 0
	var acc archsimd.Float32x16
	m := archsimd.BroadcastFloat32x16(mx)
	for ; i+16 <= len(src); i += 16 {
		e := expVec(archsimd.LoadFloat32x16Slice(src[i:]).Sub(m))
		if dst != nil {
			e.StoreSlice(dst[i:])
		}
		acc = acc.Add(e)
	}
	var lanes [16]float32
	acc.Store(&lanes)
	var sum float64
	for _, v := range lanes {
		sum += float64(v)
	}
	for ; i < len(src); i++ {
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
	for ; i < len(x); i++ {
		x[i] *= k
	}
}
