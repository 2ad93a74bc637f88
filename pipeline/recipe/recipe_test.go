package recipe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
)

type thresholdCfg struct {
	MinWords int      `param:"min_words"`
	Ratio    float64  `param:"ratio"`
	Words    []string `param:"words"`
	Seed     int64    `param:"seed"`
	Path     string   `param:"path"`
}

type nopStage struct{}

func (nopStage) Name() string                    { return "nop" }
func (nopStage) Apply(*pipeline.Document) string { return "" }

type nopOutput struct{}

func (nopOutput) Name() string                                      { return "out" }
func (nopOutput) OpenTask(string, int) (pipeline.TaskWriter, error) { return nil, nil }
func (nopOutput) Finish(string, int) error                          { return nil }

func testRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	r.Add(pipeline.StepDef{Name: "threshold", Kind: pipeline.KindStage,
		Defaults: func() any { return &thresholdCfg{MinWords: 50, Ratio: 0.1, Words: []string{"the"}} },
		New: func(c any) (any, error) {
			if c.(*thresholdCfg).MinWords < 0 {
				return nil, errors.New("min_words must not be negative")
			}
			return nopStage{}, nil
		}})
	r.Add(pipeline.StepDef{Name: "writer", Kind: pipeline.KindOutput,
		Defaults: func() any { return &struct{}{} },
		New:      func(any) (any, error) { return nopOutput{}, nil }})
	return r
}

