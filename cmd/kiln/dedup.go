package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/kilnlm/kiln/filters/dedup"
	"github.com/kilnlm/kiln/pipeline"
)

const dedupExample = `usage: kiln dedup --method exact|minhash|line [flags] < in.jsonl > out.jsonl

Reads JSONL documents ({"id": ..., "text": ...}, other fields pass through)
on stdin and writes every one to stdout in input order with "kept" and
"reason"; members of a duplicate cluster get "cluster_size", and duplicates
"cluster": the id of the document kept in their place.

Example:
  kiln dedup --method minhash --set minhash.bands=20 --memory 1GiB --workers 2 \
      < docs.jsonl > verdicts.jsonl
  jq -c 'select(.kept == false) | {id, cluster}' verdicts.jsonl

With --work DIR the state survives a crash: re-run the same command on the
same input and finished work is reused (same output bytes).

flags:`

// setFlags collects repeated --set NAME.PARAM=VALUE flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func cmdDedup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dedup", flag.ContinueOnError)
	method := fs.String("method", "minhash", "exact, minhash or line")
	memory := fs.String("memory", dedup.DefaultMemory, "memory budget; sort buffers spill to disk beyond it (e.g. 512MiB, 1GiB)")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines for signatures and clustering (output does not depend on it)")
	work := fs.String("work", "", "work dir for spilled runs and resumable state (default: a temporary dir, removed)")
	chunk := fs.String("chunk", "32MiB", "input bytes per task")
	quiet := fs.Bool("q", false, "do not print the summary on stderr")
	var sets setFlags
	fs.Var(&sets, "set", "step parameter METHOD.PARAM=VALUE (repeatable), e.g. minhash.bands=20; --method exact lists exact.*")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), dedupExample)
		fs.PrintDefaults()
		if d, err := dedupDefaults(*method); err == nil {
			fmt.Fprintf(fs.Output(), "\nparameters of --method %s (--set %s.NAME=VALUE):\n", *method, *method)
			for _, p := range pipeline.DescribeParams(d) {
				fmt.Fprintf(fs.Output(), "  %-10s %-8s default %-8q %s\n", p.Name, p.Type, p.Default, p.Help)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (input is read from stdin)", fs.Args())
	}
	step, err := dedup.StepName(*method)
	if err != nil {
		return err
	}
	mem, err := dedup.ParseSize(*memory)
	if err != nil {
		return fmt.Errorf("--memory: %w", err)
	}
	chunkBytes, err := dedup.ParseSize(*chunk)
	if err != nil {
		return fmt.Errorf("--chunk: %w", err)
	}
	params := pipeline.Params{}
	for _, s := range sets {
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("--set %q: want METHOD.PARAM=VALUE", s)
		}
		prefix, name, ok := strings.Cut(key, ".")
		if !ok || (prefix != *method && prefix != step) {
			return fmt.Errorf("--set %q: want %s.PARAM=VALUE for --method %s", s, *method, *method)
		}
		params[name] = val
	}
	// The Go heap's soft limit follows the budget, so garbage is collected
	// before RSS drifts past it; the stage itself spills at half of it.
	debug.SetMemoryLimit(mem + 64<<20)
	st, err := dedup.Run(ctx, os.Stdin, os.Stdout, dedup.Options{
		Method: *method, Params: params, Memory: mem, Workers: *workers,
		WorkDir: *work, ChunkBytes: chunkBytes,
	})
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "kiln dedup: %d documents, %d kept, %d dropped (%s, %d tasks)\n", st.Docs, st.Kept, st.Dropped, step, st.Tasks)
	}
	return nil
}

func dedupDefaults(method string) (any, error) {
	step, err := dedup.StepName(method)
	if err != nil {
		return nil, err
	}
	r := pipeline.NewRegistry()
	dedup.Register(r)
	d, _ := r.Lookup(step)
	return d.Defaults(), nil
}
