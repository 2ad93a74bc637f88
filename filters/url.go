package filters

import (
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/kilnlm/kiln/pipeline"
)

// URLConfig configures the URL filter (datatrove URLFilter). All lists come
// from files the user supplies (one entry a line, '#' comments) or inline
// lists; Kiln bundles no third-party blocklist.
type URLConfig struct {
	DomainFiles       []string `param:"domain_files" help:"files of blocked domains (registered domain or full host)"`
	URLFiles          []string `param:"url_files" help:"files of blocked URLs (exact match)"`
	BannedWordFiles   []string `param:"banned_word_files" help:"files of banned words: any URL word equal to one drops"`
	SoftWordFiles     []string `param:"soft_banned_word_files" help:"files of soft-banned words: soft_word_threshold hits drop"`
	SubwordFiles      []string `param:"banned_subword_files" help:"files of banned sub-words, matched anywhere in the URL with non-alphanumerics removed"`
	ExtraDomains      []string `param:"extra_domains" help:"inline blocked domains"`
	ExtraURLs         []string `param:"extra_urls" help:"inline blocked URLs"`
	BannedWords       []string `param:"banned_words" help:"inline banned words"`
	SoftBannedWords   []string `param:"soft_banned_words" help:"inline soft-banned words"`
	BannedSubwords    []string `param:"banned_subwords" help:"inline banned sub-words"`
	SoftWordThreshold int      `param:"soft_word_threshold" help:"distinct soft-banned words needed to drop"`
	MissingURLKeeps   bool     `param:"keep_missing_url" help:"keep documents without a url (false: drop with reason missing_url)"`
	URLMetadataKey    string   `param:"url_key" help:"metadata key holding the URL"`
}

// DefaultURLConfig returns the defaults: empty lists, datatrove's soft-word
// threshold of 2.
func DefaultURLConfig() *URLConfig {
	return &URLConfig{SoftWordThreshold: 2, MissingURLKeeps: true, URLMetadataKey: "url"}
}

// URL is the URL filter.
type URL struct {
	cfg     URLConfig
	domains map[string]bool
	urls    map[string]bool
	banned  map[string]bool
	soft    map[string]bool
	subword *acMatcher
}

// NewURL loads the lists and builds the filter.
func NewURL(cfg URLConfig) (*URL, error) {
	load := func(files, inline []string) ([]string, error) {
		items, err := loadLists(files)
		if err != nil {
			return nil, err
		}
		for _, s := range inline {
			if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
				items = append(items, s)
			}
		}
		return items, nil
	}
	u := &URL{cfg: cfg}
	set := func(items []string) map[string]bool {
		m := make(map[string]bool, len(items))
		for _, s := range items {
			m[s] = true
		}
		return m
	}
	items, err := load(cfg.DomainFiles, cfg.ExtraDomains)
	if err != nil {
		return nil, err
	}
	u.domains = set(items)
	if items, err = load(cfg.URLFiles, cfg.ExtraURLs); err != nil {
		return nil, err
	}
	u.urls = set(items)
	// Word lists are normalised as datatrove does: lowercase, letters and
	// digits only.
	if items, err = load(cfg.BannedWordFiles, cfg.BannedWords); err != nil {
		return nil, err
	}
	u.banned = set(normalizeAll(items))
	if items, err = load(cfg.SoftWordFiles, cfg.SoftBannedWords); err != nil {
		return nil, err
	}
	u.soft = set(normalizeAll(items))
	if items, err = load(cfg.SubwordFiles, cfg.BannedSubwords); err != nil {
		return nil, err
	}
	for i, s := range items {
		items[i] = alnumOnly(s)
	}
	u.subword = newACMatcher(items)
	return u, nil
}

// DependsOn implements pipeline.FileDependent: every list file.
func (u *URL) DependsOn() []string {
	c := u.cfg
	var out []string
	for _, l := range [][]string{c.DomainFiles, c.URLFiles, c.BannedWordFiles, c.SoftWordFiles, c.SubwordFiles} {
		out = append(out, l...)
	}
	return out
}

// Name implements pipeline.Stage.
func (*URL) Name() string { return "url" }

// Apply implements pipeline.Stage.
func (u *URL) Apply(d *pipeline.Document) string {
	raw := d.MetaString(u.cfg.URLMetadataKey)
	if raw == "" {
		if u.cfg.MissingURLKeeps {
			return ""
		}
		return "missing_url"
	}
	lower := strings.ToLower(raw)
	host := hostOf(lower)
	if len(u.domains) > 0 && host != "" {
		if reg, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil && u.domains[reg] {
			return "domain"
		}
		if u.domains[host] {
			return "subdomain"
		}
	}
	if u.urls[lower] || u.urls[raw] {
		return "url"
	}
	// The URL's words (split on non-alphanumerics) against the banned and
	// soft-banned sets: one hash lookup per word, linear in the URL.
	if len(u.banned) > 0 || len(u.soft) > 0 && u.cfg.SoftWordThreshold > 0 {
		var softSeen []string
		hard := false
		for w := range strings.FieldsFuncSeq(lower, notAlnum) {
			if u.banned[w] {
				hard = true
				break
			}
			if u.soft[w] && !slices.Contains(softSeen, w) {
				softSeen = append(softSeen, w)
			}
		}
		if hard {
			return "hard_blacklisted"
		}
		if u.cfg.SoftWordThreshold > 0 && len(softSeen) >= u.cfg.SoftWordThreshold {
			return "soft_blacklisted"
		}
	}
	if len(u.subword.patterns) > 0 {
		hit := false
		u.subword.each(alnumOnly(lower), func(int32, int) bool { hit = true; return false })
		if hit {
			return "blacklisted_subword"
		}
	}
	return ""
}

// hostOf extracts the host of a URL, tolerating a missing scheme.
func hostOf(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	p, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(p.Hostname(), ".")
}

func notAlnum(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 0x80)
}

func alnumOnly(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80 {
			b.WriteByte(c)
		} else if c >= 'A' && c <= 'Z' {
			b.WriteByte(c + 32)
		}
	}
	return b.String()
}

func normalizeAll(items []string) []string {
	out := items[:0]
	for _, s := range items {
		if s = alnumOnly(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func dedupStrings(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
