package filters

import (
	"strings"
	"testing"
)

func TestGopherRepetition(t *testing.T) {
	// only builds a filter with a single rule enabled, so each row tests
	// one threshold in isolation.
	only := func(mod func(*GopherRepetitionConfig)) *GopherRepetition {
		c := &GopherRepetitionConfig{TopNGrams: map[int]float64{}, DupNGrams: map[int]float64{}}
		mod(c)
		g, err := NewGopherRepetition(*c)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	// units returns n distinct 20-char units plus d copies of the first.
	units := func(n, d int, sep string) string {
		u := uniqueWords(n, 'u')
		out := make([]string, 0, n+d)
		for _, w := range u {
			out = append(out, strings.Repeat(w, 5))
		}
		for range d {
			out = append(out, out[0])
		}
		return strings.Join(out, sep)
	}
	// Paragraph and line counts: 10 units, d repeats -> d/10.
	runCases(t, only(func(c *GopherRepetitionConfig) { c.DupParaFrac = 0.3 }), []filterCase{
		{"dup_para_frac", units(6, 4, "\n\n"), nil, "dup_para_frac"},
		{"dup_para_frac_inside", units(7, 3, "\n\n"), nil, ""},
	})
	runCases(t, only(func(c *GopherRepetitionConfig) { c.DupLineFrac = 0.3 }), []filterCase{
		{"dup_line_frac", units(6, 4, "\n"), nil, "dup_line_frac"},
		{"dup_line_frac_inside", units(7, 3, "\n"), nil, ""},
		{"dup_line_frac_blank_lines_ignored", units(7, 3, "\n\n\n"), nil, ""},
	})
	// Chars: 20 units of 20 chars: 4 repeats = 80/438 (0.18), 5 = 100/438.
	runCases(t, only(func(c *GopherRepetitionConfig) { c.DupParaCharFrac = 0.2 }), []filterCase{
		{"dup_para_char_frac", units(15, 5, "\n\n"), nil, "dup_para_char_frac"},
		{"dup_para_char_frac_inside", units(16, 4, "\n\n"), nil, ""},
	})
	runCases(t, only(func(c *GopherRepetitionConfig) { c.DupLineCharFrac = 0.2 }), []filterCase{
		{"dup_line_char_frac", units(15, 5, "\n"), nil, "dup_line_char_frac"},
		{"dup_line_char_frac_inside", units(16, 4, "\n"), nil, ""},
	})
	filler := uniqueWords(100, 'f')
	// ngramText repeats phrase r times, then 100 unique filler words.
	ngramText := func(phrase string, r int) string {
		return strings.Join(append(rep(phrase, r), filler...), " ")
	}
	for _, tc := range []struct {
		n          int
		top        bool
		frac       float64
		phrase     string
		pass, fail int // repeats just inside and just over the threshold
	}{
		{2, true, 0.20, "ab cd", 26, 27},                         // 130/655=.198, 135/661=.204
		{3, true, 0.18, "ab cd ef", 14, 15},                      // 112/625=.179, 120/634=.189
		{4, true, 0.16, "ab cd ef gh", 8, 9},                     // 88/595=.148, 99/607=.163
		{5, false, 0.15, "pa pb pc pd pe", 10, 11},               // 90/649=.139, 100/664=.151
		{10, false, 0.10, "pa pb pc pd pe pf pg ph pi pj", 4, 5}, // 60/619=.097, 80/649=.123
	} {
		g := only(func(c *GopherRepetitionConfig) {
			if tc.top {
				c.TopNGrams[tc.n] = tc.frac
			} else {
				c.DupNGrams[tc.n] = tc.frac
			}
		})
		reason := "duplicated_" + itoa(tc.n) + "_n_grams"
		if tc.top {
			reason = "top_" + itoa(tc.n) + "_gram"
		}
		runCases(t, g, []filterCase{
			{reason, ngramText(tc.phrase, tc.fail), nil, reason},
			{reason + "_inside", ngramText(tc.phrase, tc.pass), nil, ""},
		})
	}
	// The defaults keep ordinary prose.
	g, _ := NewGopherRepetition(*DefaultGopherRepetitionConfig())
	runCases(t, g, []filterCase{{"prose", strings.Join(uniqueWords(300, 'w'), " "), nil, ""}, {"empty", "", nil, ""}})
}

func itoa(n int) string {
	if n >= 10 {
		return string(rune('0'+n/10)) + string(rune('0'+n%10))
	}
	return string(rune('0' + n))
}

// TestGopherRepetitionBound checks that the cover bound that skips n-gram
// passes never changes a verdict, on real web text and on synthetic
// repetitive text.
func TestGopherRepetitionBound(t *testing.T) {
	fast, _ := NewGopherRepetition(*DefaultGopherRepetitionConfig())
	ref, _ := NewGopherRepetition(*DefaultGopherRepetitionConfig())
	ref.noBound = true
	docs := webDocs(t)
	for i := 1; i < 60; i++ {
		// Repetitive texts with varying phrase lengths and counts.
		phrase := strings.Join(uniqueWords(i%12+1, 'p'), " ")
		docs = append(docs, strings.Join(append(rep(phrase, i%9+1), uniqueWords(40+i, 'f')...), " "))
	}
	// Phrases of 2-6 words repeated among unique filler, so that the
	// 3- and 4-gram rules fire where the 2-gram rule does not: these
	// exercise the top n-gram bound (it must never skip a firing rule).
	for words := 2; words <= 6; words++ {
		for k := 1; k <= 14; k++ {
			for _, filler := range []int{15, 40, 90, 200} {
				phrase := strings.Join(uniqueWords(words, 'q'), " ")
				parts := uniqueWords(filler, 'g')
				for j := 0; j < k; j++ {
					at := (j * len(parts)) / k
					parts = append(parts[:at], append([]string{phrase}, parts[at:]...)...)
				}
				docs = append(docs, strings.Join(parts, " "))
			}
		}
	}
	reasons := map[string]int{}
	for i, s := range docs {
		a, b := fast.Apply(docOf(s)), ref.Apply(docOf(s))
		if a != b {
			t.Fatalf("doc %d: bounded %q, reference %q", i, a, b)
		}
		reasons[a]++
	}
	t.Logf("reasons: %v", reasons)
	for _, r := range []string{"top_2_gram", "top_3_gram", "top_4_gram", ""} {
		if reasons[r] == 0 {
			t.Errorf("no document with reason %q: the bound is not exercised", r)
		}
	}
}
