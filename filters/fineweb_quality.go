package filters

import (
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/kilnlm/kiln/filters/text"
	"github.com/kilnlm/kiln/pipeline"
)

// FineWebQualityConfig holds FineWeb's rules (datatrove FineWebQualityFilter).
type FineWebQualityConfig struct {
	LinePunctThr         float64 `param:"line_punct_thr" help:"drop when under this fraction of lines ends in terminal punctuation"`
	LinePunctExcludeZero bool    `param:"line_punct_exclude_zero" help:"do not drop documents where no line ends in punctuation"`
	ShortLineThr         float64 `param:"short_line_thr" help:"drop when over this fraction of lines is short"`
	ShortLineLength      int     `param:"short_line_length" help:"a line this many chars or fewer is short"`
	CharDuplicatesRatio  float64 `param:"char_duplicates_ratio" help:"max fraction of chars (newlines excluded) in duplicated lines"`
	NewLineRatio         float64 `param:"new_line_ratio" help:"max newlines per word"`
}

// DefaultFineWebQualityConfig returns the published defaults.
func DefaultFineWebQualityConfig() *FineWebQualityConfig {
	return &FineWebQualityConfig{LinePunctThr: 0.12, ShortLineThr: 0.67, ShortLineLength: 30, CharDuplicatesRatio: 0.01, NewLineRatio: 0.3}
}

// FineWebQuality is the FineWeb quality filter.
type FineWebQuality struct {
	cfg      FineWebQualityConfig
	table    tablePool
	features *featureCache // shared with the registry's other filters; nil computes locally
}

// NewFineWebQuality builds the filter.
func NewFineWebQuality(cfg FineWebQualityConfig) (*FineWebQuality, error) {
	return &FineWebQuality{cfg: cfg}, nil
}

// Name implements pipeline.Stage.
func (*FineWebQuality) Name() string { return "fineweb_quality" }

// terminalPunct ends a line for FineWeb's punctuation rule: Latin, CJK,
// Devanagari, Arabic and other scripts' sentence enders.
const terminalPunct = ".!?。！？।॥؟۔‼⁇⁈⁉︒﹒﹖﹗．？！｡።፧፨"

func endsWithTerminal(line string) bool {
	if line == "" {
		return false
	}
	c := line[len(line)-1]
	if c < 0x80 {
		return c == '.' || c == '!' || c == '?'
	}
	for _, r := range terminalPunct {
		if strings.HasSuffix(line, string(r)) {
			return true
		}
	}
	return false
}

// Apply implements pipeline.Stage.
func (f *FineWebQuality) Apply(d *pipeline.Document) string {
	c := &f.cfg
	s := d.Text
	// Two passes over the lines instead of a slice of them: the first
	// counts, the second finds duplicates, and nothing is allocated.
	lines, punct, short := 0, 0, 0
	for rest := s; ; {
		line, after, more := strings.Cut(rest, "\n")
		if strings.TrimSpace(line) != "" {
			lines++
			if endsWithTerminal(line) {
				punct++
			}
			// runeLen is between len/4 and len: only lengths in between
			// need counting.
			if len(line) <= c.ShortLineLength || len(line) <= 4*c.ShortLineLength && runeLen(line) <= c.ShortLineLength {
				short++
			}
		}
		if !more {
			break
		}
		rest = after
	}
	if lines == 0 {
		return "empty"
	}
	n := float64(lines)
	if r := float64(punct) / n; r < c.LinePunctThr && !(r == 0 && c.LinePunctExcludeZero) {
		return "line_punct_ratio"
	}
	if float64(short)/n > c.ShortLineThr {
		return "short_line_ratio"
	}
	t := f.table.get()
	t.reset(lines)
	dupChars := 0
	for rest := s; ; {
		line, after, more := strings.Cut(rest, "\n")
		if strings.TrimSpace(line) != "" {
			if _, found := t.slot(xxhash.Sum64String(line)); found {
				dupChars += runeLen(line)
			}
		}
		if !more {
			break
		}
		rest = after
	}
	f.table.put(t)
	// After c4_quality rewrote the text the shared features are stale:
	// compute only what this filter needs.
	feat := f.features.lookup(s)
	defer f.features.release(feat)
	chars := 0
	if feat != nil {
		chars = feat.chars
	} else {
		chars = runeLen(s)
	}
	nl := strings.Count(s, "\n")
	noNL := chars - nl
	if noNL > 0 && float64(dupChars)/float64(noNL) > c.CharDuplicatesRatio {
		return "char_dup_ratio"
	}
	// list_ratio: newlines per word over the threshold. Only the question
	// "at least nl/ratio words?" matters, so counting stops once enough
	// words are seen.
	if nl == 0 {
		return ""
	}
	if c.NewLineRatio <= 0 {
		return ""
	}
	// need: the fewest words with nl/words <= ratio, settled with the same
	// float comparison the rule states so rounding cannot move the edge.
	need := max(int(float64(nl)/c.NewLineRatio), 1)
	for need > 1 && float64(nl)/float64(need-1) <= c.NewLineRatio {
		need--
	}
	for float64(nl)/float64(need) > c.NewLineRatio {
		need++
	}
	enough := false
	if feat != nil {
		enough = len(feat.words) >= need
	} else {
		enough = text.HasWords(s, need)
	}
	if !enough {
		return "list_ratio"
	}
	return ""
}
