package filters

import (
	"strings"
	"testing"
)

func TestC4Quality(t *testing.T) {
	f, _ := NewC4Quality(*DefaultC4QualityConfig())
	good := func(n int) string {
		out := make([]string, n)
		for i := range out {
			out[i] = "This is a perfectly fine sentence number " + strings.Repeat("x", i+1) + "."
		}
		return strings.Join(out, "\n")
	}
	runCases(t, f, []filterCase{
		{"too_few_sentences", good(4), nil, "too_few_sentences"},
		{"too_few_sentences_inside", good(5), nil, ""},
		{"sentences_within_a_line", "One is here. Two is here. Three is here! Four is here? Five is here.", nil, ""},
		{"lorem_ipsum", good(5) + "\nLorem ipsum dolor sit amet.", nil, "lorem_ipsum"},
		{"curly_bracket", good(5) + "\nUse the {braces} here please.", nil, "curly_bracket"},
		// A line removed by an earlier line rule never drops the document.
		{"curly_in_removed_line", good(5) + "\nfunction main() {", nil, ""},
	})
	// Line-level modifications: what remains is the cleaned text.
	in := strings.Join([]string{
		"Welcome to the site",                         // no terminal punctuation
		"Please enable JavaScript to view this page.", // javascript
		"This site uses cookies to improve things.",   // policy
		"Go now.",        // 2 words < 3
		"Wait for it...", // ellipsis
		"The river is long[1] and wide[citation needed].",          // citations removed
		"Mountains are tall and old.",                              // kept
		"Word " + strings.Repeat("z", 1001) + " is too long here.", // word over 1000 chars
		"Go now please.",                      // 3 words: kept
		"Rain falls. Snow falls. Sun shines.", // kept, 3 sentences
	}, "\n")
	d := docOf(in)
	if r := f.Apply(d); r != "" {
		t.Fatalf("dropped: %s", r)
	}
	want := "The river is long and wide.\nMountains are tall and old.\nGo now please.\nRain falls. Snow falls. Sun shines."
	if d.Text != want {
		t.Errorf("cleaned text\n%q\nwant\n%q", d.Text, want)
	}
	// FineWeb's variant keeps lines without terminal punctuation.
	c := DefaultC4QualityConfig()
	c.FilterNoTerminalPunct = false
	f2, _ := NewC4Quality(*c)
	d = docOf("A heading without a stop\n" + good(5))
	if r := f2.Apply(d); r != "" || !strings.HasPrefix(d.Text, "A heading without a stop\n") {
		t.Errorf("terminal punctuation off: reason %q text %q", r, d.Text[:30])
	}
}

func TestC4Paragraph(t *testing.T) {
	f, _ := NewC4Paragraph(*DefaultC4ParagraphConfig())
	p := func(n int) string { return strings.Repeat("a", n) }
	runCases(t, f, []filterCase{
		{"too_few_paragraphs", p(200) + "\n" + p(200) + "\n" + p(199), nil, "too_few_paragraphs"},
		{"too_few_paragraphs_two_lines", p(500) + "\n" + p(500), nil, "too_few_paragraphs"},
		{"c4_paragraph_inside", p(200) + "\n" + p(200) + "\nshort\n" + p(200), nil, ""},
	})
}

func TestC4BadWords(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.txt", "# my list\nbadword\n\nTwo Words\n")
	f, err := NewC4BadWords(C4BadWordsConfig{WordFiles: []string{path}, WordBoundary: true})
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, f, []filterCase{
		{"document_removed_with_badwords", "this has a BadWord in it", nil, "document_removed_with_badwords"},
		{"phrase", "here are two words together", nil, "document_removed_with_badwords"},
		{"inside_not_whole_word", "these badwords and twowords are fine", nil, ""},
	})
	keep, _ := NewC4BadWords(C4BadWordsConfig{Words: []string{"badword"}, KeepFraction: 1, WordBoundary: true})
	runCases(t, keep, []filterCase{{"keep_fraction_1", "a badword", nil, ""}})
	if _, err := NewC4BadWords(C4BadWordsConfig{}); err == nil {
		t.Error("no word list accepted")
	}
}

