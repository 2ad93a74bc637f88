package text

import (
	"math/rand/v2"
	"testing"
)

// refClassify64 classifies a block a byte at a time: the definition every
// classify64 (vector or SWAR) must match bit for bit.
func refClassify64(p *[64]byte) (word, letter, digit, joinL, joinD, high uint64) {
	for i, c := range p {
		bit := uint64(1) << uint(i)
		if c >= 0x80 {
			high |= bit
			continue
		}
		switch cl := asciiTable[c]; {
		case cl == clsLetter:
			word |= bit
			letter |= bit
		case cl == clsDigit:
			word |= bit
			digit |= bit
		case cl == clsUnder:
			word |= bit
		case c == '\'' || c == '.':
			joinL |= bit
			joinD |= bit
		case c == ':':
			joinL |= bit
		case c == ',' || c == ';':
			joinD |= bit
		}
	}
	return
}

// TestClassify64 checks the compiled classifier against the byte loop on
// every byte value at every position, and on random blocks.
func TestClassify64(t *testing.T) {
	check := func(p *[64]byte) {
		t.Helper()
		w, l, d, jl, jd, h := classify64(p)
		rw, rl, rd, rjl, rjd, rh := refClassify64(p)
		if w != rw || l != rl || d != rd || jl != rjl || jd != rjd || h != rh {
			t.Fatalf("classify64(%q):\n got %x %x %x %x %x %x\nwant %x %x %x %x %x %x", p[:], w, l, d, jl, jd, h, rw, rl, rd, rjl, rjd, rh)
		}
		if got := highMask64(p); got != rh {
			t.Fatalf("highMask64(%q) = %x, want %x", p[:], got, rh)
		}
	}
	var p [64]byte
	for c := range 256 {
		for i := range p {
			p[i] = byte(c + i)
		}
		check(&p)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		for i := range p {
			p[i] = byte(r.IntN(256))
			if r.IntN(2) == 0 {
				p[i] = "aZ09_'.:,;@[`{/ \n"[r.IntN(17)]
			}
		}
		check(&p)
	}
}
