package text

import (
	"math/bits"
	"unsafe"
)

// appendWordsBlocks is AppendWords over 64-byte blocks: classify64 turns
// a block into one bit per byte for each class, the UAX #29 joins become
// mask arithmetic, and words are read off the 0/1 transitions of the
// word mask with trailing-zero counts. The byte-at-a-time loop paid a
// branch misprediction at nearly every word end; here a block costs about
// one. The segments are exactly appendWordsScalar's:
//
//   - word bytes are letters, digits and '_';
//   - ' . : join letter-letter, and ' . , ; join digit-digit (a joiner
//     needs a word byte on each side, so whether a byte joins depends only
//     on its two neighbours, wherever a word starts);
//   - a word of only '_' is dropped;
//   - a chunk between ASCII whitespace that holds a non-ASCII byte is
//     segmented again, whole, by appendUnicodeWords.
func appendWordsBlocks(dst []string, s string) []string {
	n := len(s)
	if n == 0 {
		return dst
	}
	sp := unsafe.Pointer(unsafe.StringData(s))
	first := len(dst) // words before this call are never taken back
	var (
		prevL, prevD, prevM uint64 // bit 0: the byte before the block is a letter, digit, in a word
		inWord              bool   // a word started before this block and runs into it
		pend                int    // that word's start
		small               [64]byte
	)
	for i := 0; i < n; {
		var p *[64]byte
		var next byte // the byte after the block: 0 (no join) at the end
		shift := uint(0)
		switch {
		case n-i > 64:
			p = (*[64]byte)(unsafe.Add(sp, i))
			next = s[i+64]
		case n-i == 64:
			p = (*[64]byte)(unsafe.Add(sp, i))
		case n >= 64:
			// The last bytes: classify the final 64 and drop the bits of
			// the bytes already done.
			shift = uint(64 - (n - i))
			p = (*[64]byte)(unsafe.Add(sp, n-64))
		default:
			small = [64]byte{}
			copy(small[:], s[i:])
			p = &small
		}
		word, letter, digit, joinL, joinD, high := classify64(p)
		word >>= shift
		letter >>= shift
		digit >>= shift
		joinL >>= shift
		joinD >>= shift
		high >>= shift

		nextL, nextD := uint64(0), uint64(0)
		if next != 0 {
			c := asciiTable[next&0x7f]
			if next < 0x80 && c == clsLetter {
				nextL = 1
			}
			if next < 0x80 && c == clsDigit {
				nextD = 1
			}
		}
		m := word |
			joinL&(letter<<1|prevL)&(letter>>1|nextL<<63) |
			joinD&(digit<<1|prevD)&(digit>>1|nextD<<63)

		resume := -1
		if high != 0 {
			// The chunk around the first non-ASCII byte goes to
			// appendUnicodeWords: take back the words of its part in
			// earlier blocks, keep only the bits before it here.
			clearUpper()
			h := i + bits.TrailingZeros64(high)
			cs := h
			for cs > 0 && !IsASCIISpace(s[cs-1]) {
				cs--
			}
			for len(dst) > first && uintptr(unsafe.Pointer(unsafe.StringData(dst[len(dst)-1])))-uintptr(sp) >= uintptr(cs) {
				dst = dst[:len(dst)-1]
			}
			if cs <= i {
				inWord = false // that word is in the chunk
				m, prevM = 0, 0
			} else {
				m &= 1<<uint(cs-i) - 1
			}
			resume = cs
		}

		// Bits of t alternate word start, word end (exclusive).
		t := m ^ (m<<1 | prevM)
		if t != 0 {
			if inWord {
				end := i + bits.TrailingZeros64(t)
				t &= t - 1
				dst = appendWord(dst, s, pend, end)
				inWord = false
			}
			for t != 0 {
				start := i + bits.TrailingZeros64(t)
				t &= t - 1
				if t == 0 {
					pend, inWord = start, true
					break
				}
				end := i + bits.TrailingZeros64(t)
				t &= t - 1
				dst = appendWord(dst, s, start, end)
			}
		}
		if resume >= 0 {
			var end int
			dst, end = redoChunk(dst, s, resume, len(dst), resume)
			i = end
			prevL, prevD, prevM = 0, 0, 0
			inWord = false
			continue
		}
		prevL, prevD, prevM = letter>>63, digit>>63, m>>63
		i += 64 - int(shift)
	}
	if inWord {
		dst = appendWord(dst, s, pend, n)
	}
	clearUpper()
	return dst
}

// appendWord appends s[start:end] unless it is only '_' (no letter or
// digit: not a word).
func appendWord(dst []string, s string, start, end int) []string {
	w := s[start:end]
	if w[0] == '_' && onlyUnderscores(w) {
		return dst
	}
	return append(dst, w)
}

func onlyUnderscores(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] != '_' {
			return false
		}
	}
	return true
}
