package tokenize

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// Character classes the pre-tokenizer scanners distinguish. They mirror
// what the HF regexes test: \p{L}, \p{N}, \s (split into [\r\n] and the
// rest) and everything else.
const (
	clsOther   uint8 = iota // not a letter, number or whitespace
	clsLetter               // \p{L}
	clsNumber               // \p{N}
	clsSpace                // \s other than \r and \n
	clsNewline              // \r or \n
)

// bmpClasses holds the class of every rune below U+10000, computed once on
// first use and never modified afterwards: a table lookup replaces the
// unicode package's range-table searches on the hot path.
var bmpClasses = sync.OnceValue(func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	for r := range t {
		t[r] = slowClass(rune(r))
	}
	return &t
})

// slowClass classifies one rune with the unicode package. \s in Oniguruma
// (which HF tokenizers use) is \t\n\v\f\r, U+0085 and the Zs/Zl/Zp
// categories, which is exactly unicode.IsSpace.
func slowClass(r rune) uint8 {
	switch {
	case r == '\r' || r == '\n':
		return clsNewline
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// asciiClasses is the class table for bytes below 0x80.
var asciiClasses = func() (t [128]uint8) {
	for i := range t {
		t[i] = slowClass(rune(i))
	}
	return
}()

// classifier looks up classes; it holds the BMP table so the hot path does
// not go through sync.OnceValue on every rune.
type classifier struct {
	bmp *[1 << 16]uint8
}

func newClassifier() classifier { return classifier{bmp: bmpClasses()} }

// at returns the class of the rune starting at s[i] and its width in bytes.
// Invalid UTF-8 bytes are one-byte runes of class other.
func (c classifier) at(s string, i int) (uint8, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClasses[b], 1
	}
	return c.atSlow(s, i)
}

// atSlow is at for non-ASCII runes, kept out of line so at inlines.
func (c classifier) atSlow(s string, i int) (uint8, int) {
	r, w := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && w == 1 {
		return clsOther, 1
	}
	if r < 1<<16 {
		return c.bmp[r], w
	}
	return slowClass(r), w
}

func isSpaceClass(c uint8) bool { return c == clsSpace || c == clsNewline }

// runEnd returns the end of the run of class cls starting at i.
func (c classifier) runEnd(s string, i int, cls uint8) int {
	for i < len(s) {
		b := s[i]
		if b < utf8.RuneSelf {
			if asciiClasses[b] != cls {
				return i
			}
			i++
			continue
		}
		k, w := c.at(s, i)
		if k != cls {
			return i
		}
		i += w
	}
	return i
}
