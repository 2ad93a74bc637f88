//go:build !goexperiment.simd || !amd64

package text

import "encoding/binary"

// blockClassify: the portable classifier below works on eight bytes at a
// time in 64-bit words (SWAR), fast enough that the block path beats the
// byte-at-a-time AppendWords without vector instructions too.
const blockClassify = true

const (
	lsb = 0x0101010101010101 // 0x01 in every byte
	low = 0x7f7f7f7f7f7f7f7f // the low seven bits of every byte
	msb = 0x8080808080808080 // the top bit of every byte
)

// eqBytes sets the top bit of each byte of x equal to c (exact per byte:
// no carry crosses bytes).
func eqBytes(x uint64, c byte) uint64 {
	v := x ^ uint64(c)*lsb
	return ^((v & low) + low | v | low)
}

// inRange sets the top bit of each byte of x7 (bytes below 0x80) between
// lo and hi inclusive.
func inRange(x7 uint64, lo, hi byte) uint64 {
	return (x7 + uint64(0x80-lo)*lsb) &^ (x7 + uint64(0x7f-hi)*lsb) & msb
}

// gather8 packs the top bit of each byte of m (nothing else set) into
// eight bits, byte i to bit i.
func gather8(m uint64) uint64 { return (m >> 7) * 0x0102040810204080 >> 56 }

// classify64 returns, one bit per byte of the block, its word bytes
// (letters, digits, '_'), letters, digits, letter joiners (' . :), digit
// joiners (' . , ;) and non-ASCII bytes; bytes >= 0x80 are in no ASCII
// class.
func classify64(p *[64]byte) (word, letter, digit, joinL, joinD, high uint64) {
	for k := 0; k < 8; k++ {
		x := binary.LittleEndian.Uint64(p[8*k:])
		h := x & msb
		x7 := x & low
		ascii := ^h & msb
		l := inRange(x7|0x2020202020202020, 'a', 'z') & ascii
		d := inRange(x7, '0', '9') & ascii
		apDot := eqBytes(x, '\'') | eqBytes(x, '.')
		jl := apDot | eqBytes(x, ':')
		jd := apDot | eqBytes(x, ',') | eqBytes(x, ';')
		w := l | d | eqBytes(x, '_')
		shift := uint(8 * k)
		word |= gather8(w) << shift
		letter |= gather8(l) << shift
		digit |= gather8(d) << shift
		joinL |= gather8(jl) << shift
		joinD |= gather8(jd) << shift
		high |= gather8(h) << shift
	}
	return
}

func clearUpper() {}

// highMask64 returns one bit per byte >= 0x80 of the block.
func highMask64(p *[64]byte) (m uint64) {
	for k := 0; k < 8; k++ {
		m |= gather8(binary.LittleEndian.Uint64(p[8*k:])&msb) << uint(8*k)
	}
	return m
}
