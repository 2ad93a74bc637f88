package text

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello, world!", []string{"Hello", "world"}},
		{"don't stop 3.14 or 1,000 e.g. a_b", []string{"don't", "stop", "3.14", "or", "1,000", "e.g", "a_b"}},
		{"... -- !!", nil},
		{"中文是世界", []string{"中", "文", "是", "世", "界"}},
		{"東京タワーは", []string{"東", "京", "タワー", "は"}},
		{"Привет, мир!", []string{"Привет", "мир"}},
		{"café résumé", []string{"café", "résumé"}},
		{"The 北京 trip", []string{"The", "北", "京", "trip"}},
		{"", nil},
	} {
		got := Words(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
		if n := CountWords(c.in); n != len(c.want) {
			t.Errorf("CountWords(%q) = %d, want %d", c.in, n, len(c.want))
		}
	}
}

func TestLinesParagraphsSentences(t *testing.T) {
	if got := NonEmptyLines("\na\n\n\nb\n"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("NonEmptyLines = %q", got)
	}
	if got := Paragraphs("a\nb\n\n\nc\n\nd"); !reflect.DeepEqual(got, []string{"a\nb", "c", "d"}) {
		t.Errorf("Paragraphs = %q", got)
	}
	for in, want := range map[string]int{
		"One. Two! Three?":     3,
		"Pi is 3.14 exactly.":  1,
		"Wait... what?! Fine":  3,
		"这是第一句。这是第二句。":         2,
		"":                     0,
		"No terminator at all": 1,
	} {
		if got := CountSentences(in); got != want {
			t.Errorf("CountSentences(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzWords checks that the ASCII fast path agrees with the full UAX #29
// segmentation on ASCII input, and that words are substrings holding a
// letter or digit.
func FuzzWords(f *testing.F) {
	for _, s := range []string{"don't 3.14 e.g. a_b", "1,000;2 a:b x..y", "'a' \"b\" 1'2", "abc\tdef\nghi", "中文 text"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		words := Words(s)
		for _, w := range words {
			if !strings.Contains(s, w) || !wordLike(w) {
				t.Fatalf("bad word %q from %q", w, s)
			}
		}
		ascii := true
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				ascii = false
			}
		}
		if !ascii {
			return
		}
		var slow []string
		for _, chunk := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && asciiTable[r] == clsSpace }) {
			slow = appendUnicodeWords(slow, chunk)
		}
		if !reflect.DeepEqual(words, slow) && !(len(words) == 0 && len(slow) == 0) {
			t.Fatalf("fast path %q != uniseg %q for %q", words, slow, s)
		}
	})
}

func BenchmarkWordsASCII(b *testing.B) {
	s := strings.Repeat("The quick brown fox, who'd jumped 3.5 metres, landed. ", 2000)
	b.SetBytes(int64(len(s)))
	var buf []string
	for b.Loop() {
		buf = AppendWords(buf[:0], s)
	}
}

// TestParagraphsMatchRegexp checks Paragraphs against the regex split it
// implements (\n{2,}) on every string of up to 10 bytes over {a, \n}.
func TestParagraphsMatchRegexp(t *testing.T) {
	re := regexp.MustCompile(`\n{2,}`)
	for n := 0; n <= 10; n++ {
		for bitsv := 0; bitsv < 1<<n; bitsv++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a'
				if bitsv>>i&1 == 1 {
					b[i] = '\n'
				}
			}
			s := string(b)
			if got, want := Paragraphs(s), re.Split(s, -1); !reflect.DeepEqual(got, want) {
				t.Fatalf("Paragraphs(%q) = %q, want %q", s, got, want)
			}
		}
	}
}
