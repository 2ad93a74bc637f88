package kernels

import "math"

// expf is a float32 exp accurate to about 2 ulp over the float32 range
// (Cephes-style: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial
// for e^r, and 2^n built in the exponent bits). It is several times
// faster than float64 math.Exp, which dominated cross-entropy over large
// vocabularies.
func expf(x float32) float32 {
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		if x != x {
			return x
		}
		return 0
	}
	const ln2hi, ln2lo = 0.693359375, -2.12194440e-4
	n := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
