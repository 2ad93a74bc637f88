//go:build !goexperiment.simd || !amd64

package text

import (
	"encoding/binary"

	"github.com/kilnlm/kiln/internal/swar"
)

// blockClassify: the portable classifier below works on eight bytes at a
// time in 64-bit words (SWAR), fast enough that the block path beats the
// byte-at-a-time AppendWords without vector instructions too.
const blockClassify = true

// classify64 returns, one bit per byte of the block, its word bytes
// (letters, digits, '_'), letters, digits, letter joiners (' . :), digit
// joiners (' . , ;) and non-ASCII bytes; bytes >= 0x80 are in no ASCII
// class.
func classify64(p *[64]byte) (word, letter, digit, joinL, joinD, high uint64) {
	for k := 0; k < 8; k++ {
		x := binary.LittleEndian.Uint64(p[8*k:])
		h := x & swar.High
		x7 := x & swar.Low
		ascii := ^h & swar.High
		l := swar.InRange(x7|0x20*swar.Ones, 'a', 'z') & ascii
		d := swar.InRange(x7, '0', '9') & ascii
		apDot := swar.Equal(x, '\'') | swar.Equal(x, '.')
		jl := apDot | swar.Equal(x, ':')
		jd := apDot | swar.Equal(x, ',') | swar.Equal(x, ';')
		w := l | d | swar.Equal(x, '_')
		shift := uint(8 * k)
		word |= swar.Gather(w) << shift
		letter |= swar.Gather(l) << shift
		digit |= swar.Gather(d) << shift
		joinL |= swar.Gather(jl) << shift
		joinD |= swar.Gather(jd) << shift
		high |= swar.Gather(h) << shift
	}
	return
}

func clearUpper() {}

// highMask64 returns one bit per byte >= 0x80 of the block.
func highMask64(p *[64]byte) (m uint64) {
	for k := 0; k < 8; k++ {
		m |= swar.Gather(binary.LittleEndian.Uint64(p[8*k:])&swar.High) << uint(8*k)
	}
	return m
}
