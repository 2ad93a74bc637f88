package recipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kilnlm/kiln/pipeline"
	"go.yaml.in/yaml/v3"
)

// maxRecipeBytes bounds a recipe file; recipes are hand-written and a
// multi-megabyte one is a mistake (or a hostile input).
const maxRecipeBytes = 4 << 20

// LoadOptions tune Load.
type LoadOptions struct {
	// Getenv looks variables up for ${VAR}; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Sets are --set NAME.PARAM=VALUE overrides applied after parsing.
	Sets []string
}

// Load reads and parses a recipe file. It checks structure and types but
// not step names or input files; Resolve does that against a registry.
func Load(path string, o LoadOptions) (*Recipe, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", path, err)
	}
	return Parse(path, filepath.Dir(abs), b, o)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecipeBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecipeBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxRecipeBytes)
	}
	return b, nil
}

// Parse parses recipe bytes; file names the recipe in errors and dir is the
// folder relative input globs are resolved against.
func Parse(file, dir string, data []byte, o LoadOptions) (*Recipe, error) {
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	p := &parser{file: file, dir: dir, env: o.Getenv}
	r := &Recipe{File: file, Dir: dir, Outputs: Outputs{Rejected: true, RejectedSample: 1}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errAt(Pos{File: file}, "empty recipe")
		}
		return nil, errAt(Pos{File: file}, "yaml: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errAt(Pos{File: file, Line: extra.Line}, "a recipe is one YAML document; found a second")
	}
	if len(doc.Content) != 1 {
		return nil, errAt(Pos{File: file}, "empty recipe")
	}
	root := doc.Content[0]
	top := Pos{File: file, Line: root.Line}
	fields, err := p.mapping(root, top, []string{"name", "description", "inputs", "stages", "outputs", "run"})
	if err != nil {
		return nil, err
	}
	if n, ok := fields["name"]; ok {
		if r.Name, err = p.str(n.v, n.pos); err != nil {
			return nil, err
		}
	}
	if n, ok := fields["description"]; ok {
		if r.Description, err = p.str(n.v, n.pos); err != nil {
			return nil, err
		}
	}
	in, ok := fields["inputs"]
	if !ok {
		return nil, errAt(top.child("inputs", 0), "missing: a recipe needs at least one input")
	}
	if r.Inputs, err = p.inputs(in.v, in.pos); err != nil {
		return nil, err
	}
	if n, ok := fields["stages"]; ok {
		if r.Stages, err = p.steps(n.v, n.pos); err != nil {
			return nil, err
		}
	}
	if n, ok := fields["outputs"]; ok {
		if err := p.outputs(n.v, n.pos, &r.Outputs); err != nil {
			return nil, err
		}
	}
	if len(r.Outputs.Formats) == 0 {
		r.Outputs.Formats = []string{FormatJSONLZstd}
	}
	if n, ok := fields["run"]; ok {
		if err := p.run(n.v, n.pos, &r.Run); err != nil {
			return nil, err
		}
	}
	if r.Name == "" {
		r.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	for _, s := range o.Sets {
		if err := r.Set(s); err != nil {
			return nil, err
		}
	}
	return r, nil
}

type parser struct {
	file string
	dir  string
	env  func(string) (string, bool)
}

type field struct {
	v   *yaml.Node
	pos Pos
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// mapping checks n is a mapping with only the known keys and returns them.
func (p *parser) mapping(n *yaml.Node, at Pos, known []string) (map[string]field, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(at, "want a mapping, got %s", kindName(n))
	}
	out := make(map[string]field)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := at.child(k.Value, k.Line)
		if k.Kind != yaml.ScalarNode {
			return nil, errAt(Pos{File: at.File, Line: k.Line, Key: at.Key}, "keys must be plain strings")
		}
		if !contains(known, k.Value) {
			return nil, errAt(kp, "unknown key %q (known: %s)", k.Value, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, errAt(kp, "key given twice")
		}
		out[k.Value] = field{v: v, pos: kp}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) str(n *yaml.Node, at Pos) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", errAt(at, "want a string, got %s", kindName(n))
	}
	return p.expand(n.Value, at)
}

