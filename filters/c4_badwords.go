package filters

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/kilnlm/kiln/pipeline"
)

// C4BadWordsConfig configures the bad-words filter (datatrove
// C4BadWordsFilter). Kiln ships no word list: the user supplies files.
type C4BadWordsConfig struct {
	WordFiles    []string `param:"words_files" help:"files of bad words or phrases, one a line"`
	Words        []string `param:"words" help:"inline bad words or phrases"`
	KeepFraction float64  `param:"keep_fraction" help:"fraction of matching documents kept anyway (chosen by a hash of the text and seed)"`
	Seed         uint64   `param:"seed" help:"seed for keep_fraction"`
	WordBoundary bool     `param:"word_boundary" help:"match only whole words (turn off for scripts without spaces)"`
}

// DefaultC4BadWordsConfig returns the defaults.
func DefaultC4BadWordsConfig() *C4BadWordsConfig {
	return &C4BadWordsConfig{WordBoundary: true}
}

// C4BadWords is the bad-words filter.
type C4BadWords struct {
	cfg C4BadWordsConfig
	ac  *acMatcher
}

// NewC4BadWords loads the word lists.
func NewC4BadWords(cfg C4BadWordsConfig) (*C4BadWords, error) {
	words, err := loadLists(cfg.WordFiles)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Words {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no bad words: give words_files or words")
	}
	if cfg.KeepFraction < 0 || cfg.KeepFraction > 1 {
		return nil, fmt.Errorf("keep_fraction %v outside 0..1", cfg.KeepFraction)
	}
	return &C4BadWords{cfg: cfg, ac: newACMatcher(dedupStrings(words))}, nil
}

// DependsOn implements pipeline.FileDependent: the word lists.
func (c *C4BadWords) DependsOn() []string { return append([]string(nil), c.cfg.WordFiles...) }

// Name implements pipeline.Stage.
func (*C4BadWords) Name() string { return "c4_badwords" }

// Apply implements pipeline.Stage.
func (f *C4BadWords) Apply(d *pipeline.Document) string {
	lower := strings.ToLower(d.Text)
	hit := false
	f.ac.each(lower, func(id int32, end int) bool {
		if !f.cfg.WordBoundary {
			hit = true
			return false
		}
		start := end - len(f.ac.patterns[id])
		if boundaryBefore(lower, start) && boundaryAfter(lower, end) {
			hit = true
			return false
		}
		return true
	})
	if !hit {
		return ""
	}
	if f.cfg.KeepFraction > 0 {
		h := xxhash.Sum64String(d.Text) ^ f.cfg.Seed*0x9E3779B97F4A7C15
		if float64(h>>11)/float64(1<<53) < f.cfg.KeepFraction {
			return ""
		}
	}
	return "document_removed_with_badwords"
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' }

func boundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !isWordRune(r)
}

func boundaryAfter(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isWordRune(r)
}
