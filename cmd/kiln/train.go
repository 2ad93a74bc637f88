package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnlm/kiln/kernels"
	"github.com/kilnlm/kiln/kernels/cuda"
	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/tokenize"
	"github.com/kilnlm/kiln/trainer"
)

const trainHelp = `usage: kiln train MIXTURE --model CONFIG [-o RUN_DIR] [--steps N] [flags]
       kiln train --resume RUN_DIR [--steps N]
       kiln train --resume RUN_DIR NEW_MIXTURE        (remix: continue under a new mixture)
       kiln train --text FILE --model CONFIG [-o RUN_DIR]   (byte tokens, no shards)

Trains a SmolLM3-family model on the curated shard sets of a mixture through
the mixer's loader. CONFIG is a preset (tiny, small-16m, smollm2-135m,
gpt2-124m, smollm3-3b) or a JSON file with Hugging Face-style field names.
The run directory gets checkpoints/ (atomic, resumable bit-identically),
metrics.jsonl (loss, lr, grad norm, tokens/s, MFU, data wait, per-source
loss), samples/ (greedy and sampled text from fixed prompts at every
checkpoint) and specs/ (copies of the mixture and configs used).

Examples:
  kiln train recipes/mixtures/demo.yaml --model tiny -o runs/demo --steps 200 \
      --tokenizer ../shared/data/tokenizers/smollm2/tokenizer.json
  kiln train recipes/mixtures/demo.yaml --var shards=out/shards --model tiny -o runs/demo
  kiln train --resume runs/demo --steps 400
  kiln train recipes/mixtures/demo.yaml --var shards=out/shards -o runs/demo --steps 290 --stop-at 220
  kiln train --resume runs/demo recipes/mixtures/demo-remix.yaml   # remix at step 220
  kiln train recipes/mixtures/demo.yaml --model smollm2-135m --device cuda -o runs/gpu
  kiln train --text ../shared/data/corpus/books/war-and-peace.txt --model tiny -o runs/wp

Flags:
`

type trainFlags struct {
	model, out, resume, text, tokPath, schedule, spike, prompts, device string
	steps, rows, accum, every, threads, heldOut, vocab, warmup, stopAt  int
	lr, minLR, clip, wd, peak                                           float64
	seed                                                                uint64
	promptsSet                                                          bool
}

func cmdTrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, trainHelp); fs.PrintDefaults() }
	var f trainFlags
	def := trainer.DefaultOptions()
	fs.StringVar(&f.model, "model", "tiny", "model preset or config JSON")
	fs.StringVar(&f.out, "o", "", "run directory (default runs/<mixture name>)")
	fs.StringVar(&f.resume, "resume", "", "resume the run in this directory from its latest checkpoint")
	fs.StringVar(&f.text, "text", "", "train on the bytes of a text file instead of a mixture")
	fs.StringVar(&f.tokPath, "tokenizer", "", "tokenizer.json for samples (and export)")
	fs.StringVar(&f.schedule, "schedule", "wsd", "learning-rate schedule: wsd or cosine")
	fs.StringVar(&f.spike, "spike-action", def.SpikeAction, "on a loss spike: warn, skip or rollback")
	fs.StringVar(&f.prompts, "prompts", strings.Join(def.Prompts, "|"), "vibe-test prompts, separated by |")
	fs.IntVar(&f.steps, "steps", def.Steps, "optimizer steps (the schedule's length)")
	fs.IntVar(&f.stopAt, "stop-at", 0, "stop after this step with a checkpoint, schedule unchanged (e.g. to remix)")
	fs.StringVar(&f.device, "device", "cpu", "compute device: cpu, or cuda (NVIDIA GPU; libraries loaded at run time)")
	fs.IntVar(&f.rows, "micro-rows", 4, "rows per micro-batch")
	fs.IntVar(&f.accum, "accum", 1, "micro-batches per optimizer step when the mixture sets no global_batch_tokens (otherwise one loader step: global batch / micro-rows)")
	fs.IntVar(&f.every, "checkpoint-every", def.CheckpointEvery, "checkpoint, eval and sample every N steps")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (0: all)")
	fs.IntVar(&f.heldOut, "held-out", 16, "documents held out per source for evaluation")
	fs.IntVar(&f.vocab, "vocab", 0, "override the preset's vocabulary size (default: from the shards)")
	fs.IntVar(&f.warmup, "warmup", def.Schedule.Warmup, "warmup steps")
	fs.Float64Var(&f.lr, "lr", def.Schedule.LR, "peak learning rate")
	fs.Float64Var(&f.minLR, "min-lr", def.Schedule.MinLR, "final learning rate")
	fs.Float64Var(&f.clip, "clip", def.Clip, "gradient-norm clip (0: none)")
	fs.Float64Var(&f.wd, "weight-decay", def.WeightDecay, "AdamW weight decay (not on embeddings and norms)")
	fs.Float64Var(&f.peak, "peak-gflops", 0, "machine fp32 peak for MFU (0: measure for 0.3 s at start)")
	fs.Uint64Var(&f.seed, "seed", def.Seed, "initialisation seed")
	vars := mixVars{}
	fs.Var(vars, "var", "NAME=VALUE: set a mixture ${NAME} variable (repeatable)")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	stepsSet := false
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "prompts":
			f.promptsSet = true
		case "steps":
			stepsSet = true
		}
	})
	if f.resume != "" && !stepsSet {
		// Resume keeps the checkpoint's planned length unless told to go
		// further.
		f.steps = 0
	}
	be, closeBackend, err := newBackend(f.device, f.threads, &f.peak)
	if err != nil {
		return err
	}
	defer closeBackend()
	var tok trainer.Tokenizer
	if f.tokPath != "" {
		t, err := tokenize.Load(f.tokPath)
		if err != nil {
			return err
		}
		tok = tokAdapter{t}
	}
	opt := def
	opt.Seed, opt.Steps, opt.GradAccum, opt.CheckpointEvery, opt.MicroRows = f.seed, f.steps, f.accum, f.every, f.rows
	opt.HeldOutDocs = f.heldOut
	opt.Schedule = trainer.Schedule{Kind: f.schedule, LR: f.lr, MinLR: f.minLR, Warmup: f.warmup, Total: f.steps, DecayFrac: 0.2}
	opt.Clip, opt.WeightDecay, opt.SpikeAction, opt.PeakFLOPS = f.clip, f.wd, f.spike, f.peak*1e9
	opt.Prompts = strings.Split(f.prompts, "|")
	lopts := mixer.LoaderOptions{MicroBatchRows: f.rows}

	var rc trainer.RunConfig
	var mixPath string
	switch {
	case f.text != "":
		return trainText(ctx, f, opt, be)
	case f.resume != "" && len(pos) > 1:
		return fmt.Errorf("--resume takes at most one new MIXTURE (a remix), got %d", len(pos))
	case f.resume != "":
		ck, err := trainer.LatestCheckpoint(f.resume)
		if err != nil {
			return err
		}
		st, err := trainer.ReadCheckpointState(ck)
		if err != nil {
			return err
		}
		mixPath = st.Lineage.MixtureFile
		if len(pos) == 1 {
			// Remix: the loader state carries every source's cursor, so the
			// new mixture continues each source where it stopped.
			mixPath = pos[0]
		}
		for k, v := range st.Lineage.MixtureVars {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
		if strings.HasPrefix(st.Lineage.Note, "text:") {
			return fmt.Errorf("resume %s: text runs resume with --text FILE --resume", f.resume)
		}
		f.out = f.resume
		if st.Options.MicroRows > 0 {
			f.rows = st.Options.MicroRows
		}
		f.heldOut = st.Options.HeldOutDocs
		lopts.MicroBatchRows = f.rows
	case len(pos) == 1:
		mixPath = pos[0]
	default:
		fs.Usage()
		return fmt.Errorf("want exactly one MIXTURE (or --resume RUN_DIR, or --text FILE)")
	}
	md, err := trainer.OpenMixture(mixPath, f.heldOut, vars)
	if err != nil {
		return err
	}
	defer md.Close()
	cfg, err := trainer.LoadConfig(f.model)
	if err != nil {
		return err
	}
	if f.vocab > 0 {
		cfg.Vocab = f.vocab
	} else if md.Vocab > 0 {
		cfg.Vocab = md.Vocab
	}
	if f.out == "" {
		f.out = filepath.Join("runs", md.Mix.Name)
	}
	T := 0
	if len(md.Mix.Stages) > 0 {
		T = md.Mix.Stages[0].SeqLen
	}
	if md.Mix.GlobalBatchTokens == 0 {
		lopts.GlobalBatchTokens = int64(f.rows * f.accum * T)
	}
	rc = trainer.RunConfig{Dir: f.out, Model: cfg, Options: opt, Lineage: md.Lineage, Backend: be,
		Reopen: md.Reopen(lopts), Evals: md.Evals(1, T, 8), Tokenizer: tok, Log: os.Stdout}
	var tr *trainer.Trainer
	rc.StopAt = f.stopAt
	if f.resume != "" {
		tr, err = trainer.Resume(rc)
		if err == nil && len(pos) == 1 {
			err = copyRemixSpec(f.out, mixPath, tr.Lineage)
		}
	} else {
		if rc.Data, err = rc.Reopen(nil); err != nil {
			return err
		}
		// One optimizer step consumes one loader step: all micro-batches
		// of this rank's share of the mixture's global batch.
		if ld, ok := rc.Data.(trainer.LoaderData); ok {
			if si := ld.L.Stage(); si.MicroRows > 0 && si.RankRows > 0 {
				rc.Options.GradAccum = (si.RankRows + si.MicroRows - 1) / si.MicroRows
				opt.GradAccum = rc.Options.GradAccum
			}
		}
		if err = trainer.CopySpecs(f.out, mixPath, cfg, opt); err != nil {
			return err
		}
		tr, err = trainer.New(rc)
	}
	if err != nil {
		return err
	}
	defer tr.Close()
	fmt.Printf("peak %.0f GFLOP/s on %d threads; run directory %s\n", f.peak, be.Threads(), f.out)
	return tr.Run(ctx)
}

