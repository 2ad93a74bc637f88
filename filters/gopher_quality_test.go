package filters

import (
	"strings"
	"testing"
)

func TestGopherQuality(t *testing.T) {
	def := func(mod func(*GopherQualityConfig)) *GopherQuality {
		c := DefaultGopherQualityConfig()
		if mod != nil {
			mod(c)
		}
		g, err := NewGopherQuality(*c)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	lines := func(n int, f func(i int) string) string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return strings.Join(out, "\n")
	}
	noStop := []string{"quick", "brown", "foxes", "jumps", "over", "lazy", "dogs"}
	runCases(t, def(nil), []filterCase{
		{"short_doc", ws(49), nil, "gopher_short_doc"},
		{"short_doc_inside", ws(50), nil, ""},
		{"below_avg", strings.Join(append(rep("the", 49), "an"), " "), nil, "gopher_below_avg_threshold"}, // 149/50 = 2.98
		{"below_avg_inside", strings.Join(rep("the", 50), " "), nil, ""},                                  // 3.0
		{"above_avg", strings.Join(append(rep("abcdefghijk", 48), "the", "the"), " "), nil, "gopher_above_avg_threshold"},
		{"above_avg_inside", strings.Join(append(rep("abcdefghij", 48), "the", "the"), " "), nil, ""}, // 9.72
		{"hashes", strings.Repeat("# ", 6) + ws(50), nil, "gopher_too_many_hashes"},                   // 6/50
		{"hashes_inside", strings.Repeat("# ", 5) + ws(50), nil, ""},                                  // 5/50 = 0.1
		{"ellipsis", strings.Repeat("... ", 6) + ws(50), nil, "gopher_too_many_ellipsis"},
		{"ellipsis_unicode", strings.Repeat("… ", 6) + ws(50), nil, "gopher_too_many_ellipsis"},
		{"ellipsis_inside", strings.Repeat("... ", 5) + ws(50), nil, ""},
		{"bullets", lines(10, func(int) string { return "- " + ws(10) }), nil, "gopher_too_many_bullets"},
		{"bullets_dot", lines(10, func(int) string { return "  • " + ws(10) }), nil, "gopher_too_many_bullets"},
		{"bullets_inside", lines(10, func(i int) string { return map[bool]string{true: "- ", false: ""}[i < 9] + ws(10) }), nil, ""}, // 0.9
		{"end_ellipsis", lines(10, func(i int) string { return ws(10) + map[bool]string{true: " ...", false: "."}[i < 4] }), nil, "gopher_too_many_end_ellipsis"},
		{"end_ellipsis_inside", lines(10, func(i int) string { return ws(10) + map[bool]string{true: " ...", false: "."}[i < 3] }), nil, ""}, // 0.3
		{"alpha", ws(39) + strings.Repeat(" 1234", 11), nil, "gopher_below_alpha_threshold"},                                                 // 39/50
		{"alpha_inside", ws(40) + strings.Repeat(" 1234", 10), nil, ""},                                                                      // 40/50 = 0.8
		{"stop_words", cycle(59, noStop) + " the", nil, "gopher_enough_stop_words"},
		{"stop_words_inside", cycle(58, noStop) + " The and", nil, ""},
	})
	runCases(t, def(func(c *GopherQualityConfig) { c.MaxDocWords = 100 }), []filterCase{
		{"long_doc", ws(101), nil, "gopher_long_doc"},
		{"long_doc_inside", ws(100), nil, ""},
	})
	// Non-English: CJK words are segmented, so a Chinese page is not one
	// giant "word" (it would fail the word-length rule with whitespace
	// splitting).
	runCases(t, def(func(c *GopherQualityConfig) { c.MinStopWords = 0; c.MinAvgWordLength = 1 }), []filterCase{
		{"cjk_counts_words", strings.Repeat("中文是世界上使用人口最多的语言之一。", 5), nil, ""},
	})
}
