// Command kiln curates corpora, tokenizes them into shards, mixes staged
// curricula and trains language models on them, in one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"syscall"

	"github.com/kilnlm/kiln/filters"
	"github.com/kilnlm/kiln/filters/dedup"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/writers"
	"github.com/kilnlm/kiln/tokenize"
)

// version is stamped by the Makefile (-ldflags -X main.version=...).
var version = "dev"

// command is one verb of the binary. Each lives in its own file.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"curate":    {"run a curation recipe: read, filter, dedup, write (kiln curate RECIPE -o DIR)", cmdCurate},
		"recipe":    {"validate a recipe without running it (kiln recipe check FILE)", cmdRecipe},
		"inspect":   {"print a run directory's manifest readably (kiln inspect DIR)", cmdInspect},
		"filter":    {"apply filters to JSONL on stdin (kiln filter NAME[,NAME] [--set N.P=V])", cmdFilter},
		"dedup":     {"deduplicate JSONL on stdin (kiln dedup --method exact|minhash)", cmdDedup},
		"tokenizer": {"encode, decode or train tokenizers (kiln tokenizer encode|decode|train)", cmdTokenizer},
		"tokenize":  {"tokenize curated documents into shards (kiln tokenize)", cmdTokenize},
		"shards":    {"export or verify shard sets (kiln shards export|verify)", cmdShards},
		"mix":       {"inspect mixtures (kiln mix inspect MIXTURE)", cmdMix},
		"train":     {"train a model on a mixture (kiln train MIXTURE --model CONFIG)", cmdTrain},
		"bench":     {"measure machine and component speed (kiln bench peak|...)", cmdBench},
		"export":    {"export a checkpoint as Hugging Face safetensors", cmdExport},
		"report":    {"write report.html and plots for a run (kiln report RUN_DIR)", cmdReport},
		"lineage":   {"print a checkpoint's lineage chain (kiln lineage CHECKPOINT)", cmdLineage},
		"verify":    {"re-check every hash a checkpoint's lineage reaches", cmdVerify},
		"demo":      {"generate the embedded demo corpora and run the whole job", cmdDemo},
		"version":   {"print the version", func(context.Context, []string) error { fmt.Println("kiln", version); return nil }},
	}
}

// newRegistry collects every recipe step the binary knows.
func newRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	filters.Register(r)
	dedup.Register(r)
	tokenize.Register(r)
	writers.Register(r)
	return r
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kiln COMMAND [ARGS]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'kiln COMMAND --help' for a worked example.")
}

func main() {
	if beamWorkerMain() { // a Beam runner started this binary as an SDK worker
		return
	}
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands()[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "kiln: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(run(cmd))
}

// run runs one verb and returns the exit code; deferred work (the CPU
// profile) finishes before main exits.
func run(cmd command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// KILN_CPUPROFILE=FILE writes a pprof CPU profile of any verb, the way
	// to see where a slow recipe spends its time (go tool pprof FILE).
	if path := os.Getenv("KILN_CPUPROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kiln: KILN_CPUPROFILE: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	if err := cmd.run(ctx, os.Args[2:]); errors.Is(err, flag.ErrHelp) {
		return 0 // the flag set printed its usage
	} else if err != nil {
		fmt.Fprintf(os.Stderr, "kiln %s: %v\n", os.Args[1], err)
		return 1
	}
	return 0
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "kiln: KILN_CPUPROFILE: %v\n", err)
		}
	}, nil
}

// parseFlags parses flags that may come before or after positional
// arguments (kiln curate RECIPE -o DIR) and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
