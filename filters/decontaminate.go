package filters

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/kilnlm/kiln/filters/text"
	"github.com/kilnlm/kiln/pipeline"
)

// DecontaminateConfig configures n-gram decontamination against an
// evaluation set: a JSONL file whose records hold the benchmark's prompts
// and answers in the named fields.
type DecontaminateConfig struct {
	EvalFile string   `param:"eval_file" help:"JSONL evaluation set, plain or .gz (required)"`
	Fields   []string `param:"fields" help:"record fields whose text is indexed; missing fields are skipped"`
	NGram    int      `param:"n_gram" help:"n-gram size in normalised words"`
	Mode     string   `param:"mode" help:"drop (reason decontaminated) or flag (metadata contaminated=true)"`
}

// DefaultDecontaminateConfig returns the defaults: 13-grams (GPT-3's and
// DCLM's choice), the common prompt/answer field names, drop mode.
func DefaultDecontaminateConfig() *DecontaminateConfig {
	return &DecontaminateConfig{Fields: []string{"problem", "solution", "question", "answer", "prompt", "canonical_solution", "text"}, NGram: 13, Mode: "drop"}
}

// NGramIndex is the set of n-gram hashes of an evaluation set.
type NGramIndex struct {
	N       int
	grams   map[uint64]int32 // n-gram hash -> 1-based record number of first occurrence
	Records int              // records read
	Short   int              // field texts shorter than N words (not indexed)
}

// Len returns the number of distinct n-grams.
func (ix *NGramIndex) Len() int { return len(ix.grams) }

// ParseEvalSet reads a JSONL evaluation set and indexes the n-grams of the
// given fields. Blank lines are skipped; a line that is not a JSON object
// is an error naming the line.
func ParseEvalSet(r io.Reader, name string, fields []string, n int) (*NGramIndex, error) {
	if n < 1 {
		return nil, fmt.Errorf("n_gram must be at least 1, got %d", n)
	}
	ix := &NGramIndex{N: n, grams: make(map[uint64]int32)}
	br := bufio.NewReaderSize(r, 1<<16)
	var hs []uint64
	for line := 1; ; line++ {
		raw, err := br.ReadBytes('\n')
		if len(strings.TrimSpace(string(raw))) > 0 {
			var rec map[string]any
			if jerr := json.Unmarshal(raw, &rec); jerr != nil {
				return nil, fmt.Errorf("%s line %d: %w", name, line, jerr)
			}
			if rec == nil {
				return nil, fmt.Errorf("%s line %d: not a JSON object", name, line)
			}
			ix.Records++
			for _, f := range fields {
				s, ok := rec[f].(string)
				if !ok {
					continue
				}
				hs = normWordHashes(hs[:0], s)
				if len(hs) < n {
					ix.Short++
					continue
				}
				eachNGram(hs, n, func(h uint64, _ int) bool {
					if _, dup := ix.grams[h]; !dup {
						ix.grams[h] = int32(line)
					}
					return true
				})
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
	}
	return ix, nil
}

// normWordHashes appends the hashes of s's normalised words: Unicode words
// (punctuation and spacing dropped), lowercased.
func normWordHashes(dst []uint64, s string) []uint64 {
	var buf [256]string
	for len(s) > 0 {
		cut := len(s)
		if cut > 8192 {
			if sp := strings.IndexAny(s[8192:], " \n\t"); sp >= 0 {
				cut = 8192 + sp
			}
		}
		for _, w := range text.AppendWords(buf[:0], s[:cut]) {
			dst = append(dst, xxhash.Sum64String(lowerASCIIFast(w)))
		}
		s = s[cut:]
	}
	return dst
}

// eachNGram calls fn with the rolling hash of every n-gram of hs and its
// start; O(len(hs)) whatever n.
func eachNGram(hs []uint64, n int, fn func(h uint64, start int) bool) {
	if len(hs) < n {
		return
	}
	pow := uint64(1)
	for i := 0; i < n; i++ {
		pow *= polyBase
	}
	var h uint64
	for i, x := range hs {
		h = h*polyBase + x
		if i >= n {
			h -= hs[i-n] * pow
		}
		if i >= n-1 && !fn(h, i-n+1) {
			return
		}
	}
}

// Decontaminate drops or flags documents sharing an n-gram with the
// evaluation set.
type Decontaminate struct {
	cfg DecontaminateConfig
	ix  *NGramIndex
}

// NewDecontaminate loads the evaluation set once and builds the stage.
func NewDecontaminate(cfg DecontaminateConfig) (*Decontaminate, error) {
	if cfg.Mode != "drop" && cfg.Mode != "flag" {
		return nil, fmt.Errorf("mode must be drop or flag, got %q", cfg.Mode)
	}
	if cfg.EvalFile == "" {
		return nil, fmt.Errorf("eval_file is required")
	}
	f, err := os.Open(cfg.EvalFile)
	if err != nil {
		return nil, fmt.Errorf("open eval set: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(cfg.EvalFile, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.EvalFile, err)
		}
		defer zr.Close()
		r = zr
	}
	ix, err := ParseEvalSet(r, cfg.EvalFile, cfg.Fields, cfg.NGram)
	if err != nil {
		return nil, err
	}
	if ix.Len() == 0 {
		return nil, fmt.Errorf("%s: no %d-grams found in fields %v of %d records", cfg.EvalFile, cfg.NGram, cfg.Fields, ix.Records)
	}
	return NewDecontaminateIndex(cfg, ix), nil
}

// DependsOn implements pipeline.FileDependent: the evaluation set.
func (d *Decontaminate) DependsOn() []string {
	if d.cfg.EvalFile == "" {
		return nil
	}
	return []string{d.cfg.EvalFile}
}

// NewDecontaminateIndex builds the stage on an index already built.
func NewDecontaminateIndex(cfg DecontaminateConfig, ix *NGramIndex) *Decontaminate {
	return &Decontaminate{cfg: cfg, ix: ix}
}

// Index returns the evaluation-set index.
func (dc *Decontaminate) Index() *NGramIndex { return dc.ix }

// Name implements pipeline.Stage.
func (*Decontaminate) Name() string { return "decontaminate" }

// Match returns the 1-based eval-set line of the first n-gram s shares with
// the evaluation set, or 0.
func (dc *Decontaminate) Match(s string) int {
	hs := normWordHashes(make([]uint64, 0, len(s)/5), s)
	hit := 0
	eachNGram(hs, dc.ix.N, func(h uint64, _ int) bool {
		if rec, ok := dc.ix.grams[h]; ok {
			hit = int(rec)
			return false
		}
		return true
	})
	return hit
}

// Apply implements pipeline.Stage.
func (dc *Decontaminate) Apply(d *pipeline.Document) string {
	rec := dc.Match(d.Text)
	if rec == 0 {
		return ""
	}
	if dc.cfg.Mode == "flag" {
		d.SetMeta("contaminated", true)
		d.SetMeta("contamination_record", rec)
		return ""
	}
	return "decontaminated"
}
