package recipe

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/kilnlm/kiln/pipeline"
	"go.yaml.in/yaml/v3"
)

// Built is a step constructed from the registry.
type Built struct {
	Step Step
	Def  pipeline.StepDef
	// Value is the pipeline.Stage, pipeline.GlobalStage or pipeline.Output.
	Value any
	// Config is the filled config struct (defaults plus recipe params).
	Config any
}

// PlannedInput is an input with its globs matched.
type PlannedInput struct {
	Input
	// Files are the matched paths, sorted and without duplicates.
	Files []string
}

// Resolved is a recipe checked against a registry: every step built, every
// glob matched, and the normalised recipe text that identifies the run.
type Resolved struct {
	Recipe  *Recipe
	Inputs  []PlannedInput
	Stages  []Built
	Outputs []Built
	// Normalized is the recipe as run: every parameter explicit (defaults
	// filled in), globs as written, no comments. It is written to
	// DIR/recipe.yaml and hashed into the dataset version id. Run.Workers
	// is left out because it never changes the output.
	Normalized []byte
}

// CheckInput validates an input's reader configuration (format, fields);
// the executor passes the readers package's constructor.
type CheckInput func(in Input) error

// Resolve builds every step from reg and matches every input glob. check,
// when non-nil, validates each input's reader options.
func (r *Recipe) Resolve(reg *pipeline.Registry, check CheckInput) (*Resolved, error) {
	res := &Resolved{Recipe: r}
	for _, in := range r.Inputs {
		pi := PlannedInput{Input: in}
		seen := map[string]bool{}
		for j, g := range in.Globs {
			m, err := filepath.Glob(g)
			if err != nil {
				return nil, errAt(in.PathPos[j], "bad glob %q: %v", in.Paths[j], err)
			}
			if len(m) == 0 {
				if _, err := os.Stat(g); err != nil {
					return nil, errAt(in.PathPos[j], "no input files match %q (expanded: %s)", in.Paths[j], g)
				}
				m = []string{g}
			}
			sort.Strings(m)
			for _, f := range m {
				if !seen[f] {
					seen[f] = true
					pi.Files = append(pi.Files, f)
				}
			}
		}
		sort.Strings(pi.Files)
		if check != nil {
			if err := check(in); err != nil {
				return nil, wrapAt(in.Pos, err)
			}
		}
		res.Inputs = append(res.Inputs, pi)
	}
	stages, err := r.BuildStages(reg)
	if err != nil {
		return nil, err
	}
	res.Stages = stages
	for _, s := range r.Outputs.Steps {
		b, err := build(reg, s, r.Run.Seed)
		if err != nil {
			return nil, err
		}
		if b.Def.Kind != pipeline.KindOutput {
			return nil, errAt(s.Pos, "step %q is a %s, not an output; list it under stages", s.Name, b.Def.Kind)
		}
		res.Outputs = append(res.Outputs, b)
	}
	norm, err := normalize(res)
	if err != nil {
		return nil, fmt.Errorf("%s: normalise: %w", r.File, err)
	}
	res.Normalized = norm
	return res, nil
}

// BuildStages builds the recipe's stages (not its inputs or outputs), as
// Resolve does: for tools that run a recipe's steps on other documents,
// such as kiln bench filters.
func (r *Recipe) BuildStages(reg *pipeline.Registry) ([]Built, error) {
	var out []Built
	for _, s := range r.Stages {
		b, err := build(reg, s, r.Run.Seed)
		if err != nil {
			return nil, err
		}
		if b.Def.Kind == pipeline.KindOutput {
			return nil, errAt(s.Pos, "step %q is an output; list it under outputs.steps", s.Name)
		}
		out = append(out, b)
	}
	return out, nil
}

func build(reg *pipeline.Registry, s Step, seed int64) (Built, error) {
	def, ok := reg.Lookup(s.Name)
	if !ok {
		var names []string
		for _, d := range reg.List() {
			names = append(names, d.Name)
		}
		known := strings.Join(names, ", ")
		if known == "" {
			known = "none registered"
		}
		return Built{}, errAt(s.Pos, "unknown step %q (known: %s)", s.Name, known)
	}
	// Decode each parameter alone first so an error points at its line.
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := pipeline.DecodeParams(pipeline.Params{k: s.Params[k]}, def.Defaults()); err != nil {
			return Built{}, wrapAt(s.ParamPos[k], err)
		}
	}
	cfg := def.Defaults()
	params := s.Params
	if _, has := s.Params["seed"]; !has && hasParam(cfg, "seed") {
		params = pipeline.Params{}
		for k, v := range s.Params {
			params[k] = v
		}
		params["seed"] = seed
	}
	if err := pipeline.DecodeParams(params, cfg); err != nil {
		return Built{}, wrapAt(s.Pos, err)
	}
	v, err := def.New(cfg)
	if err != nil {
		return Built{}, wrapAt(s.Pos, err)
	}
	return Built{Step: s, Def: def, Value: v, Config: cfg}, nil
}

