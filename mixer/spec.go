package mixer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mixture is a parsed mixture spec: named sources and ordered stages.
type Mixture struct {
	Name string `json:"name"`
	// File is the path the spec was read from ("" when parsed from bytes).
	File string `json:"-"`
	Seed uint64 `json:"seed"`
	// GlobalBatchTokens is the tokens per optimizer step (all ranks), used
	// to turn stage starts in steps into tokens and back. 0: unknown.
	GlobalBatchTokens int64 `json:"global_batch_tokens,omitempty"`
	// MaxRepeat is the expected-epochs count above which inspection warns
	// (default 4: repeating data up to about four times costs little).
	MaxRepeat float64  `json:"max_repeat"`
	Sources   []Source `json:"sources"`
	Stages    []Stage  `json:"stages"`
	// Warnings lists non-fatal findings (weights normalised, ...), each
	// naming file:line.
	Warnings []string `json:"-"`
}

// Source is one named input of a mixture: a shard set, and/or declared
// sizes for planning before the shards exist.
type Source struct {
	Name string `json:"name"`
	// Path is the shard set directory, variables expanded and resolved
	// against the mixture file's directory when relative ("" if not set).
	Path string `json:"path,omitempty"`
	// Tokens and Docs are declared sizes, used only for planning when the
	// shard set is not open (Docs may be 0: then Tokens/AvgDocTokens).
	Tokens       int64 `json:"tokens,omitempty"`
	Docs         int64 `json:"docs,omitempty"`
	AvgDocTokens int64 `json:"avg_doc_tokens,omitempty"`
	Line         int   `json:"-"`
}

// Start is where a stage begins: at a step or at a token count (exactly one
// of them is meaningful; Unit says which).
type Start struct {
	Unit  string `json:"unit"` // "step" or "tokens"
	Value int64  `json:"value"`
}

// Stage is one curriculum stage.
type Stage struct {
	Name   string `json:"name"`
	Start  Start  `json:"start"`
	SeqLen int    `json:"seq_len"`
	// Tokens is the stage's declared token budget (0: until the next
	// stage starts; the last stage then runs until stopped).
	Tokens int64 `json:"tokens,omitempty"`
	// Weights is parallel to Mixture.Sources, normalised to sum to 1; 0 for
	// sources the stage does not use.
	Weights []float64 `json:"weights"`
	// MaxEpochs is parallel to Mixture.Sources: a source stops being drawn
	// once it has completed this many passes (0: no limit).
	MaxEpochs []float64 `json:"max_epochs"`
	Line      int       `json:"-"`
}

