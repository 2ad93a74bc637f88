package text

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kilnlm/kiln/internal/shareddata"
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

// FuzzWords checks that the fast paths (ASCII, and chunks whose only
// non-ASCII runes are general punctuation) agree with the full UAX #29
// segmentation on any valid UTF-8 input, and that words are substrings
// holding a letter or digit.
func FuzzWords(f *testing.F) {
	for _, s := range []string{"don't 3.14 e.g. a_b", "1,000;2 a:b x..y", "'a' \"b\" 1'2", "abc\tdef\nghi", "中文 text",
		"it’s “quoted”—a‘b 1’2 3‘4 x․y 5․6 a’’b a’ ’a ’ _’_ a’_ 1’a a’1 … •item –– ‧ a‧b ‥ a‥b a\u2027b",
		"\u2010\u2011\u2017\u201a\u2023\u2025\u2026\u2027\u200f\u2028 a\u200db a\u00adb a’\u0301b",
		"Größe: 3,5 m² — café’s naïve façade; Über-Straße l’été Ж.Б. Привет,мир ωμέγα·x אב'ג ١٢ é\u0301e"} {
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

// FuzzSegmenters checks AppendWords and the block path against the
// scalar path (the byte-at-a-time algorithm that FuzzWords holds to
// uniseg) on any input, invalid UTF-8 included, appending
// to a non-empty dst (the block path takes back words of a non-ASCII
// chunk and must not take earlier ones).
func FuzzSegmenters(f *testing.F) {
	for _, s := range segmenterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkSegmenters(t, s) })
}

var segmenterSeeds = []string{
	"", "a", "_", "__ _a_ a_ 1_2 ___", "don't 3.14 e.g. a_b", "1,000;2 a:b x..y", "'a' \"b\" 1'2",
	"abc\tdef\nghi\v\fjkl\r", "中文 text", "don’t “quoted” — dash… 1’000 café",
	"\xff\xfe broken \xc3 utf8 a\xe2\x80 x\x80y", "a.\xc3\xa9 1.\xe2\x80\x99 x\xe2\x80\x99s",
	strings.Repeat("ab ", 21) + "a.b", strings.Repeat("x", 63) + ".y 1,2",
	strings.Repeat("x", 64) + "é" + strings.Repeat(" y", 40),
	strings.Repeat("word ", 30) + "naïve" + strings.Repeat("1.2 ", 30) + "ü",
	"it’s “quoted”—a‘b 1’2 3‘4 x․y 5․6 a’’b a’ ’a ’ _’_ a’_ 1’a a’1 … •item –– ‧ a‧b ‥ a‥b a\u2027b",
	"\u2010\u2011\u2017\u201a\u2023\u2025\u2026\u2027\u200f\u2028 a\u200db a\u00adb a’\u0301b x\xe2\x80 y\xe2 z\xe2\x80\x99",
}

func checkSegmenters(t *testing.T, s string) {
	t.Helper()
	want := appendWordsScalar([]string{"keep"}, s)
	for _, c := range []struct {
		name string
		f    func([]string, string) []string
	}{{"AppendWords", AppendWords}, {"blocks", appendWordsBlocks}} {
		if got := c.f([]string{"keep"}, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s(%q) = %q, want %q", c.name, s, got, want)
		}
	}
}

// TestSegmenters runs checkSegmenters on the seeds at every offset and
// length, so each lands on every position of a 64-byte block.
func TestSegmenters(t *testing.T) {
	var all strings.Builder
	for _, s := range segmenterSeeds {
		checkSegmenters(t, s)
		all.WriteString(s)
		all.WriteByte(' ')
	}
	s := all.String()
	for i := 0; i < 70; i++ {
		for j := i; j <= len(s); j += 1 + j%7 {
			checkSegmenters(t, s[i:j])
		}
	}
}

// FuzzRuneCount checks RuneCount against utf8.RuneCountInString, the
// input repeated so that runes straddle 64-byte blocks.
func FuzzRuneCount(f *testing.F) {
	for _, s := range segmenterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, s := range []string{s, strings.Repeat(s, 7), strings.Repeat("a", 61) + s + strings.Repeat(s, 64)} {
			if got, want := RuneCount(s), utf8.RuneCountInString(s); got != want {
				t.Fatalf("RuneCount(%q) = %d, want %d", s, got, want)
			}
		}
	})
}

func TestRuneCount(t *testing.T) {
	s := strings.Join(segmenterSeeds, "\xf0\x9f") + strings.Repeat("é\xe2\x80", 50)
	for i := 0; i < 70; i++ {
		for j := i; j <= len(s); j++ {
			if got, want := RuneCount(s[i:j]), utf8.RuneCountInString(s[i:j]); got != want {
				t.Fatalf("RuneCount(%q) = %d, want %d", s[i:j], got, want)
			}
		}
	}
}

