package filters

import (
	"strings"

	"github.com/kilnlm/kiln/pipeline"
)

// GopherQualityConfig holds the Gopher quality thresholds (Rae et al. 2021,
// as datatrove's GopherQualityFilter). A zero threshold disables its rule.
type GopherQualityConfig struct {
	MinDocWords          int      `param:"min_doc_words" help:"drop with fewer words (words holding a letter or digit)"`
	MaxDocWords          int      `param:"max_doc_words" help:"drop with more words"`
	MinAvgWordLength     float64  `param:"min_avg_word_length" help:"drop when the mean word length (chars) is below"`
	MaxAvgWordLength     float64  `param:"max_avg_word_length" help:"drop when the mean word length (chars) is above"`
	MaxSymbolWordRatio   float64  `param:"max_symbol_word_ratio" help:"max '#' per word and max ellipses ('...' or U+2026) per word"`
	MaxBulletLinesRatio  float64  `param:"max_bullet_lines_ratio" help:"max fraction of lines starting with a bullet or '-'"`
	MaxEllipsisLinesRate float64  `param:"max_ellipsis_lines_ratio" help:"max fraction of lines ending with an ellipsis"`
	MaxNonAlphaWordsRate float64  `param:"max_non_alpha_words_ratio" help:"min fraction of words holding a letter (datatrove's name)"`
	MinStopWords         int      `param:"min_stop_words" help:"min count of stop words"`
	StopWords            []string `param:"stop_words" help:"stop words (lowercase)"`
}

// DefaultGopherQualityConfig returns the published defaults.
func DefaultGopherQualityConfig() *GopherQualityConfig {
	return &GopherQualityConfig{
		MinDocWords: 50, MaxDocWords: 100000,
		MinAvgWordLength: 3, MaxAvgWordLength: 10,
		MaxSymbolWordRatio:   0.1,
		MaxBulletLinesRatio:  0.9,
		MaxEllipsisLinesRate: 0.3,
		MaxNonAlphaWordsRate: 0.8,
		MinStopWords:         2,
		StopWords:            []string{"the", "be", "to", "of", "and", "that", "have", "with"},
	}
}

// GopherQuality is the Gopher quality filter.
type GopherQuality struct {
	cfg      GopherQualityConfig
	stop     []string // lowercase; a short list scanned linearly beats a map here
	maxStop  int
	first    [256]bool     // first bytes of stop words, both cases
	features *featureCache // shared with the registry's other filters; nil computes locally
}

// NewGopherQuality builds the filter.
func NewGopherQuality(cfg GopherQualityConfig) (*GopherQuality, error) {
	g := &GopherQuality{cfg: cfg}
	for _, w := range cfg.StopWords {
		w = strings.ToLower(w)
		g.stop = append(g.stop, w)
		g.maxStop = max(g.maxStop, len(w))
		if w != "" {
			g.first[w[0]] = true
			g.first[strings.ToUpper(w[:1])[0]] = true
		}
	}
	return g, nil
}

// Name implements pipeline.Stage.
func (*GopherQuality) Name() string { return "gopher_quality" }

// Apply implements pipeline.Stage.
func (g *GopherQuality) Apply(d *pipeline.Document) string {
	c := &g.cfg
	s := d.Text
	f := g.features.get(s)
	defer g.features.release(f)
	ws := f.words
	n := len(ws)
	if c.MinDocWords > 0 && n < c.MinDocWords {
		return "gopher_short_doc"
	}
	if c.MaxDocWords > 0 && n > c.MaxDocWords {
		return "gopher_long_doc"
	}
	if n == 0 {
		return "gopher_short_doc"
	}
	total, alpha, stops := 0, f.alpha, 0
	for i, w := range ws {
		total += int(f.clen[i])
		if stops < c.MinStopWords && len(w) <= g.maxStop && g.first[w[0]] && g.isStop(w) {
			stops++
		}
	}
	avg := float64(total) / float64(n)
	if c.MinAvgWordLength > 0 && avg < c.MinAvgWordLength {
		return "gopher_below_avg_threshold"
	}
	if c.MaxAvgWordLength > 0 && avg > c.MaxAvgWordLength {
		return "gopher_above_avg_threshold"
	}
	if c.MaxSymbolWordRatio > 0 {
		if float64(strings.Count(s, "#"))/float64(n) > c.MaxSymbolWordRatio {
			return "gopher_too_many_hashes"
		}
		if float64(strings.Count(s, "...")+strings.Count(s, "…"))/float64(n) > c.MaxSymbolWordRatio {
			return "gopher_too_many_ellipsis"
		}
	}
	if c.MaxBulletLinesRatio > 0 || c.MaxEllipsisLinesRate > 0 {
		lines, bullets, ellipses := 0, 0, 0
		for rest := s; ; {
			line, after, more := strings.Cut(rest, "\n")
			lines++
			l := strings.TrimLeft(line, " \t\r\f\v")
			if strings.HasPrefix(l, "•") || strings.HasPrefix(l, "-") {
				bullets++
			}
			r := strings.TrimRight(line, " \t\r\f\v")
			if strings.HasSuffix(r, "...") || strings.HasSuffix(r, "…") {
				ellipses++
			}
			if !more {
				break
			}
			rest = after
		}
		if c.MaxBulletLinesRatio > 0 && float64(bullets)/float64(lines) > c.MaxBulletLinesRatio {
			return "gopher_too_many_bullets"
		}
		if c.MaxEllipsisLinesRate > 0 && float64(ellipses)/float64(lines) > c.MaxEllipsisLinesRate {
			return "gopher_too_many_end_ellipsis"
		}
	}
	if c.MaxNonAlphaWordsRate > 0 && float64(alpha)/float64(n) < c.MaxNonAlphaWordsRate {
		return "gopher_below_alpha_threshold"
	}
	if c.MinStopWords > 0 && stops < c.MinStopWords {
		return "gopher_enough_stop_words"
	}
	return ""
}

// isStop checks a word against the stop list, folding ASCII case without
// allocating; non-ASCII stop words are compared after lowercasing.
func (g *GopherQuality) isStop(w string) bool {
	var lower string
	for _, sw := range g.stop {
		if len(sw) != len(w) {
			continue
		}
		if equalFoldASCII(w, sw) {
			return true
		}
		if lower == "" {
			lower = strings.ToLower(w)
		}
		if lower == sw {
			return true
		}
	}
	return false
}
