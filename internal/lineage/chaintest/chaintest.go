// Package chaintest builds a small but real lineage chain for tests, by
// running Kiln's own code paths in the demo layout:
//
//	TOP/raw/{web,code}.jsonl         generated raw corpora
//	TOP/curate/{web,code}/           curation runs (executor)
//	TOP/tokenizer.json               BPE trained on the curated docs
//	TOP/shards/{web,code}/           shard sets (tokenize.TokenizeDir)
//	TOP/mixture.yaml                 two-stage mixture over ${shards}/{web,code}
//	TOP/train/                       a few steps of a tiny model (trainer)
//
// It is used by the lineage and report tests; it is not test-only code in
// a _test file because two packages share it.
package chaintest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/filters"
	"github.com/kilnlm/kiln/filters/dedup"
	"github.com/kilnlm/kiln/kernels"
	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/pipeline/writers"
	"github.com/kilnlm/kiln/tokenize"
	"github.com/kilnlm/kiln/trainer"
)

// Chain names what Build made.
type Chain struct {
	Top        string
	Curated    map[string]string // source -> curated run dir
	Shards     map[string]string // source -> shard set dir
	Tokenizer  string
	Mixture    string
	Train      string // training run dir
	Checkpoint string // latest checkpoint dir
	Raw        map[string]string
}

// Sources are the sources Build creates.
var Sources = []string{"web", "code"}

// Steps is the number of training steps Build runs; a checkpoint is
// written every CheckpointEvery steps; the second stage starts at
// StageStep.
const (
	Steps           = 6
	CheckpointEvery = 3
	StageStep       = 3
)

// Build makes the chain under top. It takes a few seconds.
func Build(t testing.TB, top string) *Chain {
	t.Helper()
	ctx := context.Background()
	c := &Chain{Top: top, Curated: map[string]string{}, Shards: map[string]string{}, Raw: map[string]string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(top, "raw"), 0o755))
	reg := pipeline.NewRegistry()
	filters.Register(reg)
	dedup.Register(reg)
	tokenize.Register(reg)
	writers.Register(reg)
	for _, src := range Sources {
		raw := filepath.Join(top, "raw", src+".jsonl")
		must(os.WriteFile(raw, genCorpus(src, 40), 0o644))
		c.Raw[src] = raw
		stages := "  - exact_dedup\n"
		if src == "web" {
			stages = "  - gopher_quality\n" + stages
		}
		rp := filepath.Join(top, "raw", src+".yaml")
		must(os.WriteFile(rp, []byte(fmt.Sprintf("name: %s\ninputs:\n  - paths: [%q]\n    format: jsonl\n    source: %s\nstages:\n%soutputs:\n  docs: jsonl.zst\n  rejected: true\n  rejected_sample: 1\n",
			src, raw, src, stages)), 0o644))
		r, err := recipe.Load(rp, recipe.LoadOptions{})
		must(err)
		res, err := r.Resolve(reg, executor.CheckInput)
		must(err)
		dir := filepath.Join(top, "curate", src)
		_, err = executor.Run(ctx, executor.Config{Resolved: res, Dir: dir, Workers: 1, KilnVersion: "chaintest", Deps: executor.DefaultDeps()})
		must(err)
		c.Curated[src] = dir
	}
	// Tokenizer trained on the curated documents of every source.
	var docs []string
	for _, src := range Sources {
		fs, err := filepath.Glob(filepath.Join(c.Curated[src], "docs", "*"))
		must(err)
		docs = append(docs, fs...)
	}
	tr, _, err := tokenize.TrainFiles(ctx, docs, tokenize.TrainOptions{VocabSize: 320, SpecialTokens: []string{"<|endoftext|>"}, PreTokenizer: tokenize.PreGPT2}, 1)
	must(err)
	c.Tokenizer = filepath.Join(top, "tokenizer.json")
	must(tr.WriteFile(c.Tokenizer))
	for _, src := range Sources {
		out := filepath.Join(top, "shards", src)
		cfg := *tokenize.DefaultOutputConfig()
		cfg.Tokenizer = c.Tokenizer
		_, err := tokenize.TokenizeDir(ctx, tokenize.DirOptions{Input: c.Curated[src], Out: out, Workers: 1, Config: cfg, Source: src})
		must(err)
		c.Shards[src] = out
	}
	c.Mixture = filepath.Join(top, "mixture.yaml")
	must(os.WriteFile(c.Mixture, []byte(fmt.Sprintf(`name: chaintest
seed: 7
global_batch_tokens: 128
sources:
  web:  {path: "${shards}/web"}
  code: {path: "${shards}/code"}
vars:
  shards: not-here
stages:
  - name: first
    start: {step: 0}
    seq_len: 32
    weights: {web: 0.8, code: 0.2}
  - name: second
    start: {step: %d}
    seq_len: 32
    weights: {web: 0.4, code: 0.6}
`, StageStep)), 0o644))

	c.Train = filepath.Join(top, "train")
	md, err := trainer.OpenMixture(c.Mixture, 4, map[string]string{"shards": filepath.Join(top, "shards")})
	must(err)
	defer md.Close()
	cfg, err := trainer.LoadConfig("tiny")
	must(err)
	cfg.Vocab = md.Vocab
	opt := trainer.DefaultOptions()
	opt.Steps, opt.CheckpointEvery, opt.MicroRows = Steps, CheckpointEvery, 4
	opt.Schedule = trainer.Schedule{Kind: "wsd", LR: 3e-3, MinLR: 3e-4, Warmup: 1, Total: Steps, DecayFrac: 0.2}
	opt.PeakFLOPS = 1e10 // fixed: measuring the peak would cost time and vary
	opt.SampleTokens = 6
	opt.Prompts = []string{"The ", "func <b>"}
	tok, err := tokenize.Load(c.Tokenizer)
	must(err)
	rc := trainer.RunConfig{Dir: c.Train, Model: cfg, Options: opt, Lineage: md.Lineage, Backend: kernels.NewCPU(1),
		Reopen: md.Reopen(mixerOpts()), Evals: md.Evals(4, 32, 1), Tokenizer: tokAdapter{tok}, Log: io.Discard}
	rc.Data, err = rc.Reopen(nil)
	must(err)
	must(trainer.CopySpecs(c.Train, c.Mixture, cfg, opt))
	run, err := trainer.New(rc)
	must(err)
	err = run.Run(ctx)
	cerr := run.Close()
	must(err)
	must(cerr)
	c.Checkpoint, err = trainer.LatestCheckpoint(c.Train)
	must(err)
	return c
}