// SourceIndex returns the index of the named source, or -1.
func (m *Mixture) SourceIndex(name string) int {
	for i, s := range m.Sources {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// Hash identifies the mixture's content (sources, stages, weights, seed),
// so a state restored under a different mixture is recognised as a remix.
//
// Paths, declared sizes and stage token budgets are left out: they serve
// planning and locating data, not what is read (the shard sets' own
// versions are checked separately), so moving the shards is not a remix.
func (m *Mixture) Hash() string {
	c := *m
	c.Sources = make([]Source, len(m.Sources))
	for i, s := range m.Sources {
		c.Sources[i] = Source{Name: s.Name}
	}
	c.Stages = make([]Stage, len(m.Stages))
	for i, st := range m.Stages {
		st.Tokens = 0
		c.Stages[i] = st
	}
	c.MaxRepeat = 0
	b, _ := json.Marshal(&c) // a plain struct: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// LoadOptions controls how a mixture file is read.
type LoadOptions struct {
	// Vars override the spec's `vars:` defaults in ${name} expansions.
	Vars map[string]string
}

// LoadMixture reads and validates a mixture YAML file.
func LoadMixture(path string, opts LoadOptions) (*Mixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mixture: %w", err)
	}
	return ParseMixture(data, path, opts)
}

// specError names file:line:key.
func specError(file string, n *yaml.Node, key, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	if file == "" {
		file = "<mixture>"
	}
	return fmt.Errorf("%s:%d: %s: %s", file, line, key, fmt.Sprintf(format, args...))
}

// ParseMixture parses a mixture spec; file names it in errors and anchors
// relative source paths (may be "").
//
// Format (see docs/mixer.md):
//
//	name: demo
//	seed: 1
//	global_batch_tokens: 8192
//	vars: {shards: shards}
//	sources:
//	  web:  {path: "${shards}/web", tokens: 2M}
//	stages:
//	  - name: stable
//	    start: {step: 0}
//	    seq_len: 1024
//	    weights: {web: 1}
//	    max_epochs: {web: 4}
func ParseMixture(data []byte, file string, opts LoadOptions) (*Mixture, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if file == "" {
			file = "<mixture>"
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, specError(file, &doc, "mixture", "empty document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, specError(file, root, "mixture", "want a mapping at the top level")
	}
	m := &Mixture{File: file, MaxRepeat: 4}
	vars := map[string]string{}
	var sourcesNode, stagesNode *yaml.Node
	// vars first: sources expand them wherever they appear in the file.
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "vars" {
			v := root.Content[i+1]
			if v.Kind != yaml.MappingNode {
				return nil, specError(file, v, "vars", "want a mapping of name: value")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				vars[v.Content[j].Value] = v.Content[j+1].Value
			}
		}
	}
	for k, v := range opts.Vars {
		vars[k] = v
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, specError(file, k, k.Value, "duplicate key")
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			m.Name, err = scalar(file, v, "name")
		case "seed":
			var s int64
			s, err = intScalar(file, v, "seed")
			m.Seed = uint64(s)
		case "global_batch_tokens":
			m.GlobalBatchTokens, err = intScalar(file, v, "global_batch_tokens")
		case "max_repeat":
			m.MaxRepeat, err = floatScalar(file, v, "max_repeat")
			if err == nil && m.MaxRepeat <= 0 {
				err = specError(file, v, "max_repeat", "must be > 0")
			}
		case "vars":
		case "sources":
			sourcesNode = v
		case "stages":
			stagesNode = v
		default:
			err = specError(file, k, k.Value, "unknown key (want name, seed, global_batch_tokens, max_repeat, vars, sources, stages)")
		}
		if err != nil {
			return nil, err
		}
	}
	if m.Name == "" {
		return nil, specError(file, root, "name", "missing")
	}
	if m.GlobalBatchTokens < 0 {
		return nil, specError(file, root, "global_batch_tokens", "must be >= 0")
	}
	if err := m.parseSources(file, sourcesNode, root, vars); err != nil {
		return nil, err
	}
	if err := m.parseStages(file, stagesNode, root); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Mixture) parseSources(file string, n, parent *yaml.Node, vars map[string]string) error {
	if n == nil {
		return specError(file, parent, "sources", "missing")
	}
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return specError(file, n, "sources", "want a non-empty mapping of name: {path, tokens}")
	}
	if len(n.Content)/2 > 255 {
		return specError(file, n, "sources", "at most 255 sources (Batch.SourceOf is a uint8)")
	}
	base := ""
	if m.File != "" {
		base = filepath.Dir(m.File)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		key := "sources." + name
		if name == "" || strings.ContainsAny(name, " \t\n") {
			return specError(file, k, key, "source names must be non-empty without spaces")
		}
		if m.SourceIndex(name) >= 0 {
			return specError(file, k, key, "duplicate source")
		}
		if v.Kind != yaml.MappingNode {
			return specError(file, v, key, "want a mapping with path and/or tokens")
		}
		s := Source{Name: name, Line: k.Line}
		for j := 0; j+1 < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			kk := key + "." + sk.Value
			var err error
			switch sk.Value {
			case "path":
				var p string
				if p, err = scalar(file, sv, kk); err == nil {
					if p, err = expandVars(p, vars); err != nil {
						err = specError(file, sv, kk, "%v", err)
					}
				}
				if err == nil && p != "" && !filepath.IsAbs(p) && base != "" {
					p = filepath.Join(base, p)
				}
				s.Path = p
			case "tokens":
				s.Tokens, err = intScalar(file, sv, kk)
			case "docs":
				s.Docs, err = intScalar(file, sv, kk)
			case "avg_doc_tokens":
				s.AvgDocTokens, err = intScalar(file, sv, kk)
			default:
				err = specError(file, sk, kk, "unknown key (want path, tokens, docs, avg_doc_tokens)")
			}
			if err != nil {
				return err
			}
		}
		if s.Tokens < 0 || s.Docs < 0 || s.AvgDocTokens < 0 {
			return specError(file, v, key, "sizes must be >= 0")
		}
		if s.Path == "" && s.Tokens == 0 {
			return specError(file, v, key, "needs a path (shard set) or declared tokens (for planning)")
		}
		m.Sources = append(m.Sources, s)
	}
	return nil
}

