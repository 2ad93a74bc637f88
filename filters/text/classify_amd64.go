//go:build goexperiment.simd && amd64

package text

import "simd/archsimd"

// blockClassify: AppendWords takes the 64-byte block path where AVX2
// makes classifying a block cheap.
var blockClassify = archsimd.X86.AVX2()

// Class bits: each is one rectangle (set of high nibbles × set of low
// nibbles), so a byte's class is lowNib[c&15] & highNib[c>>4], two
// shuffles. Bytes >= 0x80 get no bits (highNib[8:] is zero).
const (
	bLetter1 = 1 << iota // 0x41-0x4f, 0x61-0x6f
	bLetter2             // 0x50-0x5a, 0x70-0x7a
	bDigit               // 0x30-0x39
	bUnder               // '_'
	bApDot               // ' .
	bColon               // :
	bComma               // ,
	bSemi                // ;
)

var classTables = func() (t [8][32]uint8) {
	var lo, hi [16]uint8
	for l := 1; l <= 15; l++ {
		lo[l] |= bLetter1
	}
	for l := 0; l <= 10; l++ {
		lo[l] |= bLetter2
	}
	for l := 0; l <= 9; l++ {
		lo[l] |= bDigit
	}
	lo[0xf] |= bUnder
	lo[0x7] |= bApDot
	lo[0xe] |= bApDot
	lo[0xa] |= bColon
	lo[0xc] |= bComma
	lo[0xb] |= bSemi
	hi[4] |= bLetter1
	hi[6] |= bLetter1
	hi[5] |= bLetter2 | bUnder
	hi[7] |= bLetter2
	hi[3] |= bDigit | bColon | bSemi
	hi[2] |= bApDot | bComma
	for i := 0; i < 32; i++ {
		t[0][i] = lo[i%16]
		t[1][i] = hi[i%16]
		t[2][i] = 0x0f
		t[3][i] = bLetter1 | bLetter2 | bDigit | bUnder
		t[4][i] = bLetter1 | bLetter2
		t[5][i] = bDigit
		t[6][i] = bApDot | bColon
		t[7][i] = bApDot | bComma | bSemi
	}
	return t
}()

var shr4 = [16]uint16{0: 1 << 12, 1: 1 << 12, 2: 1 << 12, 3: 1 << 12, 4: 1 << 12, 5: 1 << 12, 6: 1 << 12, 7: 1 << 12,
	8: 1 << 12, 9: 1 << 12, 10: 1 << 12, 11: 1 << 12, 12: 1 << 12, 13: 1 << 12, 14: 1 << 12, 15: 1 << 12}

// classify64 returns, one bit per byte of the block, its word bytes
// (letters, digits, '_'), letters, digits, letter joiners (' . :), digit
// joiners (' . , ;) and non-ASCII bytes.
func classify64(p *[64]byte) (word, letter, digit, joinL, joinD, high uint64) {
	w0, l0, d0, jl0, jd0, h0 := classify32((*[32]byte)(p[:32]))
	w1, l1, d1, jl1, jd1, h1 := classify32((*[32]byte)(p[32:]))
	return uint64(w0) | uint64(w1)<<32, uint64(l0) | uint64(l1)<<32, uint64(d0) | uint64(d1)<<32,
		uint64(jl0) | uint64(jl1)<<32, uint64(jd0) | uint64(jd1)<<32, uint64(h0) | uint64(h1)<<32
}

func classify32(p *[32]byte) (word, letter, digit, joinL, joinD, high uint32) {
	t := &classTables
	v := archsimd.LoadUint8x32(p)
	nib := archsimd.LoadUint8x32(&t[2])
	lo := v.And(nib)
	// x>>4 as a high multiply by 1<<12: ShiftAllRight puts its count in a
	// register with a legacy-SSE MOVQ, a transition stall after AVX code.
	hi := v.AsUint16x16().MulHigh(archsimd.LoadUint16x16(&shr4)).AsUint8x32().And(nib)
	c := archsimd.LoadUint8x32(&t[0]).PermuteOrZeroGrouped(lo.AsInt8x32()).
		And(archsimd.LoadUint8x32(&t[1]).PermuteOrZeroGrouped(hi.AsInt8x32()))
	var zero archsimd.Uint8x32
	word = ^c.And(archsimd.LoadUint8x32(&t[3])).Equal(zero).ToBits()
	letter = ^c.And(archsimd.LoadUint8x32(&t[4])).Equal(zero).ToBits()
	digit = ^c.And(archsimd.LoadUint8x32(&t[5])).Equal(zero).ToBits()
	joinL = ^c.And(archsimd.LoadUint8x32(&t[6])).Equal(zero).ToBits()
	joinD = ^c.And(archsimd.LoadUint8x32(&t[7])).Equal(zero).ToBits()
	high = v.AsInt8x32().Less(zero.AsInt8x32()).ToBits()
	return
}

// clearUpper avoids the AVX-SSE transition penalty in the code that runs
// after the vector classifier.
func clearUpper() { archsimd.ClearAVXUpperBits() }

// highMask64 returns one bit per byte >= 0x80 of the block.
func highMask64(p *[64]byte) uint64 {
	var zero archsimd.Int8x32
	lo := archsimd.LoadUint8x32((*[32]byte)(p[:32])).AsInt8x32().Less(zero).ToBits()
	hi := archsimd.LoadUint8x32((*[32]byte)(p[32:])).AsInt8x32().Less(zero).ToBits()
	return uint64(lo) | uint64(hi)<<32
}
