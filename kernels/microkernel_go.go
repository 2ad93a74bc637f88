package kernels

// microKernelGo is the portable tile: same contract as microKernel.
func microKernelGo(kn int, ap, bp, c []float32, ldc int, store bool) {
	var acc [mr * nr]float32
	for k := 0; k < kn; k++ {
		a := ap[k*mr : k*mr+mr]
		b := bp[k*nr : k*nr+nr]
		for r, av := range a {
			row := acc[r*nr : r*nr+nr]
			for j, bv := range b {
				row[j] += av * bv
			}
		}
	}
	for r := 0; r < mr; r++ {
		dst := c[r*ldc : r*ldc+nr]
		if store {
			copy(dst, acc[r*nr:r*nr+nr])
			continue
		}
		for j := range dst {
			dst[j] += acc[r*nr+j]
		}
	}
}