// trainText trains on the bytes of one text file (vocabulary 256), split
// into paragraphs, every 20th held out: a run needing no tokenizer or
// shards (the fallback when curated shards are not at hand).
func trainText(ctx context.Context, f trainFlags, opt trainer.Options, be kernels.Backend) error {
	data, err := os.ReadFile(f.text)
	if err != nil {
		return err
	}
	train, held := trainer.SplitDocs(string(data), trainer.ByteTokenizer{}, 256, 20)
	if len(train) == 0 {
		return fmt.Errorf("%s: no text", f.text)
	}
	cfg, err := trainer.LoadConfig(f.model)
	if err != nil {
		return err
	}
	cfg.Vocab = 256
	T := min(256, cfg.MaxSeq)
	spec := fmt.Sprintf("name: text\nseed: %d\nglobal_batch_tokens: %d\nsources:\n  text: {tokens: %d}\nstages:\n  - name: s1\n    seq_len: %d\n    weights: {text: 1}\n",
		f.seed, f.rows*f.accum*T, len(data), T)
	mix, err := mixer.ParseMixture([]byte(spec), f.text, mixer.LoadOptions{})
	if err != nil {
		return err
	}
	srcs := map[string]mixer.DocSource{"text": train}
	lopts := mixer.LoaderOptions{MicroBatchRows: f.rows}
	reopen := func(st json.RawMessage) (trainer.Data, error) { return trainer.OpenLoader(mix, srcs, lopts, st) }
	if f.out == "" {
		f.out = filepath.Join("runs", "text")
	}
	if !f.promptsSet {
		opt.Prompts = []string{"The ", "Prince Andrew ", "\"Well, "}
	}
	rc := trainer.RunConfig{Dir: f.out, Model: cfg, Options: opt, Backend: be, Reopen: reopen,
		Lineage:   trainer.Lineage{Note: "text:" + f.text + " (byte tokens, every 20th paragraph held out)"},
		Evals:     map[string][]trainer.Input{"text": trainer.EvalBatches(held, f.rows, T, 2)},
		Tokenizer: trainer.ByteTokenizer{}, Log: os.Stdout}
	var tr *trainer.Trainer
	if f.resume != "" {
		rc.Dir = f.resume
		tr, err = trainer.Resume(rc)
	} else {
		if rc.Data, err = reopen(nil); err != nil {
			return err
		}
		if err := trainer.CopySpecs(f.out, "", cfg, opt); err != nil {
			return err
		}
		tr, err = trainer.New(rc)
	}
	if err != nil {
		return err
	}
	defer tr.Close()
	fmt.Printf("peak %.0f GFLOP/s on %d threads; run directory %s\n", f.peak, be.Threads(), rc.Dir)
	return tr.Run(ctx)
}

