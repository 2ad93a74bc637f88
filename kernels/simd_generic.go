//go:build !goexperiment.simd || !amd64

package kernels

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

// maxOf returns the largest element of x (len >= 1).
func maxOf(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// expShift writes dst[i] = exp(src[i] - mx) (dst may be src or nil) and
// returns the sum.
func expShift(dst, src []float32, mx float32) float64 {
	var sum float64
	for i, v := range src {
		e := expf(v - mx)
		if dst != nil {
			dst[i] = e
		}
		sum += float64(e)
	}
	return sum
}

// scale: x *= k.
func scale(x []float32, k float32) {
	for i := range x {
		x[i] *= k
	}
}
