// Package text splits documents into words, lines, paragraphs and sentences
// for Kiln's filters. Words follow Unicode word boundaries (UAX #29), so
// Chinese, Japanese, Thai and other scripts without spaces split into real
// units; pure-ASCII stretches take a fast path that gives the same segments
// for ordinary text without the cost of the full Unicode state machine.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// asciiClass classifies an ASCII byte for the fast word path.
type asciiClass uint8

const (
	clsOther  asciiClass = iota
	clsSpace             // whitespace: always a boundary
	clsLetter            // A-Z a-z
	clsDigit             // 0-9
	clsUnder             // '_' (ExtendNumLet: joins letters and digits)
	clsMidLet            // ' . : — join letter-letter (and ' . join digits)
	clsMidNum            // , ; — join digit-digit only
)

var asciiTable = func() (t [128]asciiClass) {
	for c := 0; c < 128; c++ {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			t[c] = clsSpace
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			t[c] = clsLetter
		case c >= '0' && c <= '9':
			t[c] = clsDigit
		case c == '_':
			t[c] = clsUnder
		case c == '\'' || c == '.' || c == ':':
			t[c] = clsMidLet
		case c == ',' || c == ';':
			t[c] = clsMidNum
		}
	}
	return t
}()

// isWordByte reports whether an ASCII byte can be part of a word.
func isWordClass(c asciiClass) bool { return c == clsLetter || c == clsDigit || c == clsUnder }

// AppendWords appends the word-like segments of s to dst and returns it.
// A word-like segment is a UAX #29 word that holds at least one letter or
// number; runs of spaces and punctuation are not words. The strings share
// memory with s.
//
// ASCII text is segmented in a single pass with the UAX #29 rules that
// apply to ASCII (letters, digits and '_' join; ' . : join letters; . , ; '
// join digits). A chunk between ASCII whitespace that holds any non-ASCII
// byte is segmented again with the full algorithm (rivo/uniseg); UAX #29
// never joins across whitespace, so chunks are independent.
func AppendWords(dst []string, s string) []string {
	if blockClassify {
		return appendWordsBlocks(dst, s)
	}
	return appendWordsScalar(dst, s)
}

// appendWordsScalar is AppendWords one byte at a time, for machines
// without the vector classifier (see appendWordsBlocks).
func appendWordsScalar(dst []string, s string) []string {
	n := len(s)
	chunkStart, chunkDst := 0, len(dst)
	i := 0
	for i < n {
		switch byteKind[s[i]] {
		case kindSpace:
			i++
			chunkStart, chunkDst = i, len(dst)
			continue
		case kindOther:
			i++
			continue
		case kindNonASCII:
			dst, i = redoChunk(dst, s, chunkStart, chunkDst, i)
			chunkStart, chunkDst = i, len(dst)
			continue
		}
		start := i
		i++
		unicodeNext := false
		for {
			for i < n && byteKind[s[i]] == kindWord {
				i++
			}
			if i >= n {
				break
			}
			c := s[i]
			if c >= 0x80 {
				unicodeNext = true
				break
			}
			cl := asciiTable[c]
			if (cl == clsMidLet || cl == clsMidNum) && i+1 < n {
				next := s[i+1]
				if next >= 0x80 {
					unicodeNext = true
					break
				}
				prev := asciiTable[s[i-1]]
				nc := asciiTable[next]
				if prev == clsLetter && nc == clsLetter && cl == clsMidLet ||
					prev == clsDigit && nc == clsDigit && (cl == clsMidNum || c == '.' || c == '\'') {
					i += 2
					continue
				}
			}
			break
		}
		if unicodeNext {
			dst, i = redoChunk(dst, s, chunkStart, chunkDst, i)
			chunkStart, chunkDst = i, len(dst)
			continue
		}
		// A run of '_' alone is not a word: it holds no letter or digit.
		if s[start] != '_' || strings.Trim(s[start:i], "_") != "" {
			dst = append(dst, s[start:i])
		}
	}
	return dst
}

// byteKind sorts bytes for AppendWords' outer loop.
const (
	kindOther    = iota // ASCII punctuation and symbols
	kindSpace           // ASCII whitespace
	kindWord            // letters, digits, '_'
	kindNonASCII        // any byte >= 0x80
)

var byteKind = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 0x80:
			t[c] = kindNonASCII
		case asciiTable[c] == clsSpace:
			t[c] = kindSpace
		case isWordClass(asciiTable[c]):
			t[c] = kindWord
		}
	}
	return t
}()