// newBackend opens the compute device. For MFU it measures the CPU's peak
// when none is given; on CUDA it uses the card's dense bf16 peak.
func newBackend(device string, threads int, peakGFLOPS *float64) (kernels.Backend, func(), error) {
	switch device {
	case "cpu":
		be := kernels.NewCPU(threads)
		if *peakGFLOPS == 0 {
			*peakGFLOPS = kernels.MeasurePeak(be.Threads(), 300*time.Millisecond) / 1e9
		}
		return be, func() {}, nil
	case "cuda":
		gb, err := cuda.New()
		if err != nil {
			return nil, nil, fmt.Errorf("--device cuda: %w", err)
		}
		if *peakGFLOPS == 0 {
			*peakGFLOPS = 989.4e3 // H100/H200 SXM dense bf16, GFLOP/s
		}
		return gb, func() { gb.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--device %q: want cpu or cuda", device)
}

// copyRemixSpec keeps the mixture a run was remixed into beside the first
// one in RUN/specs, named by the step it took over, so the report and the
// lineage find every stage's targets.
func copyRemixSpec(runDir, mixPath string, lin trainer.Lineage) error {
	b, err := os.ReadFile(mixPath)
	if err != nil {
		return fmt.Errorf("remix: %w", err)
	}
	step := 0
	if n := len(lin.Remixes); n > 0 {
		step = lin.Remixes[n-1].Step
	}
	dst := filepath.Join(runDir, "specs", fmt.Sprintf("remix-step%07d-%s", step, filepath.Base(mixPath)))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
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

const benchHelp = `usage: kiln bench peak [--threads N] [--seconds S]
       kiln bench train [--model small-16m] [--batch 8] [--seq 256] [--steps 3] [--threads N] [--device cpu|cuda]
       kiln bench filters [--recipe FILE | --filters NAME,...] [--mb 200] [FILE ...]

peak measures the machine's fp32 FMA throughput with Kiln's matmul
micro-kernel (the ceiling MFU is reported against); train times full
training steps (forward, backward, AdamW) and prints tokens/s and MFU;
filters times a filter chain (default: the web recipe's) on one core
(kiln bench filters --help).

Examples:
  kiln bench peak
  kiln bench train --model small-16m --batch 8 --seq 256
  kiln bench filters
`

func cmdBench(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, benchHelp)
		return nil
	}
	if args[0] == "filters" {
		return cmdBenchFilters(ctx, args[1:])
	}
	fs := flag.NewFlagSet("bench "+args[0], flag.ContinueOnError)
	threads := fs.Int("threads", 0, "CPU threads (0: all)")
	secs := fs.Float64("seconds", 1, "peak: measuring time")
	model := fs.String("model", "small-16m", "train: model preset or config JSON")
	batch := fs.Int("batch", 8, "train: rows per step")
	seq := fs.Int("seq", 256, "train: sequence length")
	steps := fs.Int("steps", 3, "train: timed steps")
	device := fs.String("device", "cpu", "train: cpu or cuda")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	be := kernels.NewCPU(*threads)
	switch args[0] {
	case "peak":
		p := kernels.MeasurePeak(be.Threads(), time.Duration(*secs*float64(time.Second)))
		fmt.Printf("fp32 FMA peak: %.1f GFLOP/s on %d threads\n", p/1e9, be.Threads())
		return nil
	case "train":
		cfg, err := trainer.LoadConfig(*model)
		if err != nil {
			return err
		}
		peakG := 0.0
		tbe, closeBackend, err := newBackend(*device, *threads, &peakG)
		if err != nil {
			return err
		}
		defer closeBackend()
		r, err := trainer.Bench(tbe, cfg, *batch, *seq, *steps, peakG*1e9)
		if err != nil {
			return err
		}
		fmt.Printf("%s: peak %.1f GFLOP/s\n%s\n", *device, peakG, r)
		return nil
	}
	return fmt.Errorf("unknown bench %q (want peak, train or filters)", args[0])
}

const exportHelp = `usage: kiln export RUN_DIR|CHECKPOINT_DIR -o OUT_DIR [--tokenizer tokenizer.json]

Writes model.safetensors (F32, Hugging Face Llama tensor names), config.json
(SmolLM3ForCausalLM, or LlamaForCausalLM without NoPE layers) and a copy of
tokenizer.json, loadable with transformers' AutoModelForCausalLM.

Example:
  kiln export runs/demo -o runs/demo/hf --tokenizer ../shared/data/tokenizers/smollm2/tokenizer.json
`

func cmdExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, exportHelp); fs.PrintDefaults() }
	out := fs.String("o", "", "output directory")
	tok := fs.String("tokenizer", "", "tokenizer.json to copy")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		fs.Usage()
		return fmt.Errorf("want one RUN_DIR or CHECKPOINT_DIR and -o OUT_DIR")
	}
	dir := pos[0]
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		if dir, err = trainer.LatestCheckpoint(pos[0]); err != nil {
			return err
		}
	}
	if err := trainer.Export(dir, *out, *tok); err != nil {
		return err
	}
	fmt.Printf("exported %s to %s\n", dir, *out)
	return nil
}
