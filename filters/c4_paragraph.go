package filters

import (
	"strings"

	"github.com/kilnlm/kiln/pipeline"
)

// C4ParagraphConfig holds C4's paragraph rule: keep pages with at least
// MinParagraphs lines of at least MinParagraphLen characters.
type C4ParagraphConfig struct {
	MinParagraphs   int    `param:"min_paragraphs" help:"min number of long paragraphs"`
	MinParagraphLen int    `param:"min_paragraph_len" help:"min characters for a paragraph to count"`
	LineDelimiter   string `param:"line_delimiter" help:"paragraph separator"`
}

// DefaultC4ParagraphConfig returns the published defaults.
func DefaultC4ParagraphConfig() *C4ParagraphConfig {
	return &C4ParagraphConfig{MinParagraphs: 3, MinParagraphLen: 200, LineDelimiter: "\n"}
}

// C4Paragraph is the C4 paragraph filter.
type C4Paragraph struct{ cfg C4ParagraphConfig }

// NewC4Paragraph builds the filter.
func NewC4Paragraph(cfg C4ParagraphConfig) (*C4Paragraph, error) {
	if cfg.LineDelimiter == "" {
		cfg.LineDelimiter = "\n"
	}
	return &C4Paragraph{cfg: cfg}, nil
}

// Name implements pipeline.Stage.
func (*C4Paragraph) Name() string { return "c4_paragraph" }

// Apply implements pipeline.Stage.
func (f *C4Paragraph) Apply(d *pipeline.Document) string {
	long, count := 0, 0
	for rest := d.Text; ; {
		p, after, more := strings.Cut(rest, f.cfg.LineDelimiter)
		count++
		if runeLen(p) >= f.cfg.MinParagraphLen {
			long++
		}
		if !more {
			break
		}
		rest = after
	}
	if count < f.cfg.MinParagraphs || long < f.cfg.MinParagraphs {
		return "too_few_paragraphs" // datatrove: "< 3 paragraphs"
	}
	return ""
}