// writeRecipe puts a recipe and one data file in a temp folder.
func writeRecipe(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodRecipe = `name: t
inputs:
  - name: main
    paths: [a.jsonl]
    format: jsonl
    source: web
stages:
  - threshold: {min_words: 10}
  - threshold
outputs:
  docs: [jsonl.zst, parquet]
  rejected_sample: 0.5
  steps: [writer]
run: {workers: 3, seed: 9}
`

func TestLoadGood(t *testing.T) {
	p := writeRecipe(t, goodRecipe)
	r, err := Load(p, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(testRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs[0].Files) != 1 || filepath.Base(res.Inputs[0].Files[0]) != "a.jsonl" {
		t.Fatalf("files %v", res.Inputs[0].Files)
	}
	c0 := res.Stages[0].Config.(*thresholdCfg)
	c1 := res.Stages[1].Config.(*thresholdCfg)
	if c0.MinWords != 10 || c1.MinWords != 50 || c0.Seed != 9 || c1.Seed != 9 {
		t.Fatalf("configs %+v %+v", c0, c1)
	}
	if r.Run.Workers != 3 || r.Outputs.RejectedSample != 0.5 || len(res.Outputs) != 1 {
		t.Fatalf("run %+v outputs %+v", r.Run, r.Outputs)
	}
	norm := string(res.Normalized)
	for _, want := range []string{"min_words: 10", "min_words: 50", "ratio: 0.1", "seed: 9", "paths:\n      - a.jsonl", "rejected_sample: 0.5"} {
		if !strings.Contains(norm, want) {
			t.Errorf("normalised recipe lacks %q:\n%s", want, norm)
		}
	}
	if strings.Contains(norm, "workers") {
		t.Errorf("workers must not be part of the normalised recipe:\n%s", norm)
	}
	// The normalised recipe is itself a valid recipe with the same identity.
	r2, err := Parse("norm.yaml", filepath.Dir(p), res.Normalized, LoadOptions{})
	if err != nil {
		t.Fatalf("normalised recipe does not load: %v\n%s", err, norm)
	}
	res2, err := r2.Resolve(testRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res2.Normalized) != norm {
		t.Fatalf("normalising is not idempotent:\n%s\n---\n%s", norm, res2.Normalized)
	}
}

func TestSetOverrides(t *testing.T) {
	p := writeRecipe(t, goodRecipe)
	r, err := Load(p, LoadOptions{Sets: []string{"threshold.min_words=7", "threshold.words=a,b", "run.seed=3", "outputs.rejected_sample=0.25"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(testRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Stages {
		c := s.Config.(*thresholdCfg)
		if c.MinWords != 7 || strings.Join(c.Words, "|") != "a|b" || c.Seed != 3 {
			t.Fatalf("config %+v", c)
		}
	}
	if r.Outputs.RejectedSample != 0.25 {
		t.Fatal(r.Outputs.RejectedSample)
	}
	for _, bad := range []struct{ set, want string }{
		{"nosuch.x=1", `no step "nosuch"`},
		{"threshold", "want NAME.PARAM=VALUE"},
		{"run.speed=1", "unknown run option"},
		{"outputs.rejected_sample=2", "between 0 and 1"},
	} {
		_, err := Load(p, LoadOptions{Sets: []string{bad.set}})
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "--set "+bad.set) {
			t.Errorf("--set %s: got %v, want %q", bad.set, err, bad.want)
		}
	}
	// A --set of the wrong type fails at resolve, naming the flag.
	r, err = Load(p, LoadOptions{Sets: []string{"threshold.min_words=many"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(testRegistry(), nil); err == nil || !strings.Contains(err.Error(), "--set threshold.min_words=many") {
		t.Fatalf("got %v", err)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data", "corpus"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "corpus", "x.jsonl"), []byte("{}\n"), 0o644)
	env := map[string]string{"KILN_DATA": filepath.Join(dir, "data")}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	text := `inputs:
  - paths: ["${KILN_DATA}/corpus/*.jsonl", "${NOPE:-${KILN_DATA}}/corpus/x.jsonl"]
    format: jsonl
stages:
  - threshold: {path: "$${literal}/${KILN_DATA}"}
`
	r, err := Parse("e.yaml", dir, []byte(text), LoadOptions{Getenv: getenv})
	if err == nil {
		// Nested defaults are not supported: the default is taken literally
		// up to the first '}', which leaves a stray '}' in the glob.
		_, err = r.Resolve(testRegistry(), nil)
	}
	if err == nil {
		t.Fatal("nested ${...} in a default should not resolve")
	}
	text = strings.Replace(text, "${NOPE:-${KILN_DATA}}/corpus/x.jsonl", "${NOPE:-data}/corpus/x.jsonl", 1)
	r, err = Parse("e.yaml", dir, []byte(text), LoadOptions{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(testRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs[0].Files) != 1 {
		t.Fatalf("files %v (globs %v)", res.Inputs[0].Files, r.Inputs[0].Globs)
	}
	if got := res.Stages[0].Config.(*thresholdCfg).Path; got != "${literal}/"+env["KILN_DATA"] {
		t.Fatalf("path %q", got)
	}
	if !strings.Contains(string(res.Normalized), "path: $${literal}/${KILN_DATA}") {
		t.Fatalf("normalised recipe must keep parameters with variables as written:\n%s", res.Normalized)
	}
	if !strings.Contains(string(res.Normalized), "${KILN_DATA}/corpus/*.jsonl") {
		t.Fatalf("normalised recipe must keep globs as written:\n%s", res.Normalized)
	}
}

// Every error names the file, the line and the key.
func TestErrorsNameFileLineKey(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unknown top key", "inputs: []\nstagez: []\n", "r.yaml:2: stagez: unknown key"},
		{"no inputs", "stages: []\n", "r.yaml:1: inputs: missing"},
		{"inputs not a list", "inputs: {a: 1}\n", "r.yaml:1: inputs: want a list"},
		{"unknown input key", "inputs:\n  - paths: a.jsonl\n    formatt: jsonl\n", "r.yaml:3: inputs[0].formatt: unknown key"},
		{"missing paths", "inputs:\n  - format: jsonl\n", "r.yaml:2: inputs[0].paths: missing"},
		{"paths wrong type", "inputs:\n  - paths: {a: b}\n", "r.yaml:2: inputs[0].paths: want a string or a list"},
		{"bool wrong type", "inputs:\n  - paths: a.jsonl\n    paragraphs: maybe\n", "r.yaml:3: inputs[0].paragraphs: want true or false"},
		{"int wrong type", "inputs:\n  - paths: a.jsonl\n    task_bytes: 1.5\n", "r.yaml:3: inputs[0].task_bytes: want an integer"},
		{"missing file", "inputs:\n  - paths: [a.jsonl, b/*.jsonl]\n", `r.yaml:2: inputs[0].paths[1]: no input files match "b/*.jsonl"`},
		{"unset var", "inputs:\n  - paths: ${NOT_SET_ANYWHERE}/a\n", "r.yaml:2: inputs[0].paths: variable NOT_SET_ANYWHERE is not set"},
		{"unknown step", "inputs:\n  - paths: a.jsonl\nstages:\n  - threshold\n  - gopher\n", `r.yaml:5: stages[1].gopher: unknown step "gopher" (known: threshold, writer)`},
		{"bad param name", "inputs:\n  - paths: a.jsonl\nstages:\n  - threshold:\n      min_wordz: 3\n", `r.yaml:5: stages[0].threshold.min_wordz: unknown parameter "min_wordz"`},
		{"bad param type", "inputs:\n  - paths: a.jsonl\nstages:\n  - threshold:\n      ratio: 0.5\n      min_words: lots\n", `r.yaml:6: stages[0].threshold.min_words: parameter "min_words"`},
		{"params not a mapping", "inputs:\n  - paths: a.jsonl\nstages:\n  - threshold: [1]\n", "r.yaml:4: stages[0].threshold: want the step's parameters as a mapping"},
		{"New rejects", "inputs:\n  - paths: a.jsonl\nstages:\n  - threshold: {min_words: -1}\n", "r.yaml:4: stages[0].threshold: min_words must not be negative"},
		{"output as stage", "inputs:\n  - paths: a.jsonl\nstages:\n  - writer\n", "r.yaml:4: stages[0].writer: step \"writer\" is an output"},
		{"stage as output", "inputs:\n  - paths: a.jsonl\noutputs:\n  steps: [threshold]\n", "r.yaml:4: outputs.steps[0].threshold: step \"threshold\" is a stage"},
		{"bad docs format", "inputs:\n  - paths: a.jsonl\noutputs:\n  docs: csv\n", `r.yaml:4: outputs.docs: unknown docs format "csv"`},
		{"sample range", "inputs:\n  - paths: a.jsonl\noutputs:\n  rejected_sample: 1.5\n", "r.yaml:4: outputs.rejected_sample: want a fraction"},
		{"workers type", "inputs:\n  - paths: a.jsonl\nrun:\n  workers: two\n", "r.yaml:4: run.workers: want an integer"},
		{"duplicate key", "inputs:\n  - paths: a.jsonl\n    paths: b.jsonl\n", "r.yaml:3: inputs[0].paths: key given twice"},
		{"duplicate input name", "inputs:\n  - {name: x, paths: a.jsonl}\n  - {name: x, paths: a.jsonl}\n", `r.yaml:3: inputs[1]: input name "x" used twice`},
		{"yaml syntax", "inputs: [\n", "r.yaml: yaml:"},
		{"two documents", "inputs: []\n---\nname: x\n", "r.yaml:2: a recipe is one YAML document"},
		{"alias", "inputs:\n  - paths: a.jsonl\nstages:\n  - threshold: {words: &w [a], path: x}\n  - threshold: {words: *w}\n", "aliases are not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeRecipe(t, c.text)
			r, err := Load(p, LoadOptions{Getenv: func(string) (string, bool) { return "", false }})
			if err == nil {
				_, err = r.Resolve(testRegistry(), nil)
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			msg := strings.Replace(err.Error(), p, "r.yaml", -1)
			if !strings.Contains(msg, c.want) {
				t.Fatalf("error\n  %s\nwant it to contain\n  %s", msg, c.want)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *recipe.Error", err)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodRecipe))
	f.Add([]byte("inputs:\n  - paths: ${KILN_DATA:-x}/a\nstages: [threshold, {threshold: {words: [a, b]}}]\n"))
	f.Add([]byte("inputs: [{paths: [a.jsonl], task_bytes: 9999999999999999999999}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("inputs:\n  - paths: \"${\"\n"))
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{}\n"), 0o644)
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.yaml", dir, data, LoadOptions{Getenv: func(string) (string, bool) { return "", false }})
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for _, in := range r.Inputs {
			for _, g := range in.Globs {
				// Globs escaping the temp folder could walk the whole disk:
				// slow, not wrong, and not what this target is about.
				if !strings.HasPrefix(g, dir+string(filepath.Separator)) || strings.Count(g, "*")+strings.Count(g, "?")+strings.Count(g, "[") > 2 {
					return
				}
			}
		}
		res, err := r.Resolve(reg, nil)
		if err != nil {
			return
		}
		// A recipe that resolves normalises to a recipe that resolves to the
		// same text.
		r2, err := Parse("norm.yaml", dir, res.Normalized, LoadOptions{Getenv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatalf("normalised recipe does not parse: %v\n%s", err, res.Normalized)
		}
		res2, err := r2.Resolve(reg, nil)
		if err != nil {
			t.Fatalf("normalised recipe does not resolve: %v\n%s", err, res.Normalized)
		}
		if string(res2.Normalized) != string(res.Normalized) {
			t.Fatalf("not idempotent:\n%s\n---\n%s", res.Normalized, res2.Normalized)
		}
	})
}