// redoChunk drops the words already taken from the chunk starting at
// chunkStart and segments the whole chunk (to the next ASCII whitespace
// after i) with the full algorithm. It returns the chunk's end.
func redoChunk(dst []string, s string, chunkStart, chunkDst, i int) ([]string, int) {
	end := i
	for end < len(s) && !(s[end] < 0x80 && asciiTable[s[end]] == clsSpace) {
		end++
	}
	if d, ok := appendSimpleChunk(dst[:chunkDst], s[chunkStart:end]); ok {
		return d, end
	}
	return appendUnicodeWords(dst[:chunkDst], s[chunkStart:end]), end
}

// appendASCIIWords segments an ASCII chunk with no whitespace: letters,
// digits and '_' form words; ' . : join letters (don't, e.g) and . , ; '
// join digits (3.14, 1,000) as UAX #29 rules WB6/7 and WB11/12 do.
func appendASCIIWords(dst []string, s string) []string {
	n := len(s)
	i := 0
	for i < n {
		if !isWordClass(asciiTable[s[i]]) {
			i++
			continue
		}
		start := i
		i++
		for i < n {
			c := asciiTable[s[i]]
			if isWordClass(c) {
				i++
				continue
			}
			if (c == clsMidLet || c == clsMidNum) && i+1 < n {
				prev := asciiTable[s[i-1]]
				next := asciiTable[s[i+1]]
				if prev == clsLetter && next == clsLetter && c == clsMidLet && s[i] != '.' || // don't, a:b
					prev == clsLetter && next == clsLetter && s[i] == '.' || // e.g
					prev == clsDigit && next == clsDigit && (c == clsMidNum || s[i] == '.' || s[i] == '\'') {
					i += 2
					continue
				}
			}
			break
		}
		if w := s[start:i]; strings.Trim(w, "_") != "" {
			// A run of '_' alone is not a word: it holds no letter or digit.
			dst = append(dst, w)
		}
	}
	return dst
}

// appendUnicodeWords segments a chunk that holds non-ASCII text with the
// full UAX #29 algorithm.
func appendUnicodeWords(dst []string, s string) []string {
	state := -1
	var w string
	for len(s) > 0 {
		w, s, state = uniseg.FirstWordInString(s, state)
		if wordLike(w) {
			dst = append(dst, w)
		}
	}
	return dst
}

// wordLike reports whether a segment holds a letter or number.
func wordLike(w string) bool {
	for _, r := range w {
		if r < 0x80 {
			if c := asciiTable[r]; c == clsLetter || c == clsDigit {
				return true
			}
			continue
		}
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// Words returns the word-like segments of s.
func Words(s string) []string { return AppendWords(nil, s) }

// CountWords counts the word-like segments of s without keeping them.
func CountWords(s string) int {
	var buf [64]string
	// Segment in pieces so long texts need no large allocation.
	n := 0
	for len(s) > 0 {
		cut := len(s)
		if cut > 4096 {
			// Cut at whitespace so no word is split.
			cut = strings.IndexAny(s[4096:], " \n\t\r")
			if cut < 0 {
				cut = len(s)
			} else {
				cut += 4096
			}
		}
		n += len(AppendWords(buf[:0], s[:cut]))
		s = s[cut:]
	}
	return n
}

// HasWords reports whether s holds at least n words, stopping as soon as
// it has seen them. s is segmented in pieces of about 128 bytes cut at
// ASCII whitespace (UAX #29 never joins across it, so the pieces' words
// are s's words), which lets the fast segmenter run and a line that
// reaches n early stop there.
func HasWords(s string, n int) bool {
	if n <= 0 {
		return true
	}
	// 128 bytes hold at most 64 words (words are separated), so buf
	// seldom grows: only a piece extended by a long whitespace-free run.
	const piece = 128
	var buf [64]string
	seen := 0
	for len(s) > 0 {
		cut := len(s)
		if cut > piece {
			if k := indexASCIISpace(s[piece:]); k >= 0 {
				cut = piece + k
			}
		}
		seen += len(AppendWords(buf[:0], s[:cut]))
		if seen >= n {
			return true
		}
		s = s[cut:]
	}
	return false
}

// indexASCIISpace returns the index of the first ASCII whitespace byte in
// s, or -1.
func indexASCIISpace(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 && asciiTable[c] == clsSpace {
			return i
		}
	}
	return -1
}

// HasLetter reports whether w holds a letter in any script.
func HasLetter(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c < 0x80 {
			if asciiTable[c] == clsLetter {
				return true
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(w[i:])
		if unicode.IsLetter(r) {
			return true
		}
		i += size - 1
	}
	return false
}

// IsASCIISpace reports whether b is ASCII whitespace.
func IsASCIISpace(b byte) bool { return b < 0x80 && asciiTable[b] == clsSpace }

// TrimSpace trims ASCII and Unicode whitespace; it is strings.TrimSpace,
// named here so filters read uniformly.
func TrimSpace(s string) string { return strings.TrimSpace(s) }
