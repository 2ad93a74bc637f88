package filters

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/abadojack/whatlanggo"

	"github.com/kilnlm/kiln/pipeline"
)

// LanguageConfig configures language identification. Detection is
// whatlanggo's model (trigram profiles of 84 languages, script detection
// for the rest; pure Go, no model file) scored by Kiln's inverted-index
// scorer (langid.go), which returns exactly whatlanggo's language and
// confidence about ten times faster, on a prefix of the text:
// identification settles within a few hundred characters and the cost is
// linear in the sample, so long documents stay cheap.
type LanguageConfig struct {
	Languages         []string `param:"languages" help:"ISO 639-1 (or 639-3) codes to keep; empty keeps any language above the threshold"`
	LanguageThreshold float64  `param:"language_threshold" help:"keep when the detector's confidence exceeds this"`
	SampleChars       int      `param:"sample_chars" help:"characters from the start of the text given to the detector (0: whole text)"`
	KeepAll           bool     `param:"tag_only" help:"tag language and score but never drop"`
}

// DefaultLanguageConfig returns the defaults: English, threshold 0.65 (the
// anchors' value).
func DefaultLanguageConfig() *LanguageConfig {
	return &LanguageConfig{Languages: []string{"en"}, LanguageThreshold: 0.65, SampleChars: 1000}
}

// Language is the language filter and tagger.
type Language struct {
	cfg   LanguageConfig
	keep  map[whatlanggo.Lang]bool
	codes map[whatlanggo.Lang]string // whatlanggo builds a map per code lookup; cache them
	score *langScorer
	pool  sync.Pool // *trigramCounter scratch, one per concurrent caller
}

// NewLanguage builds the filter; unknown language codes are an error.
func NewLanguage(cfg LanguageConfig) (*Language, error) {
	l := &Language{cfg: cfg, keep: make(map[whatlanggo.Lang]bool), codes: make(map[whatlanggo.Lang]string), score: sharedLangScorer()}
	l.pool.New = func() any { return newTrigramCounter(2048) }
	for lang := range whatlanggo.Langs {
		l.codes[lang] = LangCode(lang)
	}
	for _, code := range cfg.Languages {
		lang, ok := langFromCode(code)
		if !ok {
			return nil, fmt.Errorf("unknown language code %q (use ISO 639-1 like en, or 639-3 like eng)", code)
		}
		l.keep[lang] = true
	}
	return l, nil
}

func langFromCode(code string) (whatlanggo.Lang, bool) {
	code = strings.ToLower(strings.TrimSpace(code))
	switch code {
	case "zh":
		return whatlanggo.Cmn, true
	}
	for lang := range whatlanggo.Langs {
		if lang.Iso6391() == code || lang.Iso6393() == code {
			return lang, true
		}
	}
	return 0, false
}

// LangCode is the code Kiln writes for a detected language: ISO 639-1
// where one exists, else ISO 639-3.
func LangCode(l whatlanggo.Lang) string {
	if l == whatlanggo.Cmn {
		return "zh"
	}
	if c := l.Iso6391(); c != "" {
		return c
	}
	return l.Iso6393()
}

// Detect returns the language code and confidence for s ("" when no
// language is recognised).
func (l *Language) Detect(s string) (string, float64) {
	lang, score := l.detect(s)
	if lang < 0 {
		return "", 0
	}
	return l.codes[lang], score
}

// sample returns the prefix of s the detector sees.
func (l *Language) sample(s string) string {
	if l.cfg.SampleChars > 0 && len(s) > l.cfg.SampleChars {
		cut := l.cfg.SampleChars
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		// Cut at a space when one is near so the last word is whole.
		if sp := strings.LastIndexAny(s[:cut], " \n"); sp > cut-64 && sp > 0 {
			cut = sp
		}
		s = s[:cut]
	}
	return s
}

func (l *Language) detect(s string) (whatlanggo.Lang, float64) {
	s = l.sample(s)
	t := l.pool.Get().(*trigramCounter)
	res := l.score.detect(s, whatlanggo.Options{}, t)
	l.pool.Put(t)
	if res.lang < 0 || res.script == nil {
		return -1, 0
	}
	return res.lang, res.confidence
}

// Name implements pipeline.Stage.
func (*Language) Name() string { return "language" }

// Apply implements pipeline.Stage.
func (l *Language) Apply(d *pipeline.Document) string {
	lang, score := l.detect(d.Text)
	code := ""
	if lang >= 0 {
		code = l.codes[lang]
	}
	d.SetMeta("language", code)
	d.SetMeta("language_score", score)
	if l.cfg.KeepAll {
		return ""
	}
	if score <= l.cfg.LanguageThreshold {
		return "language"
	}
	if len(l.keep) > 0 && !l.keep[lang] {
		return "language"
	}
	return ""
}
