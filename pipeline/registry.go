package pipeline

import (
	"fmt"
	"sort"
)

// StepKind says which contract a registered step implements.
type StepKind int

const (
	KindStage  StepKind = iota // Stage
	KindGlobal                 // GlobalStage
	KindOutput                 // Output
)

func (k StepKind) String() string {
	switch k {
	case KindStage:
		return "stage"
	case KindGlobal:
		return "global"
	case KindOutput:
		return "output"
	}
	return fmt.Sprintf("StepKind(%d)", int(k))
}

// StepDef registers a named recipe step.
type StepDef struct {
	Name string
	Kind StepKind
	Help string
	// Defaults returns a fresh pointer to the step's config struct holding
	// the published defaults; DecodeParams fills it from a recipe.
	Defaults func() any
	// New builds the step from a filled config. It returns a Stage,
	// GlobalStage or Output according to Kind.
	New func(cfg any) (any, error)
}

// Registry maps step names to their definitions. cmd/kiln builds one and
// each package adds its steps; nothing here is global.
type Registry struct {
	defs map[string]StepDef
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{defs: make(map[string]StepDef)} }

// Add registers a step; a duplicate name is a programming error.
func (r *Registry) Add(d StepDef) {
	if _, dup := r.defs[d.Name]; dup {
		panic("pipeline: step registered twice: " + d.Name)
	}
	r.defs[d.Name] = d
}

// Lookup finds a step by name.
func (r *Registry) Lookup(name string) (StepDef, bool) {
	d, ok := r.defs[name]
	return d, ok
}

// List returns every step sorted by name.
func (r *Registry) List() []StepDef {
	out := make([]StepDef, 0, len(r.defs))
	for _, d := range r.defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Build decodes params into the step's defaults and constructs it.
func (r *Registry) Build(name string, p Params) (any, StepDef, error) {
	d, ok := r.Lookup(name)
	if !ok {
		return nil, StepDef{}, fmt.Errorf("unknown step %q", name)
	}
	cfg := d.Defaults()
	if err := DecodeParams(p, cfg); err != nil {
		return nil, d, fmt.Errorf("step %s: %w", name, err)
	}
	s, err := d.New(cfg)
	if err != nil {
		return nil, d, fmt.Errorf("step %s: %w", name, err)
	}
	return s, d, nil
}
