package filters

import (
	"encoding/json"
	"maps"
	"math"
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
		if g := s.groups[sc]; g == nil || len(g.langs) < min || g.keys < 300 {
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

// TestLangIndex checks the trigram index against the profiles: gids in
// key order, every alphabet trigram whatlanggo counts and every other
// profile trigram found under its own gid, and each gid's postings those
// of its trigram.
func TestLangIndex(t *testing.T) {
	s := sharedLangScorer()
	if s.fallback {
		t.Fatal("scorer falls back to whatlanggo")
	}
	if !slices.IsSorted(s.keys) || len(slices.Compact(slices.Clone(s.keys))) != len(s.keys) {
		t.Fatal("gid keys are not strictly ascending")
	}
	want := map[uint64][]posting{}
	nlang := 0
	for _, prof := range []map[whatlanggo.Lang][]string{wlLatin, wlCyrillic, wlArabic, wlDevanagari, wlEthiopic, wlHebrew} {
		langs := slices.Sorted(maps.Keys(prof))
		for _, l := range langs {
			for pos, tri := range prof[l] {
				if k, ok := packTrigramString(tri); ok {
					want[k] = append(want[k], makePosting(nlang, pos))
				}
			}
			nlang++
		}
	}
	if len(s.base) != nlang {
		t.Fatalf("%d languages, want %d", len(s.base), nlang)
	}
	gidOf := func(a, b, c rune) int {
		if inAlphabet(a, b, c) {
			switch g := s.asciiGid[int(alphaCode(a))<<10|int(alphaCode(b))<<5|int(alphaCode(c))]; g {
			case gidSkip:
				return -2
			case gidWide:
				t.Fatalf("alphabet trigram %q marked wide", string([]rune{a, b, c}))
			default:
				return int(g)
			}
		}
		return s.wideGid(a, b, c)
	}
	for c1 := range 27 {
		for c2 := range 27 {
			for c3 := range 27 {
				a, b, c := alphaRune(c1), alphaRune(c2), alphaRune(c3)
				g := gidOf(a, b, c)
				if !counted(a, b, c) {
					if g != -2 {
						t.Fatalf("%q: uncounted trigram has gid %d", string([]rune{a, b, c}), g)
					}
					continue
				}
				if g < 0 || s.keys[g] != packTrigram(a, b, c) {
					t.Fatalf("%q: gid %d", string([]rune{a, b, c}), g)
				}
			}
		}
	}
	for k, ps := range want {
		a, b, c := trigramRunes(k)
		g := gidOf(a, b, c)
		if g == -2 {
			continue // never counted, so never matched
		}
		if g < 0 || s.keys[g] != k {
			t.Fatalf("profile trigram %q: gid %d", string([]rune{a, b, c}), g)
		}
		in := s.info[g]
		if got := s.postings[in>>8 : in>>8+in&0xff]; !slices.Equal(got, ps) {
			t.Fatalf("profile trigram %q: postings %v, want %v", string([]rune{a, b, c}), got, ps)
		}
	}
	// Trigrams in no profile: no gid unless in the alphabet, no postings.
	for _, tri := range []string{"xq\u00e9", "\u00e9\u00e9\u00e9", "\x00ab", "\u4e2d\u6587 ", "zzq", "\U0001F600ab"} {
		rs := []rune(tri)
		g := gidOf(rs[0], rs[1], rs[2])
		k := packTrigram(rs[0], rs[1], rs[2])
		if _, inProfile := want[k]; inProfile {
			continue
		}
		if g >= 0 && s.info[g]&0xff != 0 {
			t.Errorf("%q: not in a profile but has postings", tri)
		}
		if g >= 0 && s.keys[g] != k || g < 0 && inAlphabet(rs[0], rs[1], rs[2]) {
			t.Errorf("%q: gid %d", tri, g)
		}
	}
}

// TestLangScratchReset checks that a call leaves the scratch zeroed, also
// on the early returns, so results do not depend on earlier calls.
func TestLangScratchReset(t *testing.T) {
	s := sharedLangScorer()
	tc := newTrigramCounter(4)
	for _, text := range []string{"The quick brown fox, é\x00ü zzz", "漢字とかな abc", "1234", "Привет мир ab"} {
		s.detect(text, whatlanggo.Options{}, tc)
		if slices.ContainsFunc(tc.cnt, func(c uint32) bool { return c != 0 }) ||
			slices.ContainsFunc(tc.bits, func(w uint64) bool { return w != 0 }) ||
			slices.ContainsFunc(tc.top, func(w uint64) bool { return w != 0 }) ||
			slices.ContainsFunc(tc.hist, func(n int32) bool { return n != 0 }) ||
			len(tc.used) != 0 || slices.ContainsFunc(tc.slots, func(c countSlot) bool { return c != countSlot{} }) {
			t.Fatalf("scratch not reset after %q", text)
		}
	}
}

// TestLanguageLongRepeats compares on texts whose trigram counts are large.
func TestLanguageLongRepeats(t *testing.T) {
	s := sharedLangScorer()
	tc := newTrigramCounter(16)
	for _, text := range []string{strings.Repeat("a", 70000), strings.Repeat("ab ", 70000), strings.Repeat("é", 70000), strings.Repeat("the cat ", 9000) + strings.Repeat("x\u00e9y ", 9000)} {
		sameAsWhatlang(t, s, tc, text, whatlanggo.Options{})
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