func TestFineWebQuality(t *testing.T) {
	f, _ := NewFineWebQuality(*DefaultFineWebQualityConfig())
	// uline is the i-th distinct 8-word line (39 chars), ending in end.
	uline := func(i int, end string) string {
		return strings.Join(uniqueWords(8*(i+1), 'f')[8*i:], " ") + end
	}
	doc := func(n, punct int) string {
		out := make([]string, n)
		for i := range out {
			out[i] = uline(i, map[bool]string{true: ".", false: ""}[i < punct])
		}
		return strings.Join(out, "\n")
	}
	short := func(n, nShort int) string {
		out := make([]string, n)
		for i := range out {
			if i < nShort {
				out[i] = strings.Join(uniqueWords(2*(i+1), 's')[2*i:], " ") + "."
			} else {
				out[i] = uline(i, ".")
			}
		}
		return strings.Join(out, "\n")
	}
	withDup := func(dup string) string { return doc(40, 40) + "\n" + dup + "\n" + dup }
	runCases(t, f, []filterCase{
		{"empty", "\n  \n", nil, "empty"},
		{"line_punct_ratio", doc(25, 2), nil, "line_punct_ratio"},               // 0.08
		{"line_punct_ratio_inside", doc(25, 3), nil, ""},                        // 0.12
		{"short_line_ratio", short(100, 68), nil, "short_line_ratio"},           // 0.68
		{"short_line_ratio_inside", short(100, 67), nil, ""},                    // 0.67
		{"char_dup_ratio", withDup("abcdefghijklmnop."), nil, "char_dup_ratio"}, // 17/1634
		{"char_dup_ratio_inside", withDup("abcdefghijklmno."), nil, ""},         // 16/1632
		{"cjk_punct", "这是一个很长的中文句子，用来测试标点符号的规则是否正确，而且它必须足够长。\n第二行也是一个很长的中文句子，它的结尾是中文的句号，所以应该算数。\n第三行讨论的是另一个题目：北京的天气在秋天通常非常舒服，很适合旅游！", nil, ""},
	})
	c := DefaultFineWebQualityConfig()
	c.ShortLineThr = 1
	f2, _ := NewFineWebQuality(*c)
	list := func(words int) string {
		// 10 lines, 9 newlines, words spread over them.
		w := uniqueWords(words, 'l')
		out := make([]string, 10)
		for i, x := range w {
			out[i%10] += x + " "
		}
		for i := range out {
			out[i] = strings.TrimSpace(out[i]) + "."
		}
		return strings.Join(out, "\n")
	}
	runCases(t, f2, []filterCase{
		{"list_ratio", list(29), nil, "list_ratio"}, // 9/29 = 0.31
		{"list_ratio_inside", list(30), nil, ""},    // 9/30 = 0.3
	})
}

