package mixer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false}, {"100_000", 100000, false}, {"8T", 8e12, false}, {"1.1T", 1.1e12, false},
		{"2.36M", 2360000, false}, {"34B", 34e9, false}, {"600K", 600000, false}, {"1.5", 0, true},
		{"-3", 0, true}, {"", 0, true}, {"T", 0, true}, {"1e30", 0, true}, {"abc", 0, true}, {"NaNK", 0, true},
	} {
		got, err := ParseCount(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseCount(%q) = %d, %v; want %d, bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseMixtureErrorsNameFileLineKey(t *testing.T) {
	base := "name: x\nglobal_batch_tokens: 64\nsources:\n  web: {tokens: 1M}\nstages:\n  - seq_len: 8\n    weights: {web: 1}\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown top key", "name: x\nbogus: 1\n", "m.yaml:2: bogus: unknown key"},
		{"missing name", "seed: 1\n", "m.yaml:1: name: missing"},
		{"unknown source in weights", strings.Replace(base, "{web: 1}", "{web: 1, code: 1}", 1), "m.yaml:7: stages[0].weights.code: unknown source"},
		{"negative weight", strings.Replace(base, "{web: 1}", "{web: -1}", 1), "m.yaml:7: stages[0].weights.web: must be a finite number >= 0"},
		{"zero weights", strings.Replace(base, "{web: 1}", "{web: 0}", 1), "m.yaml:6: stages[0].weights: need at least one positive weight"},
		{"bad seq_len", strings.Replace(base, "seq_len: 8", "seq_len: 0", 1), "m.yaml:6: stages[0].seq_len: must be in"},
		{"source without path or tokens", strings.Replace(base, "{tokens: 1M}", "{docs: 3}", 1), "m.yaml:4: sources.web: needs a path"},
		{"bad count", strings.Replace(base, "1M", "1.5.5M", 1), "m.yaml:4: sources.web.tokens: not a count"},
		{"undefined var", strings.Replace(base, "{tokens: 1M}", "{path: \"${nope}/x\"}", 1), "undefined variable ${nope}"},
		{"stage start order", base + "  - start: {step: 0}\n    seq_len: 8\n    weights: {web: 1}\n", "m.yaml:8: stages[1].start: must come after"},
		{"first stage not at 0", strings.Replace(base, "  - seq_len: 8", "  - start: 5\n    seq_len: 8", 1), "stages[0].start: the first stage must start at 0"},
		{"start unit", base + "  - start: {epoch: 3}\n    seq_len: 8\n    weights: {web: 1}\n", "m.yaml:8: stages[1].start.epoch: want step or tokens"},
		{"not yaml", "name: [", "m.yaml: yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMixture([]byte(tc.yaml), "m.yaml", LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWeightsNormalisedWithWarning(t *testing.T) {
	m := mustParse(t, "name: x\nsources:\n  a: {tokens: 1M}\n  b: {tokens: 1M}\nstages:\n  - seq_len: 8\n    weights: {a: 3, b: 1}\n")
	if m.Stages[0].Weights[0] != 0.75 || m.Stages[0].Weights[1] != 0.25 {
		t.Fatalf("weights %v", m.Stages[0].Weights)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "test.yaml:6: stages[0].weights: sum to 4, normalised") {
		t.Fatalf("warnings %q", m.Warnings)
	}
}

func TestShippedMixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		stages []string
		seq    []int
	}{
		{"smollm3.yaml", []string{"stable", "stable-2", "decay"}, []int{4096, 4096, 4096}},
		{"demo.yaml", []string{"foundation", "specialise", "long-context"}, []int{256, 256, 512}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("..", "recipes", "mixtures", tc.file)
			m, err := LoadMixture(path, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) != 0 {
				t.Fatalf("warnings: %v", m.Warnings)
			}
			for i, st := range m.Stages {
				if st.Name != tc.stages[i] || st.SeqLen != tc.seq[i] {
					t.Fatalf("stage %d: %s/%d", i, st.Name, st.SeqLen)
				}
			}
			p, err := Inspect(m, PlanOptions{Tokens: 2_000_000})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Declared) != len(m.Sources) {
				t.Fatalf("declared %v: every source must be planned from declared counts", p.Declared)
			}
			for _, st := range p.Stages {
				if st.MaxDeviation > 0.002 {
					t.Fatalf("stage %s: realised deviates %.4f from target", st.Name, st.MaxDeviation)
				}
				if st.BudgetTokens <= 0 {
					t.Fatalf("stage %s: no budget", st.Name)
				}
			}
			if tc.file == "smollm3.yaml" {
				// 2,359,296 tokens per step: stage 1 is 3.45M steps = 8.14T
				if p.Stages[0].BudgetTokens != 3_450_000*2_359_296 || p.Stages[2].BudgetTokens != 1_100_000_000_000 {
					t.Fatalf("budgets %d %d", p.Stages[0].BudgetTokens, p.Stages[2].BudgetTokens)
				}
				web := 0.0
				for _, n := range []string{"fineweb-edu", "dclm", "fineweb2-hq"} {
					web += m.Stages[0].Weights[m.SourceIndex(n)]
				}
				if web < 0.75 || web > 0.85+1e-9 {
					t.Fatalf("stage 1 web share %.3f, the Playbook says 75-85%%", web)
				}
				found := false
				for _, w := range p.Warnings {
					found = found || strings.Contains(w, "finemath: expected")
				}
				if !found {
					t.Fatalf("no repeat warning for finemath: %v", p.Warnings)
				}
			}
		})
	}
}