// TestWordsMatchUnisegRealText holds the fast paths to the full UAX #29
// segmentation on real web pages (curly quotes, dashes and ellipses are
// common there) and the multilingual strings.
func TestWordsMatchUnisegRealText(t *testing.T) {
	var texts []string
	for _, f := range []string{"dclm_labeled.jsonl", "cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"} {
		data, err := os.ReadFile(shareddata.Path(t, "corpus", "web", f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var rec struct{ Text string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s:%d: %v", f, i+1, err)
			}
			texts = append(texts, rec.Text)
		}
	}
	data, err := os.ReadFile(shareddata.Path(t, "tokenizers", "groundtruth", "multilingual_inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var multi []struct{ Text string }
	if err := json.Unmarshal(data, &multi); err != nil {
		t.Fatal(err)
	}
	for _, m := range multi {
		texts = append(texts, m.Text)
	}
	nonASCII := 0
	for _, s := range texts {
		var slow []string
		for _, chunk := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && asciiTable[r] == clsSpace }) {
			slow = appendUnicodeWords(slow, chunk)
			if strings.IndexFunc(chunk, func(r rune) bool { return r >= 0x80 }) >= 0 {
				nonASCII++
			}
		}
		if words := Words(s); !reflect.DeepEqual(words, slow) && !(len(words) == 0 && len(slow) == 0) {
			t.Fatalf("fast paths differ from uniseg on %q", s[:min(len(s), 200)])
		}
	}
	if len(texts) < 500 || nonASCII < 1000 {
		t.Fatalf("too little real text checked: %d texts, %d non-ASCII chunks", len(texts), nonASCII)
	}
}

// checkHasWords holds HasWords to the full word count for every n around
// it.
func checkHasWords(t *testing.T, s string) {
	t.Helper()
	total := len(Words(s))
	for _, n := range []int{-1, 0, 1, 2, 3, total - 1, total, total + 1, total / 2, 65, 200} {
		if got, want := HasWords(s, n), total >= n; got != want {
			t.Fatalf("HasWords(%q, %d) = %v, but it has %d words", s[:min(len(s), 200)], n, got, total)
		}
	}
}

func TestHasWords(t *testing.T) {
	long := strings.Repeat("a,", 300) + " " + strings.Repeat("word ", 100)
	cases := append([]string{long, strings.Repeat("x", 500) + " y z", strings.Repeat("é ", 200), strings.Repeat(" \t\n", 100)}, segmenterSeeds...)
	for _, s := range cases {
		checkHasWords(t, s)
		for cut := 100; cut < len(s); cut += 37 {
			checkHasWords(t, s[:cut])
			checkHasWords(t, s[cut:])
		}
	}
}

func FuzzHasWords(f *testing.F) {
	for _, s := range segmenterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkHasWords(t, s)
		checkHasWords(t, strings.Repeat(s+" ", 9))
	})
}

// TestAlphabetTable: the two-byte letters uniseg treats as ASCII letters
// are found, and the ones with other rules are not.
func TestAlphabetTable(t *testing.T) {
	tab := alphabetTable()
	n := 0
	for _, ok := range tab {
		if ok {
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d two-byte letters take the simple path", n)
	}
	for _, r := range "éßñøŁžΩωЖяԱبث" {
		if !tab[r] {
			t.Errorf("%q (%U) should take the simple path", r, r)
		}
	}
	// Middle dot (MidLetter), soft hyphen (Format), a combining accent
	// (Extend), Hebrew alef (Hebrew_Letter quote rules), a non-ASCII
	// digit.
	for _, r := range "\u00b7\u00ad\u0301\u05d0\u0660" {
		if tab[r] {
			t.Errorf("%U must go to uniseg", r)
		}
	}
}

// TestSimpleChunkEveryTwoByteRune segments every two-byte rune in the
// contexts the join rules look at, against uniseg.
func TestSimpleChunkEveryTwoByteRune(t *testing.T) {
	for r := rune(0x80); r < 0x800; r++ {
		c := string(r)
		for _, s := range []string{c, "a" + c, c + "a", "1" + c + "2", "a'" + c, c + "'a", c + "." + c, "x" + c + ":" + c,
			c + "_", "_" + c, c + "…", "‘" + c + "’", c + "’s", "é" + c + "é", c + ",1", "1," + c, c + "\"" + c, c + c + c} {
			var slow []string
			for _, chunk := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && asciiTable[r] == clsSpace }) {
				slow = appendUnicodeWords(slow, chunk)
			}
			if got := Words(s); !reflect.DeepEqual(got, slow) && !(len(got) == 0 && len(slow) == 0) {
				t.Fatalf("Words(%q) = %q, uniseg %q", s, got, slow)
			}
		}
	}
}

// europeanText is prose in French, German, Spanish and Russian: letters
// outside ASCII in most words, the case the simple-chunk path serves.
const europeanText = "Le comité s’est réuni mardi et a décidé que la nouvelle bibliothèque ouvrirait au printemps, avec des horaires prolongés pour les étudiants. " +
	"Die Straße vor dem Rathaus wird im Frühjahr erneuert; die Bürger können währenddessen über die Brücke gehen. " +
	"El niño compró pan en la panadería de la esquina y volvió a casa después de las once. " +
	"Комитет собрался во вторник и решил, что новая библиотека откроется весной, а часы работы будут длиннее. "

func BenchmarkWordsEuropean(b *testing.B) {
	s := strings.Repeat(europeanText, 200)
	b.SetBytes(int64(len(s)))
	var buf []string
	for b.Loop() {
		buf = AppendWords(buf[:0], s)
	}
}
