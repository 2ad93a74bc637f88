package text

import (
	"math/bits"
	"unicode/utf8"
	"unsafe"

	"github.com/kilnlm/kiln/internal/swar"
)

// RuneCount counts the code points of s as utf8.RuneCountInString does
// (an invalid byte counts as one) and as Python's len counts characters.
// Web text is mostly ASCII with a few curly quotes, so it goes 64 bytes
// at a time: every byte counts one, less the continuation bytes of the
// runes decoded at the block's non-ASCII bytes.
func RuneCount(s string) int {
	if !blockClassify || len(s) < 64 {
		return runeCountScalar(s)
	}
	sp := unsafe.Pointer(unsafe.StringData(s))
	n := 0
	for i := 0; i < len(s); {
		var h uint64
		width := 64
		if len(s)-i >= 64 {
			h = highMask64((*[64]byte)(unsafe.Add(sp, i)))
		} else {
			// The last bytes: the final 64, less those already counted.
			width = len(s) - i
			h = highMask64((*[64]byte)(unsafe.Add(sp, len(s)-64))) >> uint(64-width)
		}
		for h != 0 {
			p := bits.TrailingZeros64(h)
			_, size := utf8.DecodeRuneInString(s[i+p:])
			n -= size - 1
			if p+size >= width {
				// The rune ends the block or runs on into the next.
				width = p + size
				break
			}
			h &^= 1<<uint(p+size) - 1
		}
		n += width
		i += width
	}
	clearUpper()
	return n
}

// runeCountScalar is RuneCount without vectors: ASCII eight bytes at a
// time.
func runeCountScalar(s string) int {
	n, i := 0, 0
	for i < len(s) {
		if i+8 <= len(s) {
			if swar.Load8(s, i)&swar.High == 0 {
				n += 8
				i += 8
				continue
			}
		}
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		n++
		i += size
	}
	return n
}
