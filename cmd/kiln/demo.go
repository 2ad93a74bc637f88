package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kilnlm/kiln/internal/lineage"
	"github.com/kilnlm/kiln/internal/report"
	"github.com/kilnlm/kiln/internal/synth"
	"github.com/kilnlm/kiln/recipes"
)

const demoHelp = `usage: kiln demo [-o DIR] [--size small|full]

Runs Kiln's main job end to end on an embedded default, with nothing but
this binary and a Go installation (for GOROOT/src, the code corpus):

  1. raw corpora: web and math pages from a deterministic generator (with
     planted junk, boilerplate, near-duplicates, foreign pages and
     contaminated problems) and the Go standard library as real code;
  2. curation with the shipped demo recipes (filters, dedup,
     decontamination) into DIR/curate/{web,code,math};
  3. a byte-level BPE tokenizer trained on the curated data, then shards in
     DIR/shards/{web,code,math};
  4. the three-stage demo mixture;
  5. a tiny model trained on CPU through stages 1 and 2, then remixed into a
     new stage 3 from its checkpoint (DIR/train);
  6. per-source evals and vibe samples at every checkpoint;
  7. DIR/report.html, the lineage of the last checkpoint, and a verify.

Phase timings go to DIR/demo-timings.json. Re-running resumes: finished
curation runs are not redone.

Examples:
  kiln demo
  kiln demo -o /tmp/demo --size small
`

// demoSize scales the demo: full is what make demo runs; small is the
// end-to-end test's budget.
type demoSize struct {
	webDocs, mathDocs, evalProblems int
	vocab                           int
	steps, stopAt, checkpointEvery  int
	codeDirs                        []string // GOROOT/src subfolders; nil: all of it
	globalBatchTokens               int
	stage2, stage3                  int
}

var demoSizes = map[string]demoSize{
	"full": {webDocs: 6000, mathDocs: 2500, evalProblems: 200, vocab: 4096,
		steps: 290, stopAt: 220, checkpointEvery: 50, globalBatchTokens: 8192, stage2: 150, stage3: 220},
	"small": {webDocs: 800, mathDocs: 400, evalProblems: 50, vocab: 1024,
		steps: 24, stopAt: 16, checkpointEvery: 8, globalBatchTokens: 4096, stage2: 8, stage3: 16,
		codeDirs: []string{"strings", "bufio", "sort", "container", "unicode/utf8", "errors"}},
}

type demoPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