func (m *Mixture) parseStages(file string, n, parent *yaml.Node) error {
	if n == nil {
		return specError(file, parent, "stages", "missing")
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return specError(file, n, "stages", "want a non-empty list")
	}
	for si, v := range n.Content {
		key := fmt.Sprintf("stages[%d]", si)
		if v.Kind != yaml.MappingNode {
			return specError(file, v, key, "want a mapping")
		}
		st := Stage{Line: v.Line, Weights: make([]float64, len(m.Sources)), MaxEpochs: make([]float64, len(m.Sources))}
		haveStart, haveWeights := false, false
		for j := 0; j+1 < len(v.Content); j += 2 {
			k, sv := v.Content[j], v.Content[j+1]
			kk := key + "." + k.Value
			var err error
			switch k.Value {
			case "name":
				st.Name, err = scalar(file, sv, kk)
			case "start":
				st.Start, err = parseStart(file, sv, kk)
				haveStart = true
			case "seq_len":
				var x int64
				x, err = intScalar(file, sv, kk)
				if err == nil && (x < 1 || x > 1<<24) {
					err = specError(file, sv, kk, "must be in [1, 16M]")
				}
				st.SeqLen = int(x)
			case "tokens":
				st.Tokens, err = intScalar(file, sv, kk)
			case "weights":
				err = m.perSource(file, sv, kk, st.Weights)
				haveWeights = true
			case "max_epochs":
				err = m.perSource(file, sv, kk, st.MaxEpochs)
			default:
				err = specError(file, k, kk, "unknown key (want name, start, seq_len, tokens, weights, max_epochs)")
			}
			if err != nil {
				return err
			}
		}
		if st.Name == "" {
			st.Name = fmt.Sprintf("stage%d", si+1)
		}
		for _, prev := range m.Stages {
			if prev.Name == st.Name {
				return specError(file, v, key+".name", "duplicate stage name %q", st.Name)
			}
		}
		if st.SeqLen == 0 {
			return specError(file, v, key+".seq_len", "missing")
		}
		if !haveWeights {
			return specError(file, v, key+".weights", "missing")
		}
		if st.Tokens < 0 {
			return specError(file, v, key+".tokens", "must be >= 0")
		}
		if !haveStart {
			if si > 0 {
				return specError(file, v, key+".start", "missing (only the first stage defaults to step 0)")
			}
			st.Start = Start{Unit: "step"}
		}
		if si == 0 && st.Start.Value != 0 {
			return specError(file, v, key+".start", "the first stage must start at 0")
		}
		sum := 0.0
		for _, w := range st.Weights {
			sum += w
		}
		if sum <= 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
			return specError(file, v, key+".weights", "need at least one positive weight")
		}
		if math.Abs(sum-1) > 1e-9 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s:%d: %s.weights: sum to %g, normalised to 1", orStdin(file), v.Line, key, sum))
		}
		for i := range st.Weights {
			st.Weights[i] /= sum
		}
		if si > 0 {
			prev := m.Stages[si-1]
			a, b := m.startTokens(prev.Start), m.startTokens(st.Start)
			if a >= 0 && b >= 0 && b <= a {
				return specError(file, v, key+".start", "must come after the previous stage's start")
			}
			if a < 0 || b < 0 {
				if prev.Start.Unit != st.Start.Unit {
					return specError(file, v, key+".start", "mixing step and token starts needs global_batch_tokens")
				}
				if st.Start.Value <= prev.Start.Value {
					return specError(file, v, key+".start", "must come after the previous stage's start")
				}
			}
		}
		m.Stages = append(m.Stages, st)
	}
	return nil
}