func hasParam(cfg any, name string) bool {
	for _, d := range pipeline.DescribeParams(cfg) {
		if d.Name == name {
			return true
		}
	}
	return false
}

// paramNode encodes a filled config struct as a YAML mapping of every
// parameter, in field order.
func paramNode(cfg any, raw map[string]any) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode, Style: 0}
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return m, nil
	}
	v = v.Elem()
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		name := sf.Tag.Get("param")
		if name == "" || !sf.IsExported() {
			continue
		}
		var val yaml.Node
		fv := v.Field(i).Interface()
		if r, ok := raw[name]; ok {
			fv = r
		}
		if err := val.Encode(fv); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		m.Content = append(m.Content, scalar(name), &val)
	}
	return m, nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func kv(m *yaml.Node, k string, v any) error {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return err
	}
	m.Content = append(m.Content, scalar(k), &n)
	return nil
}

func stepsNode(bs []Built) (*yaml.Node, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, b := range bs {
		pn, err := paramNode(b.Config, b.Step.RawParams)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", b.Step.Name, err)
		}
		item := &yaml.Node{Kind: yaml.MappingNode}
		if len(pn.Content) == 0 {
			pn = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		item.Content = append(item.Content, scalar(b.Step.Name), pn)
		seq.Content = append(seq.Content, item)
	}
	return seq, nil
}

func normalize(res *Resolved) ([]byte, error) {
	r := res.Recipe
	root := &yaml.Node{Kind: yaml.MappingNode}
	if err := kv(root, "name", r.Name); err != nil {
		return nil, err
	}
	if r.Description != "" {
		if err := kv(root, "description", r.Description); err != nil {
			return nil, err
		}
	}
	ins := &yaml.Node{Kind: yaml.SequenceNode}
	for _, in := range r.Inputs {
		m := &yaml.Node{Kind: yaml.MappingNode}
		fields := []struct {
			k string
			v any
		}{
			{"name", in.Name}, {"paths", in.Paths}, {"format", in.Format}, {"source", in.Source},
			{"text_field", in.TextField}, {"id_field", in.IDField}, {"meta_fields", in.MetaFields},
			{"paragraphs", in.Paragraphs}, {"max_file_bytes", in.MaxFileBytes}, {"task_bytes", in.TaskBytes},
		}
		for i, f := range fields {
			// Reader options left at their zero value mean "the reader's
			// default" and are omitted; name, paths, format and source stay.
			if i >= 4 && reflect.ValueOf(f.v).IsZero() {
				continue
			}
			if err := kv(m, f.k, f.v); err != nil {
				return nil, err
			}
		}
		ins.Content = append(ins.Content, m)
	}
	root.Content = append(root.Content, scalar("inputs"), ins)
	st, err := stepsNode(res.Stages)
	if err != nil {
		return nil, err
	}
	root.Content = append(root.Content, scalar("stages"), st)
	outs := &yaml.Node{Kind: yaml.MappingNode}
	if err := kv(outs, "docs", r.Outputs.Formats); err != nil {
		return nil, err
	}
	if err := kv(outs, "rejected", r.Outputs.Rejected); err != nil {
		return nil, err
	}
	if err := kv(outs, "rejected_sample", r.Outputs.RejectedSample); err != nil {
		return nil, err
	}
	os, err := stepsNode(res.Outputs)
	if err != nil {
		return nil, err
	}
	outs.Content = append(outs.Content, scalar("steps"), os)
	root.Content = append(root.Content, scalar("outputs"), outs)
	run := &yaml.Node{Kind: yaml.MappingNode}
	if err := kv(run, "seed", r.Run.Seed); err != nil {
		return nil, err
	}
	root.Content = append(root.Content, scalar("run"), run)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