func (p *parser) strList(n *yaml.Node, at Pos) ([]string, []Pos, error) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		s, err := p.str(n, at)
		return []string{s}, []Pos{at}, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, nil, errAt(at, "want a string or a list of strings, got %s", kindName(n))
	}
	// An explicit empty list stays non-nil: for meta_fields it means "no
	// fields", where an absent key means "all of them".
	out := []string{}
	var pos []Pos
	for i, c := range n.Content {
		cp := at.child(fmt.Sprintf("[%d]", i), c.Line)
		s, err := p.str(c, cp)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
		pos = append(pos, cp)
	}
	return out, pos, nil
}

// rawList returns a string list without ${VAR} expansion (input globs are
// kept as written for the normalised recipe).
func (p *parser) rawList(n *yaml.Node, at Pos) ([]string, []Pos, error) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}, []Pos{at}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, nil, errAt(at, "want a string or a list of strings, got %s", kindName(n))
	}
	var out []string
	var pos []Pos
	for i, c := range n.Content {
		cp := at.child(fmt.Sprintf("[%d]", i), c.Line)
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			return nil, nil, errAt(cp, "want a string, got %s", kindName(c))
		}
		out = append(out, c.Value)
		pos = append(pos, cp)
	}
	return out, pos, nil
}

func (p *parser) boolean(n *yaml.Node, at Pos) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		return false, errAt(at, "want true or false, got %s", kindName(n))
	}
	return b, nil
}

func (p *parser) integer(n *yaml.Node, at Pos) (int64, error) {
	var v int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		return 0, errAt(at, "want an integer, got %s", kindName(n))
	}
	return v, nil
}

func (p *parser) number(n *yaml.Node, at Pos) (float64, error) {
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil {
		return 0, errAt(at, "want a number, got %s", kindName(n))
	}
	return v, nil
}

var inputKeys = []string{"name", "paths", "format", "source", "text_field", "id_field", "meta_fields", "paragraphs", "max_file_bytes", "task_bytes"}

