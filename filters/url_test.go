package filters

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultURLConfig()
	cfg.DomainFiles = []string{writeFile(t, dir, "domains.txt", "# blocked\nExample.com\nsub.blocked.org\n")}
	cfg.URLFiles = []string{writeFile(t, dir, "urls.txt", "https://ok.org/bad-page\n")}
	cfg.BannedWordFiles = []string{writeFile(t, dir, "banned.txt", "porn\n")}
	cfg.SoftWordFiles = []string{writeFile(t, dir, "soft.txt", "sex\nxxx\ncam\nsex\n")}
	cfg.SubwordFiles = []string{writeFile(t, dir, "sub.txt", "casino\n")}
	u, err := NewURL(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := func(url string) map[string]any { return map[string]any{"url": url} }
	runCases(t, u, []filterCase{
		{"domain", "x", m("https://www.example.com/a"), "domain"},
		{"domain_registered", "x", m("http://example.com"), "domain"},
		{"subdomain", "x", m("https://sub.blocked.org/page"), "subdomain"},
		{"subdomain_sibling_passes", "x", m("https://other.blocked.org/page"), ""},
		{"url", "x", m("https://ok.org/bad-page"), "url"},
		{"url_other_page_passes", "x", m("https://ok.org/good-page"), ""},
		{"hard_blacklisted", "x", m("https://site.com/free-PORN-here"), "hard_blacklisted"},
		{"banned_word_inside_word_passes", "x", m("https://site.com/pornography"), ""},
		{"soft_blacklisted", "x", m("https://sex-cam.com/"), "soft_blacklisted"},
		{"soft_one_hit_passes", "x", m("https://sex-shop.com/"), ""},
		{"soft_repeated_word_counts_once", "x", m("https://sex.com/sex"), ""},
		{"soft_inside_word_passes", "x", m("https://sexcam.com/"), ""},
		{"blacklisted_subword", "x", m("https://best-cas-ino.com/"), "blacklisted_subword"},
		{"subword_passes", "x", m("https://casual.com/"), ""},
		{"missing_url_kept", "x", nil, ""},
	})
	cfg2 := DefaultURLConfig()
	cfg2.MissingURLKeeps = false
	u2, _ := NewURL(*cfg2)
	runCases(t, u2, []filterCase{{"missing_url", "x", nil, "missing_url"}})
	if _, err := NewURL(URLConfig{DomainFiles: []string{dir + "/nope.txt"}}); err == nil || !strings.Contains(err.Error(), "nope.txt") {
		t.Errorf("missing list file: %v", err)
	}
}

func TestAhoCorasick(t *testing.T) {
	m := newACMatcher([]string{"he", "she", "his", "hers"})
	var got []string
	m.each("ushers", func(id int32, end int) bool { got = append(got, m.patterns[id]+"@"+itoa(end)); return true })
	want := "she@4 he@4 hers@6"
	if strings.Join(got, " ") != want {
		t.Errorf("matches %v, want %s", got, want)
	}
}

func FuzzParseList(f *testing.F) {
	f.Add("example.com\n# c\n\n  Foo.org  \r\n")
	f.Add("\x00bad")
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseList(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		for _, it := range items {
			if it == "" || strings.HasPrefix(it, "#") || it != strings.TrimSpace(it) || it != strings.ToLower(it) {
				t.Fatalf("bad item %q", it)
			}
		}
	})
}

func FuzzAhoCorasick(f *testing.F) {
	f.Add("abcabc", "abc,bca,c")
	f.Fuzz(func(t *testing.T, text, pats string) {
		ps := strings.Split(pats, ",")
		m := newACMatcher(ps)
		found := map[string]bool{}
		m.each(text, func(id int32, end int) bool {
			p := m.patterns[id]
			if end < len(p) || text[end-len(p):end] != p {
				t.Fatalf("false match %q at %d", p, end)
			}
			found[p] = true
			return true
		})
		for _, p := range ps {
			if p != "" && strings.Contains(text, p) && !found[p] {
				t.Fatalf("missed %q", p)
			}
		}
	})
}
