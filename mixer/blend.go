package mixer

// pickSource applies the largest-error rule to token counts: among the
// active sources with a positive weight it returns the one whose realised
// token count lags its target share the most,
//
//	(w[d]/W) * (A+1) - tok[d]
//
// where W and A are the weight and token sums over those candidate sources
// (with every source active this is Megatron's w[d]*(i+1) - count[d], in
// tokens rather than samples). Ties go to the lower index; -1 means no
// candidate. It needs only the per-source counts of the current blend
// segment (O(#sources) state), never an index that grows with training
// length, and every quantity is recomputed from integers, so a restored
// state picks exactly as the uninterrupted run did.
//
// Summing over candidates only is what renormalises the weights when a
// source drops out (epoch limit): the rest keep their relative weights.
func pickSource(w []float64, tok []int64, active []bool) int {
	var W float64
	var A int64
	for d, wd := range w {
		if wd > 0 && active[d] {
			W += wd
			A += tok[d]
		}
	}
	if W == 0 {
		return -1
	}
	best := -1
	var bestErr float64
	next := float64(A+1) / W
	for d, wd := range w {
		if wd <= 0 || !active[d] {
			continue
		}
		e := wd*next - float64(tok[d])
		if best < 0 || e > bestErr {
			best, bestErr = d, e
		}
	}
	return best
}