func (p *parser) inputs(n *yaml.Node, at Pos) ([]Input, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(at, "want a list of inputs, got %s", kindName(n))
	}
	if len(n.Content) == 0 {
		return nil, errAt(at, "a recipe needs at least one input")
	}
	var out []Input
	names := map[string]bool{}
	for i, c := range n.Content {
		ip := at.child(fmt.Sprintf("[%d]", i), c.Line)
		f, err := p.mapping(c, ip, inputKeys)
		if err != nil {
			return nil, err
		}
		in := Input{Pos: ip, Name: fmt.Sprintf("input%d", i)}
		if v, ok := f["name"]; ok {
			if in.Name, err = p.str(v.v, v.pos); err != nil {
				return nil, err
			}
			if !validName(in.Name) {
				return nil, errAt(v.pos, "name %q: use letters, digits, '-' and '_'", in.Name)
			}
		}
		if names[in.Name] {
			return nil, errAt(ip, "input name %q used twice", in.Name)
		}
		names[in.Name] = true
		pv, ok := f["paths"]
		if !ok {
			return nil, errAt(ip.child("paths", 0), "missing: name the input files (globs)")
		}
		if in.Paths, in.PathPos, err = p.rawList(pv.v, pv.pos); err != nil {
			return nil, err
		}
		if len(in.Paths) == 0 {
			return nil, errAt(pv.pos, "empty: name at least one file or glob")
		}
		for j, raw := range in.Paths {
			g, err := p.expand(raw, in.PathPos[j])
			if err != nil {
				return nil, err
			}
			if !filepath.IsAbs(g) {
				g = filepath.Join(p.dir, g)
			}
			in.Globs = append(in.Globs, filepath.Clean(g))
		}
		if fv, ok := f["format"]; ok {
			if in.Format, err = p.str(fv.v, fv.pos); err != nil {
				return nil, err
			}
		}
		if v, ok := f["source"]; ok {
			if in.Source, err = p.str(v.v, v.pos); err != nil {
				return nil, err
			}
		}
		if v, ok := f["text_field"]; ok {
			if in.TextField, err = p.str(v.v, v.pos); err != nil {
				return nil, err
			}
		}
		if v, ok := f["id_field"]; ok {
			if in.IDField, err = p.str(v.v, v.pos); err != nil {
				return nil, err
			}
		}
		if v, ok := f["meta_fields"]; ok {
			if in.MetaFields, _, err = p.strList(v.v, v.pos); err != nil {
				return nil, err
			}
		}
		if v, ok := f["paragraphs"]; ok {
			if in.Paragraphs, err = p.boolean(v.v, v.pos); err != nil {
				return nil, err
			}
		}
		if v, ok := f["max_file_bytes"]; ok {
			if in.MaxFileBytes, err = p.integer(v.v, v.pos); err != nil {
				return nil, err
			}
			if in.MaxFileBytes < 0 {
				return nil, errAt(v.pos, "must not be negative")
			}
		}
		if v, ok := f["task_bytes"]; ok {
			if in.TaskBytes, err = p.integer(v.v, v.pos); err != nil {
				return nil, err
			}
			if in.TaskBytes < 0 {
				return nil, errAt(v.pos, "must not be negative")
			}
		}
		out = append(out, in)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// steps parses a list whose items are either a bare step name or a
// one-key mapping NAME: {params}.
func (p *parser) steps(n *yaml.Node, at Pos) ([]Step, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(at, "want a list of steps, got %s", kindName(n))
	}
	var out []Step
	for i, c := range n.Content {
		sp := at.child(fmt.Sprintf("[%d]", i), c.Line)
		st, err := p.step(c, sp)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (p *parser) step(c *yaml.Node, sp Pos) (Step, error) {
	switch {
	case c.Kind == yaml.ScalarNode && c.Tag == "!!str":
		return Step{Name: c.Value, Pos: sp.child(c.Value, c.Line), Params: pipeline.Params{}, ParamPos: map[string]Pos{}}, nil
	case c.Kind == yaml.MappingNode && len(c.Content) == 2:
		k, v := c.Content[0], c.Content[1]
		if k.Kind != yaml.ScalarNode {
			return Step{}, errAt(sp, "a step name must be a string")
		}
		st := Step{Name: k.Value, Pos: sp.child(k.Value, k.Line), Params: pipeline.Params{}, ParamPos: map[string]Pos{}}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			return st, nil
		}
		if v.Kind != yaml.MappingNode {
			return Step{}, errAt(st.Pos, "want the step's parameters as a mapping, got %s", kindName(v))
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			pk, pv := v.Content[j], v.Content[j+1]
			pp := st.Pos.child(pk.Value, pk.Line)
			if pk.Kind != yaml.ScalarNode {
				return Step{}, errAt(st.Pos, "parameter names must be plain strings")
			}
			if _, dup := st.Params[pk.Value]; dup {
				return Step{}, errAt(pp, "parameter given twice")
			}
			val, err := p.value(pv, pp)
			if err != nil {
				return Step{}, err
			}
			st.Params[pk.Value] = val
			st.ParamPos[pk.Value] = pp
			if hasVar(pv) {
				// Keep the value as written for the normalised recipe, so
				// "${KILN_DATA}/x" does not become a machine's own path.
				var raw any
				if err := pv.Decode(&raw); err == nil {
					if st.RawParams == nil {
						st.RawParams = map[string]any{}
					}
					st.RawParams[pk.Value] = raw
				}
			}
		}
		return st, nil
	}
	return Step{}, errAt(sp, "want a step name or NAME: {param: value}, got %s", kindName(c))
}

// hasVar reports whether any string under n uses ${...}.
func hasVar(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		return n.Tag == "!!str" && strings.Contains(n.Value, "${")
	}
	for _, c := range n.Content {
		if hasVar(c) {
			return true
		}
	}
	return false
}

// value decodes a parameter value to plain Go values, expanding ${VAR} in
// every string.
func (p *parser) value(n *yaml.Node, at Pos) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return nil, errAt(at, "YAML aliases are not allowed in recipes")
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return p.expand(n.Value, at)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, wrapAt(at, err)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := p.value(c, at.child(fmt.Sprintf("[%d]", i), c.Line))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, errAt(at, "mapping keys must be plain strings")
			}
			v, err := p.value(n.Content[i+1], at.child(k.Value, k.Line))
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	}
	return nil, errAt(at, "unsupported value")
}

