package dedup

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// simplify appends to dst the MinHash normal form of s: datatrove's text
// simplification (lowercase, punctuation and symbols removed, every digit
// turned into '0', accents stripped) followed by Unicode-aware word
// splitting. Words are written separated by exactly one space, so a shingle
// of n words is one contiguous byte span of dst and can be hashed in place.
// Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer,
// Myanmar) make every character its own word, so those texts still get
// meaningful shingles instead of one giant "word" per line.
//
// starts receives the byte offset of each word in dst; the returned slices
// reuse the capacity of the ones passed in.
func simplify(dst []byte, starts []int, s string) ([]byte, []int) {
	w := wordWriter{dst: dst[:0], starts: starts[:0]}
	if isASCII(s) {
		// Already in NFD form: skip the normaliser, the hot path for
		// English web text.
		for i := 0; i < len(s); i++ {
			w.ascii(s[i])
		}
		return w.dst, w.starts
	}
	// NFD splits precomposed letters into base + combining marks; dropping
	// the marks (category Mn) removes accents without a lookup table.
	var it norm.Iter
	it.InitString(norm.NFD, s)
	for !it.Done() {
		seg := it.Next()
		for len(seg) > 0 {
			r, n := utf8.DecodeRune(seg)
			seg = seg[n:]
			if r < utf8.RuneSelf {
				w.ascii(byte(r))
			} else {
				w.other(r)
			}
		}
	}
	return w.dst, w.starts
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// wordWriter accumulates simplified words separated by single spaces.
type wordWriter struct {
	dst    []byte
	starts []int
	inWord bool
}

func (w *wordWriter) begin() {
	if len(w.starts) > 0 {
		w.dst = append(w.dst, ' ')
	}
	w.starts = append(w.starts, len(w.dst))
}

func (w *wordWriter) ascii(c byte) {
	switch {
	case c >= 'a' && c <= 'z':
	case c >= 'A' && c <= 'Z':
		c += 'a' - 'A'
	case c >= '0' && c <= '9':
		c = '0'
	case c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
		w.inWord = false
		return
	default:
		// ASCII punctuation, symbols and controls vanish without breaking
		// the word, as in datatrove ("don't" -> "dont").
		return
	}
	if !w.inWord {
		w.begin()
		w.inWord = true
	}
	w.dst = append(w.dst, c)
}

func (w *wordWriter) other(r rune) {
	switch {
	case unicode.Is(unicode.Mn, r):
		return
	case unicode.IsSpace(r):
		w.inWord = false
		return
	case unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) || unicode.In(r, unicode.Me, unicode.Mc, unicode.Cf):
		return
	}
	if unicode.IsNumber(r) {
		r = '0'
	} else {
		r = unicode.ToLower(r)
	}
	single := isSingleCharWord(r)
	if !w.inWord || single {
		w.begin()
	}
	w.dst = utf8.AppendRune(w.dst, r)
	w.inWord = !single
}

// isSingleCharWord reports whether r belongs to a script written without
// spaces between words.
func isSingleCharWord(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// lightNormalize returns the form exact and line dedup hash: Unicode NFC,
// lowercase, runs of white space collapsed to one space, trimmed. It keeps
// punctuation and digits, so "page 1" and "page 2" stay distinct. Runs of
// ASCII bytes that the rules leave alone are copied whole; only spaces,
// capitals and non-ASCII runes are looked at one by one.
func lightNormalize(b *strings.Builder, s string) string {
	b.Reset()
	s = norm.NFC.String(s)
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			j := i
			for j < len(s) && asciiKept[s[j]] {
				j++
			}
			if j > i {
				if space {
					b.WriteByte(' ')
					space = false
				}
				b.WriteString(s[i:j])
				i = j
				continue
			}
			i++
			if asciiSpace[c] {
				space = b.Len() > 0
				continue
			}
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteByte(c + 'a' - 'A') // not kept and not a space: a capital
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// asciiSpace marks the ASCII bytes unicode.IsSpace accepts; asciiKept the
// ASCII bytes lightNormalize copies unchanged (neither space nor capital).
var asciiSpace, asciiKept = func() (space, kept [256]bool) {
	for c := range utf8.RuneSelf {
		space[c] = unicode.IsSpace(rune(c))
		kept[c] = !space[c] && !('A' <= c && c <= 'Z')
	}
	return space, kept
}()
