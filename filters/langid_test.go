package filters

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/abadojack/whatlanggo"

	"github.com/kilnlm/kiln/internal/shareddata"
)

// sameAsWhatlang checks Kiln's scorer against whatlanggo, the reference,
// on one text and options: same language, same script, same confidence
// (within 1e-12; in practice bit-identical). The one allowed difference is
// a tie for the best distance, where whatlanggo's choice depends on Go map
// iteration order (it changes from run to run) and its confidence is 0:
// there whatlanggo's language must be one of the tied ones.
func sameAsWhatlang(tb testing.TB, s *langScorer, tc *trigramCounter, text string, opts whatlanggo.Options) bool {
	tb.Helper()
	want := whatlanggo.DetectWithOptions(text, opts)
	got := s.detect(text, opts, tc)
	if got.script != want.Script {
		tb.Errorf("script differs on %q: got %v, whatlanggo %v", clip(text), got.script, want.Script)
		return false
	}
	if math.Abs(got.confidence-want.Confidence) > 1e-12 {
		tb.Errorf("confidence differs on %q: got %v (%v), whatlanggo %v (%v)", clip(text), got.confidence, got.lang, want.Confidence, want.Lang)
		return false
	}
	if got.lang != want.Lang {
		if len(got.tied) > 1 && slices.Contains(got.tied, want.Lang) && got.confidence == 0 {
			return true
		}
		tb.Errorf("language differs on %q: got %v, whatlanggo %v (confidence %v, tied %v)", clip(text), got.lang, want.Lang, got.confidence, got.tied)
		return false
	}
	return true
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func TestLangScorerUsesProfiles(t *testing.T) {
	s := sharedLangScorer()
	if s.fallback {
		t.Fatal("whatlanggo's profiles were not found: the scorer falls back to whatlanggo (check the go:linkname names against the whatlanggo version)")
	}
	for sc, min := range map[int]int{scLatin: 40, scCyrillic: 5, scArabic: 3, scDevanagari: 3, scEthiopic: 2, scHebrew: 2} {
		if g := s.groups[sc]; g == nil || len(g.langs) < min || len(g.index) < 300 {
			t.Errorf("script %d: profile group too small: %+v", sc, g)
		}
	}
}

// TestLanguageMatchesWhatlangWeb compares on every document of the web
// corpora: the whole text, the filter's default sample and cuts at
// arbitrary byte offsets (which split runes).
func TestLanguageMatchesWhatlangWeb(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(shareddata.Dir(t), "corpus", "web", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no web corpus files: %v", err)
	}
	s := sharedLangScorer()
	tc := newTrigramCounter(16)
	lang, _ := NewLanguage(*DefaultLanguageConfig())
	docs, bad := 0, 0
	for _, f := range files {
		readJSONL(t, f, func(rec map[string]any) {
			text, _ := rec["text"].(string)
			docs++
			cases := []string{text, lang.sample(text)}
			for _, n := range []int{1, 7, 61, 333, 2500} {
				if n < len(text) {
					cases = append(cases, text[:n], text[len(text)-n:])
				}
			}
			for _, c := range cases {
				if !sameAsWhatlang(t, s, tc, c, whatlanggo.Options{}) {
					bad++
				}
			}
		})
		if bad > 10 {
			t.Fatalf("%d differences, stopping", bad)
		}
	}
	t.Logf("%d web documents compared", docs)
	if docs < 500 {
		t.Errorf("only %d web documents", docs)
	}
}

// TestLanguageMatchesWhatlangMultilingual compares on every string of
// multilingual_inputs.json, alone, in pairs (mixed scripts exercise the
// script vote and its tie rules) and with whitelist/blacklist options.
func TestLanguageMatchesWhatlangMultilingual(t *testing.T) {
	b, err := os.ReadFile(shareddata.Path(t, "tokenizers", "groundtruth", "multilingual_inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var items []struct{ ID, Text string }
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatal(err)
	}
	if len(items) < 20 {
		t.Fatalf("only %d multilingual strings", len(items))
	}
	s := sharedLangScorer()
	tc := newTrigramCounter(16)
	optsList := []whatlanggo.Options{
		{},
		{Whitelist: map[whatlanggo.Lang]bool{whatlanggo.Eng: true, whatlanggo.Deu: true, whatlanggo.Rus: true, whatlanggo.Ukr: true}},
		{Whitelist: map[whatlanggo.Lang]bool{whatlanggo.Fra: true}},
		{Blacklist: map[whatlanggo.Lang]bool{whatlanggo.Eng: true, whatlanggo.Bul: true, whatlanggo.Heb: true}},
	}
	for _, it := range items {
		for _, o := range optsList {
			sameAsWhatlang(t, s, tc, it.Text, o)
		}
		for _, other := range items {
			sameAsWhatlang(t, s, tc, it.Text+" "+other.Text, whatlanggo.Options{})
		}
	}
}

// TestLanguageMatchesWhatlangEdges covers the branches the corpora rarely
// reach: no letters, one letter, kana with Han, ties, control bytes,
// invalid UTF-8, scripts mapped to one language.
func TestLanguageMatchesWhatlangEdges(t *testing.T) {
	s := sharedLangScorer()
	tc := newTrigramCounter(16)
	for _, text := range []string{
		"", " ", "1234 !!", "a", "ab", "zzz qqq xxx", "\x00\x01ab\x7f", "\xff\xfeabc\xc3", "é",
		"漢字とかな", "漢字漢字漢字か", "中文文本", "Ελληνικά", "ქართული", "한국어", "ภาษาไทย",
		"Привет мир", "Здравейте свят", "שלום עולם", "שלום וועלט", "ሰላም ዓለም", "नमस्ते दुनिया",
		"مرحبا بالعالم", "سلام دنیا", "abc αβγ абв", "The the THE tHe", "À Á Â Ã Ä",
		"xyz\u00a0xyz\u2003xyz", "e\u0301e\u0301", "ǅemal ǈubav",
	} {
		sameAsWhatlang(t, s, tc, text, whatlanggo.Options{})
		sameAsWhatlang(t, s, tc, text, whatlanggo.Options{Whitelist: map[whatlanggo.Lang]bool{whatlanggo.Eng: true}})
		sameAsWhatlang(t, s, tc, text, whatlanggo.Options{Blacklist: map[whatlanggo.Lang]bool{whatlanggo.Eng: true}})
	}
}

// FuzzLanguageMatchesWhatlang: on any input, the scorer agrees with
// whatlanggo (up to its random pick among tied languages).
func FuzzLanguageMatchesWhatlang(f *testing.F) {
	for _, seed := range []string{
		"", "a", "The quick brown fox jumps over the lazy dog.", "Le comité s'est réuni mardi.",
		"Привет, мир!", "漢字とかな", "\xff\x00abc", "שלום", "नमस्ते", "ab ab ab ab",
	} {
		f.Add(seed)
	}
	s := sharedLangScorer()
	f.Fuzz(func(t *testing.T, text string) {
		sameAsWhatlang(t, s, newTrigramCounter(4), text, whatlanggo.Options{})
	})
}

func BenchmarkLanguageScorer(b *testing.B) {
	docs, _ := benchCorpus(b, 4<<20)
	lang, _ := NewLanguage(*DefaultLanguageConfig())
	var total int64
	samples := make([]string, len(docs))
	for i, d := range docs {
		samples[i] = lang.sample(d)
		total += int64(len(samples[i]))
	}
	s := sharedLangScorer()
	tc := newTrigramCounter(1024)
	b.Run("kiln", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			for _, x := range samples {
				s.detect(x, whatlanggo.Options{}, tc)
			}
		}
	})
	b.Run("whatlanggo", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			for _, x := range samples {
				whatlanggo.Detect(x)
			}
		}
	})
}