func (p *parser) outputs(n *yaml.Node, at Pos, o *Outputs) error {
	o.Pos = at
	f, err := p.mapping(n, at, []string{"docs", "rejected", "rejected_sample", "steps"})
	if err != nil {
		return err
	}
	if v, ok := f["docs"]; ok {
		if o.Formats, _, err = p.strList(v.v, v.pos); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, x := range o.Formats {
			if x != FormatJSONLZstd && x != FormatParquet {
				return errAt(v.pos, "unknown docs format %q (known: %s, %s)", x, FormatJSONLZstd, FormatParquet)
			}
			if seen[x] {
				return errAt(v.pos, "format %q given twice", x)
			}
			seen[x] = true
		}
		if len(o.Formats) == 0 {
			return errAt(v.pos, "empty: name at least one format")
		}
	}
	if v, ok := f["rejected"]; ok {
		if o.Rejected, err = p.boolean(v.v, v.pos); err != nil {
			return err
		}
	}
	if v, ok := f["rejected_sample"]; ok {
		if o.RejectedSample, err = p.number(v.v, v.pos); err != nil {
			return err
		}
		if !(o.RejectedSample >= 0 && o.RejectedSample <= 1) {
			return errAt(v.pos, "want a fraction between 0 and 1, got %v", o.RejectedSample)
		}
	}
	if v, ok := f["steps"]; ok {
		if o.Steps, err = p.steps(v.v, v.pos); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) run(n *yaml.Node, at Pos, r *Run) error {
	f, err := p.mapping(n, at, []string{"workers", "seed"})
	if err != nil {
		return err
	}
	if v, ok := f["workers"]; ok {
		w, err := p.integer(v.v, v.pos)
		if err != nil {
			return err
		}
		if w < 0 || w > 1<<16 {
			return errAt(v.pos, "want 0 (one per CPU) to 65536, got %d", w)
		}
		r.Workers = int(w)
	}
	if v, ok := f["seed"]; ok {
		if r.Seed, err = p.integer(v.v, v.pos); err != nil {
			return err
		}
	}
	return nil
}

// Set applies one NAME.PARAM=VALUE override. NAME is a step name (every
// occurrence of it), "run" (workers, seed) or "outputs" (rejected,
// rejected_sample, docs). The value is a string that DecodeParams parses
// into the parameter's type.
func (r *Recipe) Set(s string) error {
	at := Pos{File: "--set " + s}
	lhs, val, ok := strings.Cut(s, "=")
	if !ok {
		return errAt(at, "want NAME.PARAM=VALUE")
	}
	name, param, ok := strings.Cut(lhs, ".")
	if !ok || name == "" || param == "" {
		return errAt(at, "want NAME.PARAM=VALUE")
	}
	switch name {
	case "run":
		switch param {
		case "workers":
			w, err := strconv.Atoi(val)
			if err != nil || w < 0 {
				return errAt(at, "run.workers: want a non-negative integer")
			}
			r.Run.Workers = w
		case "seed":
			v, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return errAt(at, "run.seed: want an integer")
			}
			r.Run.Seed = v
		default:
			return errAt(at, "unknown run option %q (known: workers, seed)", param)
		}
		return nil
	case "outputs":
		switch param {
		case "rejected":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return errAt(at, "outputs.rejected: want true or false")
			}
			r.Outputs.Rejected = b
		case "rejected_sample":
			x, err := strconv.ParseFloat(val, 64)
			if err != nil || !(x >= 0 && x <= 1) {
				return errAt(at, "outputs.rejected_sample: want a fraction between 0 and 1")
			}
			r.Outputs.RejectedSample = x
		case "docs":
			var fs []string
			for _, x := range strings.Split(val, ",") {
				x = strings.TrimSpace(x)
				if x != FormatJSONLZstd && x != FormatParquet {
					return errAt(at, "unknown docs format %q", x)
				}
				fs = append(fs, x)
			}
			r.Outputs.Formats = fs
		default:
			return errAt(at, "unknown outputs option %q (known: docs, rejected, rejected_sample)", param)
		}
		return nil
	}
	n := 0
	for _, list := range [][]Step{r.Stages, r.Outputs.Steps} {
		for i := range list {
			if list[i].Name == name {
				list[i].Params[param] = val
				list[i].ParamPos[param] = at
				delete(list[i].RawParams, param)
				n++
			}
		}
	}
	if n == 0 {
		return errAt(at, "the recipe has no step %q", name)
	}
	return nil
}
