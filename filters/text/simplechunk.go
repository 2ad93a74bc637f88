package text

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Word-break classes of the runes the simple-chunk path understands; a
// chunk holding any other rune goes to uniseg.
const (
	wbOther     = iota // punctuation and symbols without a join rule here
	wbLetter           // ALetter: ASCII letters and the two-byte letters of alphabetTable
	wbDigit            // ASCII digits (Numeric)
	wbUnder            // '_' (ExtendNumLet)
	wbMidLetter        // ':' joins letters
	wbMidNum           // ',' ';' join digits
	wbMidNumLet        // '.' '\'' U+2018 U+2019 U+2024 join either
	wbUnknown
)

// asciiWB is the class of each ASCII byte other than whitespace.
var asciiWB = func() (t [utf8.RuneSelf]uint8) {
	for c := range utf8.RuneSelf {
		switch cl := asciiTable[c]; {
		case cl == clsLetter:
			t[c] = wbLetter
		case cl == clsDigit:
			t[c] = wbDigit
		case cl == clsUnder:
			t[c] = wbUnder
		case c == ':':
			t[c] = wbMidLetter
		case c == ',' || c == ';':
			t[c] = wbMidNum
		case c == '.' || c == '\'':
			t[c] = wbMidNumLet
		}
	}
	return t
}()

// alphabetTable marks the two-byte code points (U+0080-U+07FF: Latin-1,
// Latin Extended, Greek, Cyrillic, Armenian, Arabic...) that are letters
// and that uniseg segments exactly as it does an ASCII letter: joined to
// letters and digits on either side, across ':' and '.' to letters,
// to '_', and without the Hebrew quote rules. It is built once by asking
// uniseg, so it follows the linked uniseg's tables rather than a copy of
// them; a letter that fails any probe (Hebrew letters, for one) keeps
// going to uniseg.
var alphabetTable = sync.OnceValue(func() *[0x800]bool {
	t := new([0x800]bool)
	for r := rune(0x80); r < 0x800; r++ {
		if !unicode.IsLetter(r) {
			continue
		}
		c := string(r)
		ok := true
		for _, p := range []struct {
			text string
			want []string
		}{
			{"a" + c + "a", []string{"a" + c + "a"}},
			{c + "1" + c, []string{c + "1" + c}},
			{"1" + c, []string{"1" + c}},
			{c + ":" + c + "." + c + "'" + c, []string{c + ":" + c + "." + c + "'" + c}},
			{"_" + c + "_", []string{"_" + c + "_"}},
			{c + "'", []string{c}},
			{c + "\"" + c, []string{c, c}},
			{c + ".1", []string{c, "1"}},
			{c + "," + c, []string{c, c}},
			{c, []string{c}},
		} {
			if !slices.Equal(appendUnicodeWords(nil, p.text), p.want) {
				ok = false
				break
			}
		}
		t[r] = ok
	}
	return t
})

// wbClass returns the class of the rune at s[i] and its width.
func wbClass(s string, i int, alpha *[0x800]bool) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiWB[c], 1
	}
	if c >= 0xc2 && c < 0xe0 && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
		if r := rune(c&0x1f)<<6 | rune(s[i+1]&0x3f); alpha[r] {
			return wbLetter, 2
		}
		return wbUnknown, 2
	}
	// U+2010-U+2026 (dashes, curly quotes, bullets, ellipsis): neither
	// Extend nor Format, so only their own class matters.
	if c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2] >= 0x90 && s[i+2] <= 0xa6 {
		switch s[i+2] {
		case 0x98, 0x99, 0xa4: // U+2018 U+2019 U+2024
			return wbMidNumLet, 3
		}
		return wbOther, 3
	}
	return wbUnknown, 1
}

// appendSimpleChunk segments a chunk (no ASCII whitespace) made only of
// ASCII, the letters of alphabetTable and U+2010-U+2026 with the UAX #29
// rules that apply to them (letters and digits join, '_' joins both, a
// joiner joins when the runes on both sides qualify, a word of only '_'
// is dropped), and reports false, appending nothing, for any other chunk.
func appendSimpleChunk(dst []string, s string) ([]string, bool) {
	alpha := alphabetTable()
	for i := 0; i < len(s); {
		cl, w := wbClass(s, i, alpha)
		if cl == wbUnknown {
			return dst, false
		}
		i += w
	}
	isWord := func(cl uint8) bool { return cl == wbLetter || cl == wbDigit || cl == wbUnder }
	for i := 0; i < len(s); {
		cl, w := wbClass(s, i, alpha)
		if !isWord(cl) {
			i += w
			continue
		}
		start, prev := i, cl
		i += w
		for i < len(s) {
			cl, w := wbClass(s, i, alpha)
			if isWord(cl) {
				prev = cl
				i += w
				continue
			}
			if cl == wbMidLetter || cl == wbMidNum || cl == wbMidNumLet {
				if i+w < len(s) {
					next, nw := wbClass(s, i+w, alpha)
					if prev == wbLetter && next == wbLetter && cl != wbMidNum ||
						prev == wbDigit && next == wbDigit && cl != wbMidLetter {
						prev = next
						i += w + nw
						continue
					}
				}
			}
			break
		}
		if word := s[start:i]; strings.Trim(word, "_") != "" {
			dst = append(dst, word)
		}
	}
	return dst, true
}
