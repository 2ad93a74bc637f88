//go:build goexperiment.simd && amd64

package filters

import (
	mathbits "math/bits"
	"simd/archsimd"
	"unsafe"
)

// scanVector is scan with AVX-512: 64 bytes at a time are folded to
// lowercase and compared, at two adjacent offsets, with each pattern's
// anchor pair; only the positions where a pair matches (a few per
// thousand bytes of English) are checked byte by byte. A per-byte loop
// spends most of its time on a branch that almost never fires. ok is
// false on machines without AVX-512.
func (m *foldMatcher) scanVector(s string) (hits uint8, ok bool) {
	if !archsimd.X86.AVX512() || len(m.pairs) > 8 {
		return 0, false
	}
	var first, second [8]archsimd.Uint8x64
	for k, p := range m.pairs {
		first[k], second[k] = archsimd.BroadcastUint8x64(p[0]), archsimd.BroadcastUint8x64(p[1])
	}
	fold := archsimd.BroadcastUint8x64(0x20)
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	for i := 0; i < len(b); i += 64 {
		var v0, v1 archsimd.Uint8x64
		if i+65 <= len(b) {
			v0, v1 = archsimd.LoadUint8x64Slice(b[i:]), archsimd.LoadUint8x64Slice(b[i+1:])
		} else {
			// Zeros past the end fold to ' ', which may start a
			// false candidate; check rejects it.
			v0 = archsimd.LoadUint8x64SlicePart(b[i:])
			if i+1 < len(b) {
				v1 = archsimd.LoadUint8x64SlicePart(b[i+1:])
			}
		}
		v0, v1 = v0.Or(fold), v1.Or(fold)
		for k := range m.pairs {
			found := v0.Equal(first[k]).And(v1.Equal(second[k]))
			for hit := found.ToBits(); hit != 0; hit &= hit - 1 {
				if at := i + mathbits.TrailingZeros64(hit) - m.pairAt[k]; at < len(s) {
					hits = m.check(s, at, hits)
				}
			}
		}
	}
	// Leave no dirty upper register halves: the SSE code that follows
	// (the rest of the chain) would otherwise run slower.
	archsimd.ClearAVXUpperBits()
	return hits, true
}