func cmdDemo(ctx context.Context, args []string) error {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	fset.Usage = func() { fmt.Fprint(os.Stderr, demoHelp); fset.PrintDefaults() }
	out := fset.String("o", "demo-run", "output directory")
	size := fset.String("size", "full", "full (make demo) or small (the end-to-end test)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	sz, ok := demoSizes[*size]
	if !ok {
		return fmt.Errorf("--size %q: want full or small", *size)
	}
	return runDemo(ctx, *out, sz)
}

func runDemo(ctx context.Context, out string, sz demoSize) error {
	// Absolute, because mixtures resolve relative shard paths against the
	// mixture file's own folder.
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var phases []demoPhase
	phase := func(name string, fn func() error) error {
		fmt.Printf("\n=== %s\n", name)
		start := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("demo phase %q: %w", name, err)
		}
		phases = append(phases, demoPhase{name, time.Since(start).Seconds()})
		fmt.Printf("=== %s: %.1f s\n", name, time.Since(start).Seconds())
		return nil
	}
	raw := filepath.Join(out, "raw")
	recipeDir := filepath.Join(out, "recipes")
	tok := filepath.Join(out, "tokenizer.json")
	sources := []string{"web", "code", "math"}

	if err := phase("1 raw corpora", func() error { return writeDemoCorpora(raw, recipeDir, sz) }); err != nil {
		return err
	}
	if err := phase("2 curation", func() error {
		for _, src := range sources {
			if err := cmdCurate(ctx, []string{filepath.Join(recipeDir, src+".yaml"), "-o", filepath.Join(out, "curate", src), "--progress", "log"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := phase("3 tokenizer and shards", func() error {
		trainArgs := []string{"train", "--vocab-size", strconv.Itoa(sz.vocab), "--pre-tokenizer", "llama3", "--special", "<|endoftext|>", "-o", tok}
		for _, src := range sources {
			trainArgs = append(trainArgs, filepath.Join(out, "curate", src))
		}
		if err := cmdTokenizer(ctx, trainArgs); err != nil {
			return err
		}
		for _, src := range sources {
			if err := cmdTokenize(ctx, []string{"--tokenizer", tok, "--input", filepath.Join(out, "curate", src), "-o", filepath.Join(out, "shards", src)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	mixtures := filepath.Join(recipeDir, "mixtures")
	if err := phase("4 mixture", func() error {
		return cmdMix(ctx, []string{"inspect", filepath.Join(mixtures, "demo.yaml"), "--var", "shards=" + filepath.Join(out, "shards"), "--tokens", strconv.Itoa(sz.steps * sz.globalBatchTokens)})
	}); err != nil {
		return err
	}
	run := filepath.Join(out, "train")
	if err := phase("5 train stages 1-2", func() error {
		if _, err := os.Stat(filepath.Join(run, "checkpoints")); err == nil {
			// A previous demo's run: start it afresh so the phases below
			// describe this one.
			if err := os.RemoveAll(run); err != nil {
				return err
			}
		}
		return cmdTrain(ctx, []string{filepath.Join(mixtures, "demo.yaml"), "--var", "shards=" + filepath.Join(out, "shards"),
			"--model", "tiny", "-o", run, "--steps", strconv.Itoa(sz.steps), "--stop-at", strconv.Itoa(sz.stopAt),
			"--checkpoint-every", strconv.Itoa(sz.checkpointEvery), "--warmup", strconv.Itoa(max(2, sz.steps/20)),
			"--lr", "0.01", "--min-lr", "0.001", "--micro-rows", "8", "--held-out", "16", "--tokenizer", tok})
	}); err != nil {
		return err
	}
	if err := phase("6 remix into stage 3", func() error {
		return cmdTrain(ctx, []string{"--resume", run, filepath.Join(mixtures, "demo-remix.yaml"), "--tokenizer", tok})
	}); err != nil {
		return err
	}
	if err := phase("7 report, lineage, verify", func() error {
		res, err := report.Write(ctx, out, report.Options{Log: os.Stdout})
		if err != nil {
			return err
		}
		fmt.Printf("report: %s (%d plots)\n", res.Page, len(res.Plots))
		ch, err := lineage.Resolve(ctx, run, lineage.Options{})
		if err != nil {
			return err
		}
		if err := ch.Print(os.Stdout); err != nil {
			return err
		}
		_, err = ch.Verify(ctx, lineage.VerifyOptions{Log: os.Stdout})
		return err
	}); err != nil {
		return err
	}
	b, err := json.MarshalIndent(phases, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "demo-timings.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	total := 0.0
	fmt.Println("\nphase timings:")
	for _, p := range phases {
		fmt.Printf("  %-28s %7.1f s\n", p.Name, p.Seconds)
		total += p.Seconds
	}
	fmt.Printf("  %-28s %7.1f s\nopen %s\n", "total", total, filepath.Join(out, "report.html"))
	return nil
}

// writeDemoCorpora generates the raw web and math corpora and writes the
// embedded demo recipes and mixtures beside them, scaled to sz.
func writeDemoCorpora(raw, recipeDir string, sz demoSize) error {
	if err := os.MkdirAll(raw, 0o755); err != nil {
		return err
	}
	const seed = 20251027
	write := func(name string, docs []synth.Doc) error {
		f, err := os.Create(filepath.Join(raw, name))
		if err != nil {
			return err
		}
		if err := synth.WriteJSONL(f, docs); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	g := synth.New(seed)
	if err := write("web.jsonl", g.Web(synth.DefaultWeb(sz.webDocs))); err != nil {
		return err
	}
	eval := synth.EvalSet(seed, sz.evalProblems)
	if err := write("math.jsonl", g.Math(synth.MathOptions{Docs: sz.mathDocs, Contaminated: 0.03, Junk: 0.05}, eval)); err != nil {
		return err
	}
	ef, err := os.Create(filepath.Join(raw, "math_eval.jsonl"))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(ef)
	for _, e := range eval {
		if err := enc.Encode(e); err != nil {
			ef.Close()
			return err
		}
	}
	if err := ef.Close(); err != nil {
		return err
	}
	// Recipes and mixtures, from the binary.
	copyEmbedded := func(from, to string) error {
		if err := os.MkdirAll(to, 0o755); err != nil {
			return err
		}
		entries, err := fs.ReadDir(recipes.FS, from)
		if err != nil {
			return err
		}
		for _, e := range entries {
			b, err := fs.ReadFile(recipes.FS, from+"/"+e.Name())
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if err := copyEmbedded("demo", recipeDir); err != nil {
		return err
	}
	if err := copyEmbedded("mixtures", filepath.Join(recipeDir, "mixtures")); err != nil {
		return err
	}
	// Step parameters are not paths the recipe loader resolves, so the eval
	// set is named absolutely.
	absRaw, err := filepath.Abs(raw)
	if err != nil {
		return err
	}
	if err := editDemoFile(filepath.Join(recipeDir, "math.yaml"), `"../raw/math_eval.jsonl"`, strconv.Quote(filepath.Join(absRaw, "math_eval.jsonl"))); err != nil {
		return err
	}
	return scaleDemoSpecs(recipeDir, sz)
}

// editDemoFile replaces each old string of pairs with its new one, failing
// when one is missing (the shipped file changed under the demo).
func editDemoFile(path string, pairs ...string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			return fmt.Errorf("%s: expected %q to adapt the demo", path, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// scaleDemoSpecs rewrites the written recipe and mixtures for sizes other
// than the shipped one (the shipped files are the full demo).
func scaleDemoSpecs(recipeDir string, sz demoSize) error {
	full := demoSizes["full"]
	edit := editDemoFile
	if sz.codeDirs != nil {
		var paths []string
		for _, d := range sz.codeDirs {
			paths = append(paths, strconv.Quote("${GOROOT}/src/"+d))
		}
		if err := edit(filepath.Join(recipeDir, "code.yaml"), `paths: ["${GOROOT}/src"]`, "paths: ["+strings.Join(paths, ", ")+"]"); err != nil {
			return err
		}
	}
	if sz.globalBatchTokens == full.globalBatchTokens && sz.stage2 == full.stage2 && sz.stage3 == full.stage3 {
		return nil
	}
	for _, m := range []string{"demo.yaml", "demo-remix.yaml"} {
		if err := edit(filepath.Join(recipeDir, "mixtures", m),
			fmt.Sprintf("global_batch_tokens: %d", full.globalBatchTokens), fmt.Sprintf("global_batch_tokens: %d", sz.globalBatchTokens),
			fmt.Sprintf("start: {step: %d}", full.stage2), fmt.Sprintf("start: {step: %d}", sz.stage2),
			fmt.Sprintf("start: {step: %d}", full.stage3), fmt.Sprintf("start: {step: %d}", sz.stage3)); err != nil {
			return err
		}
	}
	return nil
}
