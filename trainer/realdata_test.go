package trainer

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/kernels"
	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/tokenize"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// readJSONL returns up to n documents built by text from the records of a
// (possibly gzipped) JSONL file.
func readJSONL(t *testing.T, path string, n int, text func(map[string]any) string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []string
	for line := 1; sc.Scan() && len(out) < n; line++ {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		out = append(out, text(rec))
	}
	return out
}

func str(rec map[string]any, k string) string { s, _ := rec[k].(string); return s }

// TestLossFallsOnRealShards tokenizes real web, code and math documents with
// the SmolLM2 tokenizer into shard sets, mixes them with the mixer's loader
// and trains the tiny model: held-out loss per source must fall, and the
// samples of the first and last checkpoints are printed.
func TestLossFallsOnRealShards(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	tok, err := tokenize.Load(shareddata.Path(t, "tokenizers", "smollm2", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	corpora := map[string][]string{
		"web": readJSONL(t, shareddata.Path(t, "corpus", "web", "dclm_labeled.jsonl"), 60, func(r map[string]any) string { return str(r, "text") }),
		"code": readJSONL(t, shareddata.Path(t, "corpus", "code", "humaneval.jsonl.gz"), 80,
			func(r map[string]any) string { return str(r, "prompt") + str(r, "canonical_solution") }),
		"math": readJSONL(t, shareddata.Path(t, "corpus", "math", "gsm8k_train.jsonl"), 150,
			func(r map[string]any) string {
				return "Question: " + str(r, "question") + "\nAnswer: " + str(r, "answer")
			}),
	}
	dir := t.TempDir()
	for name, docs := range corpora {
		w, err := shard.NewWriter(filepath.Join(dir, name), shard.WriterOptions{VocabSize: tok.VocabSize(), Tokenizer: "smollm2", Dataset: name})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			ids := tok.Encode(d, nil)
			if len(ids) == 0 {
				continue
			}
			if err := w.AddDoc(ids, nil, name); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	mixPath := filepath.Join(dir, "mix.yaml")
	spec := `name: real
seed: 3
global_batch_tokens: 512
sources:
  web:  {path: web}
  code: {path: code}
  math: {path: math}
stages:
  - name: s1
    seq_len: 64
    weights: {web: 0.4, code: 0.3, math: 0.3}
`
	if err := os.WriteFile(mixPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	md, err := OpenMixture(mixPath, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	lopts := mixer.LoaderOptions{MicroBatchRows: 4}
	reopen := md.Reopen(lopts)
	data, err := reopen(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Presets()["tiny"]
	cfg.Vocab = tok.VocabSize()
	opt := DefaultOptions()
	opt.Steps, opt.GradAccum, opt.CheckpointEvery = 30, 2, 15
	opt.Schedule = Schedule{Kind: "wsd", LR: 1e-2, MinLR: 1e-3, Warmup: 5, Total: 30, DecayFrac: 0.2}
	opt.SampleTokens = 12
	opt.Prompts = []string{"The", "def add(a, b):", "Question: Tom has 3 apples"}
	var log strings.Builder
	tr, err := New(RunConfig{Dir: filepath.Join(dir, "run"), Model: cfg, Options: opt, Lineage: md.Lineage,
		Backend: kernels.NewCPU(0), Data: data, Reopen: reopen, Evals: md.Evals(4, 64, 2),
		Tokenizer: tokAdapter{tok}, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	before, err := tr.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + log.String())
	after, err := tr.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"web", "code", "math"} {
		t.Logf("held-out %s: %.3f -> %.3f", src, before[src], after[src])
		if after[src] > before[src]-1 {
			t.Errorf("held-out %s loss fell only from %.3f to %.3f", src, before[src], after[src])
		}
	}
	st, err := ReadCheckpointState(filepath.Join(dir, "run", "checkpoints", "step-0000030"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Lineage.Shards) != 3 || st.Lineage.MixtureHash == "" || len(st.Data) == 0 {
		t.Fatalf("checkpoint lineage incomplete: %+v", st.Lineage)
	}
}

type tokAdapter struct{ t *tokenize.Tokenizer }

func (a tokAdapter) Encode(s string) []int32 { return a.t.Encode(s, nil) }
func (a tokAdapter) Decode(ids []int32) string {
	s, err := a.t.DecodeString(ids, false)
	if err != nil {
		return fmt.Sprintf("<decode error: %v>", err)
	}
	return s
}