// TestC4QualityShortcuts checks that the sentence count stopping at
// min_num_sentences changes neither verdicts nor the rewritten text, on
// the web corpora and on lines built to hit each phrase and rule.
func TestC4QualityShortcuts(t *testing.T) {
	docs := webDocs(t)
	lines := []string{
		"We use cookies to improve the site. It works well.", "Read our Privacy Policy today now.",
		"Enable java[1]script in your browser please.", "Please enable JavaScript to view it.",
		"Lorem ipsum dolor sit amet, consectetur.", "The terms of use apply to all of you.",
		"The cookie jar is full of nice things.", "Policy makers met on Monday morning.",
		"This site uses [edit]cookies for you all.", "A plain sentence with enough words. Another one here.",
	}
	for i := range lines {
		for j := range lines {
			docs = append(docs, strings.Join([]string{lines[i], "One more line that is fine.", lines[j], "Short.", "Fine text. Yes it is. Really fine."}, "\n"))
		}
	}
	// Layouts where the output is or is not a substring of the input: CR
	// line ends, blank and indented lines, trailing spaces, citations.
	for _, sep := range []string{"\n", "\r\n", "\n\n", "\n \n", "  \n\t"} {
		body := []string{"First line has words here.", "Second line[2] with a cite.", "Third one is plain text.", "Four words are here.", "Five and final line here."}
		docs = append(docs, strings.Join(body, sep), "\n"+strings.Join(body, sep)+"\n",
			"  "+strings.Join(body, sep)+" \n\n", strings.Join(body[2:], sep)+sep+"x"+sep+strings.Join(body, sep))
	}
	for _, cfg := range []C4QualityConfig{*DefaultC4QualityConfig(), func() C4QualityConfig {
		c := *DefaultC4QualityConfig()
		c.FilterNoTerminalPunct = false
		return c
	}(), func() C4QualityConfig {
		c := *DefaultC4QualityConfig()
		c.SplitParagraph = false
		return c
	}(), func() C4QualityConfig {
		c := *DefaultC4QualityConfig()
		c.FilterNoTerminalPunct, c.MinWordsPerLine = false, 0
		return c
	}()} {
		fast, _ := NewC4Quality(cfg)
		ref, _ := NewC4Quality(cfg)
		ref.exhaust, ref.copyOut = true, true
		reasons := map[string]int{}
		for i, s := range docs {
			a, b := docOf(s), docOf(s)
			ra, rb := fast.Apply(a), ref.Apply(b)
			if ra != rb || a.Text != b.Text {
				t.Fatalf("doc %d: fast %q %q, reference %q %q", i, ra, clip(a.Text), rb, clip(b.Text))
			}
			reasons[ra]++
		}
		t.Logf("%+v: %v", cfg, reasons)
		if reasons["lorem_ipsum"] == 0 || reasons[""] == 0 || reasons["too_few_sentences"] == 0 {
			t.Errorf("reasons not exercised: %v", reasons)
		}
	}
}

// refFoldScan is the reference for foldMatcher.scan: lowercase A-Z bytes,
// then a substring search per pattern.
func refFoldScan(pats []string, flags []uint8, s string) uint8 {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	var hits uint8
	for k, p := range pats {
		if strings.Contains(string(b), p) {
			hits |= flags[k]
		}
	}
	return hits
}

var c4TestPats, c4TestFlags = []string{"lorem ipsum", "javascript", "policy", "cookies", "terms of use"}, []uint8{hitLorem, hitJavascript, hitPolicy, hitPolicy, hitPolicy}

func TestFoldMatcher(t *testing.T) {
	m := newFoldMatcher(c4TestPats, c4TestFlags)
	cases := []string{"", "l", "lorem ipsu", "LOREM IPSUM", "xx Lorem Ipsum", "JavaScript!", "javascrip", "jjavascript",
		"Cookie policy", "COOKIES", "cookie", "Terms Of Use", "terms of us", "ppolicy", "polic", "Πolicy", "lorem\u00a0ipsum"}
	for _, l := range strings.Split(strings.Join(webDocs(t), "\n"), "\n") {
		cases = append(cases, l)
	}
	// Every pattern at many offsets, in both cases, cut short and whole.
	for _, p := range c4TestPats {
		for pad := range 70 {
			for _, q := range []string{p, strings.ToUpper(p), p[:len(p)-1], p[1:]} {
				cases = append(cases, strings.Repeat("x", pad)+q+strings.Repeat("y", 69-pad), strings.Repeat("P", pad)+q)
			}
		}
	}
	for _, s := range cases {
		want := refFoldScan(c4TestPats, c4TestFlags, s)
		if got := m.scan(s); got != want {
			t.Fatalf("scan(%q) = %b, reference %b", clip(s), got, want)
		}
		// The portable pair scan, whichever path scan took here.
		if got := m.scanPairs(s); got != want {
			t.Fatalf("scanPairs(%q) = %b, reference %b", clip(s), got, want)
		}
	}
	// Other pattern sets: an anchor at the end of its pattern (its pair
	// starts one byte earlier), and sets the pair scan cannot fold ('@'
	// lacks bit 0x20; one-byte patterns have no pair), which walk bytes.
	for _, tc := range []struct {
		pats     []string
		foldable bool
	}{{[]string{"abz", "1+1", "{}"}, true}, {[]string{"x@y", "policy"}, false}, {[]string{"q", "policy"}, false}} {
		flags := []uint8{1, 2, 4}[:len(tc.pats)]
		other := newFoldMatcher(tc.pats, flags)
		if (other.pairs != nil) != tc.foldable {
			t.Fatalf("%q: pair scan %v, want %v", tc.pats, other.pairs != nil, tc.foldable)
		}
		var texts []string
		for _, p := range tc.pats {
			for pad := range 70 {
				texts = append(texts, strings.Repeat("Q", pad)+strings.ToUpper(p), strings.Repeat(" ", pad)+p+strings.Repeat("z", 69-pad), strings.Repeat("b", pad)+p[:len(p)-1])
			}
		}
		for _, s := range texts {
			want := refFoldScan(tc.pats, flags, s)
			if got := other.scan(s); got != want {
				t.Fatalf("%q: scan(%q) = %b, reference %b", tc.pats, s, got, want)
			}
			if got := other.scanPairs(s); tc.foldable && got != want {
				t.Fatalf("%q: scanPairs(%q) = %b, reference %b", tc.pats, s, got, want)
			}
		}
	}
}

