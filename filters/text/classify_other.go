//go:build !goexperiment.simd || !amd64

package text

// blockClassify: without vector instructions the byte-at-a-time
// AppendWords is faster than building masks a byte at a time.
const blockClassify = false

// classify64 is the portable classifier (see the amd64 version): one bit
// per byte of word bytes, letters, digits, ' . : , ' . , ; and
// non-ASCII bytes. It serves tests of the block path on any machine.
func classify64(p *[64]byte) (word, letter, digit, joinL, joinD, high uint64) {
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

func clearUpper() {}

func highMask64(p *[64]byte) (m uint64) {
	for i, c := range p {
		m |= uint64(c>>7) << uint(i)
	}
	return m
}