// genCorpus writes n English-like documents of one source, plus exact
// duplicates and (for web) too-short junk, as JSONL.
func genCorpus(src string, n int) []byte {
	words := strings.Fields("the of and to in is was for that with on as by at from this were which are be an or had his it have not but all one been she they their we")
	nouns := strings.Fields("river model kiln token shard garden window market harbor engine letter theory number function answer proof")
	var b bytes.Buffer
	line := func(id, text string) {
		fmt.Fprintf(&b, "{\"id\":%q,\"text\":%q}\n", id, text)
	}
	for i := 0; i < n; i++ {
		var sb strings.Builder
		seed := uint64(i*7919 + len(src))
		for s := 0; s < 12; s++ {
			var ws []string
			for w := 0; w < 9; w++ {
				seed = seed*6364136223846793005 + 1442695040888963407
				if w%3 == 1 {
					ws = append(ws, nouns[(seed>>33)%uint64(len(nouns))])
				} else {
					ws = append(ws, words[(seed>>33)%uint64(len(words))])
				}
			}
			ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
			sb.WriteString(strings.Join(ws, " ") + ". ")
		}
		if src == "code" {
			sb.WriteString(fmt.Sprintf("\nfunc f%d(x int) int { return x * %d }\n", i, i))
		}
		text := sb.String()
		line(fmt.Sprintf("%s-%d", src, i), text)
		if i%10 == 3 {
			line(fmt.Sprintf("%s-%d-dup", src, i), text)
		}
		if src == "web" && i%10 == 5 {
			line(fmt.Sprintf("%s-%d-junk", src, i), "Click here. Buy now.")
		}
	}
	return b.Bytes()
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

func mixerOpts() mixer.LoaderOptions { return mixer.LoaderOptions{MicroBatchRows: 4} }
