// Package filters holds Kiln's quality filters, formatters and
// decontamination, each a pipeline.Stage with the anchors' defaults: the
// Gopher, C4 and FineWeb heuristics as datatrove implements them (same
// parameter names, same drop reasons), a URL blocklist filter, language
// identification, code and math filters, a PII formatter and n-gram
// decontamination against an evaluation set. Every filter is safe for
// concurrent use; configuration lives in one struct per filter whose
// `param` tags are the recipe's parameter names.
package filters

import (
	"fmt"

	"github.com/kilnlm/kiln/pipeline"
)

// Register adds every filter of this package to r.
func Register(r *pipeline.Registry) {
	for _, d := range definitions(&featureCache{}) {
		r.Add(d)
	}
}

// definitions lists the filters in the order a web recipe usually runs them.
// The filters that segment words share one feature cache per registry.
func definitions(fc *featureCache) []pipeline.StepDef {
	return []pipeline.StepDef{
		stage("url", "drop documents whose URL is blocklisted or holds banned words (datatrove URLFilter)",
			func() any { return DefaultURLConfig() }, func(c any) (pipeline.Stage, error) { return NewURL(*c.(*URLConfig)) }),
		stage("language", "keep documents whose detected language is listed with score above a threshold; tags language and language_score",
			func() any { return DefaultLanguageConfig() }, func(c any) (pipeline.Stage, error) { return NewLanguage(*c.(*LanguageConfig)) }),
		stage("gopher_repetition", "drop documents with repeated lines, paragraphs or n-grams (Gopher, datatrove GopherRepetitionFilter)",
			func() any { return DefaultGopherRepetitionConfig() }, func(c any) (pipeline.Stage, error) {
				g, err := NewGopherRepetition(*c.(*GopherRepetitionConfig))
				if g != nil {
					g.features = fc
				}
				return g, err
			}),
		stage("gopher_quality", "drop documents failing the Gopher quality heuristics (datatrove GopherQualityFilter)",
			func() any { return DefaultGopherQualityConfig() }, func(c any) (pipeline.Stage, error) {
				g, err := NewGopherQuality(*c.(*GopherQualityConfig))
				if g != nil {
					g.features = fc
				}
				return g, err
			}),
		stage("c4_quality", "C4 line cleaning (removes bad lines and citations) and document rules (datatrove C4QualityFilter)",
			func() any { return DefaultC4QualityConfig() }, func(c any) (pipeline.Stage, error) { return NewC4Quality(*c.(*C4QualityConfig)) }),
		stage("c4_paragraph", "drop documents without enough long paragraphs (C4 paragraph filter)",
			func() any { return DefaultC4ParagraphConfig() }, func(c any) (pipeline.Stage, error) { return NewC4Paragraph(*c.(*C4ParagraphConfig)) }),
		stage("c4_badwords", "drop documents containing words from a user-supplied bad-word list (datatrove C4BadWordsFilter)",
			func() any { return DefaultC4BadWordsConfig() }, func(c any) (pipeline.Stage, error) { return NewC4BadWords(*c.(*C4BadWordsConfig)) }),
		stage("fineweb_quality", "FineWeb's line punctuation, short line, duplicate line and list ratio rules (datatrove FineWebQualityFilter)",
			func() any { return DefaultFineWebQualityConfig() }, func(c any) (pipeline.Stage, error) {
				f, err := NewFineWebQuality(*c.(*FineWebQualityConfig))
				if f != nil {
					f.features = fc
				}
				return f, err
			}),
		stage("code", "StarCoder/The Stack/NeMo Curator code heuristics; tags licence headers",
			func() any { return DefaultCodeConfig() }, func(c any) (pipeline.Stage, error) { return NewCode(*c.(*CodeConfig)) }),
		stage("math", "keep documents with real mathematical content; tags math_score",
			func() any { return DefaultMathConfig() }, func(c any) (pipeline.Stage, error) { return NewMath(*c.(*MathConfig)) }),
		stage("pii", "mask e-mail addresses and IP addresses with replacement tokens",
			func() any { return DefaultPIIConfig() }, func(c any) (pipeline.Stage, error) { return NewPII(*c.(*PIIConfig)) }),
		stage("decontaminate", "drop or flag documents sharing an n-gram with an evaluation set",
			func() any { return DefaultDecontaminateConfig() }, func(c any) (pipeline.Stage, error) { return NewDecontaminate(*c.(*DecontaminateConfig)) }),
	}
}

func stage(name, help string, defaults func() any, build func(any) (pipeline.Stage, error)) pipeline.StepDef {
	return pipeline.StepDef{
		Name:     name,
		Kind:     pipeline.KindStage,
		Help:     help,
		Defaults: defaults,
		New: func(cfg any) (any, error) {
			s, err := build(cfg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return s, nil
		},
	}
}
