package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/kilnlm/kiln/internal/lineage"
	"github.com/kilnlm/kiln/internal/report"
)

const reportHelp = `usage: kiln report RUN_DIR [--title TEXT] [--cluster-docs N]

Writes RUN_DIR/report.html and PNG plots under RUN_DIR/report-plots/: the
curation funnel per source, dedup clusters, tokens per source, the realised
mixture per stage against its targets, loss and per-source eval curves with
stage boundaries, tokens/s, MFU and data wait, health alarms, vibe samples
per checkpoint and the latest checkpoint's lineage. It finds curated runs
(stats.json), shard sets (shards.json) and training runs (metrics.jsonl)
anywhere below RUN_DIR; a section whose data is missing says so.

Example (the layout kiln demo writes):
  kiln report demo-run          # demo-run/{curate/web,shards/web,train,...}
  kiln report runs/web          # one curation run alone

Flags:
`

func cmdReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, reportHelp); fs.PrintDefaults() }
	title := fs.String("title", "", "page title (default: from the folder name)")
	clusterDocs := fs.Int64("cluster-docs", 1_000_000, "kept documents read per curated run to count dedup clusters (negative: none)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("want exactly one RUN_DIR")
	}
	res, err := report.Write(ctx, pos[0], report.Options{Title: *title, MaxClusterDocs: *clusterDocs, Log: os.Stderr})
	if err != nil {
		return err
	}
	for _, p := range res.Problems {
		fmt.Fprintln(os.Stderr, "warning:", p)
	}
	fmt.Printf("wrote %s and %d plots\n", res.Page, len(res.Plots))
	return nil
}

const lineageHelp = `usage: kiln lineage CHECKPOINT|RUN_DIR [--search DIR]...

Prints the provenance chain of a checkpoint (a checkpoint folder, or a run
folder whose latest checkpoint is taken): the checkpoint's files and hashes,
its mixture and stages, which tokens of which source each stage saw, the
shard sets (tokenizer hash, counts), the curated dataset versions they came
from, and those datasets' recipes and raw inputs with their hashes. Links
are found by version id beside the recorded paths, else by searching the
run's parent folders (or --search folders).

Example:
  kiln lineage demo-run/train
  kiln lineage runs/demo/checkpoints/step-0000200

Flags:
`

const verifyHelp = `usage: kiln verify CHECKPOINT|RUN_DIR [--strict] [--search DIR]...

Re-checks every hash the checkpoint's lineage reaches: the checkpoint's
binaries, the mixture hash, every shard file's sha256, every curated output
file's sha256 and the dataset version id, the recipe, and the raw inputs
still present on this machine. Stops at the first mismatch, naming the
file. Raw inputs that are not on this machine are listed as unreachable;
--strict makes them (and any link that cannot be found) an error.

Example:
  kiln verify demo-run/train

Flags:
`

type searchDirs []string

func (s *searchDirs) String() string     { return fmt.Sprint(*s) }
func (s *searchDirs) Set(v string) error { *s = append(*s, v); return nil }

func lineageArgs(name, help string, args []string, strict *bool) (string, lineage.Options, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, help); fs.PrintDefaults() }
	var search searchDirs
	fs.Var(&search, "search", "folder to search for shard sets and curated runs (repeatable; default: the run's parent folders)")
	if strict != nil {
		fs.BoolVar(strict, "strict", false, "fail on links or raw inputs that cannot be found")
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", lineage.Options{}, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", lineage.Options{}, fmt.Errorf("want exactly one CHECKPOINT or RUN_DIR")
	}
	return pos[0], lineage.Options{SearchRoots: search}, nil
}

func cmdLineage(ctx context.Context, args []string) error {
	ck, opt, err := lineageArgs("lineage", lineageHelp, args, nil)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ch, err := lineage.Resolve(ctx, ck, opt)
	if err != nil {
		return err
	}
	return ch.Print(os.Stdout)
}

func cmdVerify(ctx context.Context, args []string) error {
	var strict bool
	ck, opt, err := lineageArgs("verify", verifyHelp, args, &strict)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ch, err := lineage.Resolve(ctx, ck, opt)
	if err != nil {
		return err
	}
	res, err := ch.Verify(ctx, lineage.VerifyOptions{Strict: strict, Log: os.Stdout})
	if err != nil {
		return fmt.Errorf("FAILED: %w", err)
	}
	fmt.Printf("verified %d links", len(res.Checked))
	if len(res.Unreachable) > 0 {
		fmt.Printf("; %d not reachable on this machine (listed above as skip)", len(res.Unreachable))
	}
	fmt.Println()
	return nil
}