func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tmp []uint64
	for _, n := range []int{0, 1, 63, 64, 65, 400, 3000} {
		for _, ascii := range []bool{true, false} {
			keys := make([]uint64, n)
			for i := range keys {
				if ascii {
					keys[i] = packTrigram(rune(rng.IntN(128)), rune(rng.IntN(128)), rune(rng.IntN(128)))
				} else {
					keys[i] = packTrigram(rune(rng.IntN(0x110000)), rune(rng.IntN(300)), rune(rng.IntN(128)))
				}
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			tmp = radixSort(keys, tmp)
			if !slices.Equal(keys, want) {
				t.Fatalf("n=%d ascii=%v: radixSort differs from slices.Sort", n, ascii)
			}
		}
	}
}

func TestRuneLen(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefgh", "abcdefghi", "héllo wörld, “quoted” text here", "\xff\xfe\x80abcdefgh\xc3", "日本語のテキストabcdefgh", strings.Repeat("x€", 50)} {
		if got, want := runeLen(s), utf8.RuneCountInString(s); got != want {
			t.Errorf("runeLen(%q) = %d, want %d", s, got, want)
		}
	}
}

func FuzzRuneLen(f *testing.F) {
	f.Add("héllo “x” abcdefghijkl")
	f.Add("\xff\xfe\x80abcdefgh\xc3")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := runeLen(s), utf8.RuneCountInString(s); got != want {
			t.Fatalf("runeLen(%q) = %d, want %d", s, got, want)
		}
	})
}

// TestLanguageFilterMatchesWhatlang runs the language filter as the web
// recipe configures it, once with Kiln's scorer and once calling
// whatlanggo, on every web document as it reaches the filter (after the
// heuristic chain, which rewrites text) and as it is: same verdict, same
// language and score metadata.
func TestLanguageFilterMatchesWhatlang(t *testing.T) {
	fast, _ := NewLanguage(LanguageConfig{Languages: []string{"en"}, LanguageThreshold: 0.65, SampleChars: 1000})
	ref, _ := NewLanguage(LanguageConfig{Languages: []string{"en"}, LanguageThreshold: 0.65, SampleChars: 1000})
	ref.score = &langScorer{fallback: true}
	heur := buildChain(t, webHeuristics())
	n := 0
	for _, s := range webDocs(t) {
		texts := []string{s}
		if d := docOf(s); runChain(heur, d) == "" {
			texts = append(texts, d.Text)
		}
		for _, x := range texts {
			a, b := docOf(x), docOf(x)
			ra, rb := fast.Apply(a), ref.Apply(b)
			if ra != rb || a.Meta["language"] != b.Meta["language"] || a.Meta["language_score"] != b.Meta["language_score"] {
				t.Fatalf("%q: scorer %q %v %v, whatlanggo %q %v %v", clip(x), ra, a.Meta["language"], a.Meta["language_score"], rb, b.Meta["language"], b.Meta["language_score"])
			}
			n++
		}
	}
	if n < 900 {
		t.Errorf("only %d documents compared", n)
	}
}