// startTokens converts a start to tokens (-1 when it needs
// GlobalBatchTokens and the mixture has none).
func (m *Mixture) startTokens(s Start) int64 {
	if s.Unit == "tokens" {
		return s.Value
	}
	if m.GlobalBatchTokens == 0 {
		if s.Value == 0 {
			return 0
		}
		return -1
	}
	return s.Value * m.GlobalBatchTokens
}

func (m *Mixture) perSource(file string, n *yaml.Node, key string, dst []float64) error {
	if n.Kind != yaml.MappingNode {
		return specError(file, n, key, "want a mapping of source: number")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kk := key + "." + k.Value
		d := m.SourceIndex(k.Value)
		if d < 0 {
			return specError(file, k, kk, "unknown source (declare it under sources)")
		}
		if seen[k.Value] {
			return specError(file, k, kk, "duplicate")
		}
		seen[k.Value] = true
		f, err := floatScalar(file, v, kk)
		if err != nil {
			return err
		}
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return specError(file, v, kk, "must be a finite number >= 0")
		}
		dst[d] = f
	}
	return nil
}

func parseStart(file string, n *yaml.Node, key string) (Start, error) {
	if n.Kind == yaml.ScalarNode {
		v, err := intScalar(file, n, key)
		if err != nil {
			return Start{}, err
		}
		return Start{Unit: "step", Value: v}, nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return Start{}, specError(file, n, key, "want {step: N} or {tokens: N}")
	}
	k, v := n.Content[0], n.Content[1]
	if k.Value != "step" && k.Value != "tokens" {
		return Start{}, specError(file, k, key+"."+k.Value, "want step or tokens")
	}
	x, err := intScalar(file, v, key+"."+k.Value)
	if err != nil {
		return Start{}, err
	}
	return Start{Unit: k.Value, Value: x}, nil
}

func scalar(file string, n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", specError(file, n, key, "want a scalar")
	}
	return n.Value, nil
}

func intScalar(file string, n *yaml.Node, key string) (int64, error) {
	s, err := scalar(file, n, key)
	if err != nil {
		return 0, err
	}
	v, err := ParseCount(s)
	if err != nil {
		return 0, specError(file, n, key, "%v", err)
	}
	return v, nil
}

func floatScalar(file string, n *yaml.Node, key string) (float64, error) {
	s, err := scalar(file, n, key)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, specError(file, n, key, "not a number: %q", s)
	}
	return f, nil
}

// ParseCount parses a non-negative count with an optional K, M, B (or G) or
// T suffix (powers of 1000) and optional _ separators: "8T", "2.36M",
// "100_000". Fractions must resolve to a whole number.
func ParseCount(s string) (int64, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	if t == "" {
		return 0, errors.New("empty number")
	}
	mult := 1.0
	switch t[len(t)-1] {
	case 'k', 'K':
		mult = 1e3
	case 'm', 'M':
		mult = 1e6
	case 'b', 'B', 'g', 'G':
		mult = 1e9
	case 't', 'T':
		mult = 1e12
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	if mult == 1 {
		if v, err := strconv.ParseInt(t, 10, 64); err == nil {
			if v < 0 {
				return 0, fmt.Errorf("negative number %q", s)
			}
			return v, nil
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("not a count: %q", s)
	}
	v := f * mult
	if v < 0 {
		return 0, fmt.Errorf("negative number %q", s)
	}
	if v >= 9e18 {
		return 0, fmt.Errorf("number too large: %q", s)
	}
	r := math.Round(v)
	if math.Abs(v-r) > 1e-6*math.Max(1, v) {
		return 0, fmt.Errorf("not a whole number: %q", s)
	}
	return int64(r), nil
}

// expandVars replaces ${name} from vars, falling back to the environment.
func expandVars(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[i+2 : i+j]
		v, ok := vars[name]
		if !ok {
			v, ok = os.LookupEnv(name)
		}
		if !ok {
			return "", fmt.Errorf("undefined variable ${%s} (set it under vars:, with --var %s=VALUE, or in the environment)", name, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

func orStdin(file string) string {
	if file == "" {
		return "<mixture>"
	}
	return file
}