func TestDemoPathsRelativeOrVariable(t *testing.T) {
	path := filepath.Join("..", "recipes", "mixtures", "demo.yaml")
	m, err := LoadMixture(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("..", "recipes", "mixtures", "demo-shards", "web"); m.Sources[0].Path != want {
		t.Fatalf("default path %q, want %q", m.Sources[0].Path, want)
	}
	m, err = LoadMixture(path, LoadOptions{Vars: map[string]string{"shards": "/tmp/x"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sources[2].Path != "/tmp/x/math" {
		t.Fatalf("path with --var: %q", m.Sources[2].Path)
	}
}

// FuzzParseMixture feeds arbitrary YAML to the parser and, when it parses,
// to a loader over small in-memory sources: no panics, and whatever is
// accepted yields normalised weights and packs at least one step.
func FuzzParseMixture(f *testing.F) {
	for _, name := range []string{"smollm3.yaml", "demo.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "recipes", "mixtures", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(threeSources))
	f.Add([]byte(remixB))
	f.Add([]byte("name: x\nglobal_batch_tokens: 16\nsources:\n  a: {tokens: 1}\nstages:\n  - seq_len: 4\n    weights: {a: 1e-300}\n    max_epochs: {a: 0.5}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMixture(data, "fuzz.yaml", LoadOptions{Vars: map[string]string{"data": "d", "shards": "s"}})
		if err != nil {
			return
		}
		for _, st := range m.Stages {
			sum := 0.0
			for _, w := range st.Weights {
				sum += w
			}
			if sum < 0.999999 || sum > 1.000001 {
				t.Fatalf("stage %s weights sum to %v", st.Name, sum)
			}
		}
		src := map[string]DocSource{}
		for i, s := range m.Sources {
			src[s.Name] = newMem(i, 5, 1, 9, i%2 == 0)
		}
		for _, st := range m.Stages {
			if st.SeqLen > 4096 {
				return // keep fuzz iterations small
			}
		}
		l, err := NewLoader(m, src, LoaderOptions{GlobalBatchTokens: int64(m.Stages[0].SeqLen) * 2, Prefetch: -1})
		if err != nil {
			return // geometry the options cannot split: a clear error is fine
		}
		defer l.Close()
		if _, err := l.Next(t.Context()); err != nil && !strings.Contains(err.Error(), "epoch limit") {
			t.Fatalf("Next: %v", err)
		}
	})
}

func TestHashIgnoresPathsAndPlanning(t *testing.T) {
	a := mustParse(t, threeSources)
	b := mustParse(t, strings.Replace(strings.Replace(threeSources, "web:  {tokens: 1M}", "web:  {tokens: 5M, path: /elsewhere}", 1), "name: s2\n", "name: s2\n    tokens: 3M\n", 1))
	if a.Hash() != b.Hash() {
		t.Fatal("moving data or changing declared sizes changed the mixture hash (would count as a remix)")
	}
	c := mustParse(t, strings.Replace(threeSources, "math: 0.1}", "math: 0.2}", 1))
	if a.Hash() == c.Hash() {
		t.Fatal("changing a weight kept the hash")
	}
}