func FuzzFoldMatcher(f *testing.F) {
	for _, s := range []string{"Lorem Ipsum", "javaSCRIPT", "our cookie policy", "terms of use", "\xffpolicy"} {
		f.Add(s)
	}
	m := newFoldMatcher(c4TestPats, c4TestFlags)
	f.Fuzz(func(t *testing.T, s string) {
		want := refFoldScan(c4TestPats, c4TestFlags, s)
		if got := m.scan(s); got != want {
			t.Fatalf("scan(%q) = %b, reference %b", s, got, want)
		}
		if got := m.scanPairs(s); got != want {
			t.Fatalf("scanPairs(%q) = %b, reference %b", s, got, want)
		}
	})
}

// refHasLongField is the byte-by-byte form hasLongField replaced.
func refHasLongField(line string, max int) bool {
	if len(line) <= max {
		return false
	}
	start := -1
	for i := 0; i <= len(line); i++ {
		if i == len(line) || line[i] == ' ' || line[i] == '\t' || line[i] == '\n' || line[i] == '\r' || line[i] == '\v' || line[i] == '\f' {
			if start >= 0 && i-start > max && runeLen(line[start:i]) > max {
				return true
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return false
}

func TestHasLongFieldMatchesReference(t *testing.T) {
	var lines []string
	for _, d := range webDocs(t) {
		lines = append(lines, strings.Split(d, "\n")...)
	}
	for _, n := range []int{0, 1, 2, 3, 5, 8, 13} {
		for _, ws := range []string{" ", "\t", "\n", "\r", "\v", "\f", "  "} {
			for _, w := range []string{"a", "é", "ab"} {
				field := strings.Repeat(w, n)
				lines = append(lines, field, ws+field, field+ws, "x"+ws+field+ws+"y", strings.Repeat("z"+ws, n)+field)
			}
		}
	}
	for _, line := range lines {
		for _, max := range []int{0, 1, 2, 3, 4, 7, 12, 40, 1000} {
			if got, want := hasLongField(line, max), refHasLongField(line, max); got != want {
				t.Fatalf("hasLongField(%q, %d) = %v, reference %v", clip(line), max, got, want)
			}
		}
	}
}

func FuzzHasLongField(f *testing.F) {
	f.Add("aaa bb\tc", 2)
	f.Add("ééé x", 2)
	f.Fuzz(func(t *testing.T, line string, max int) {
		if max < 0 || max > 1<<20 {
			return
		}
		if got, want := hasLongField(line, max), refHasLongField(line, max); got != want {
			t.Fatalf("hasLongField(%q, %d) = %v, reference %v", line, max, got, want)
		}
	})
}
