package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/tokenize/shard"
)

const mixHelp = `usage: kiln mix inspect MIXTURE [--tokens N] [--var NAME=VALUE]... [--json]

Shows, per stage of a mixture, the start, sequence length and token budget,
the target weights against the proportions the blender realises over the
first N tokens of the stage, and per source the tokens each stage takes and
the epochs this implies, warning when a source would repeat more than
max_repeat times (default 4). Sources whose shard set is not there yet are
planned from the token counts declared in the mixture (it says so).

Example:
  kiln mix inspect recipes/mixtures/smollm3.yaml --tokens 20M
  kiln mix inspect recipes/mixtures/demo.yaml --var shards=out/demo/shards

Flags:
`

// mixVars collects repeated --var NAME=VALUE flags.
type mixVars map[string]string

func (v mixVars) String() string { return fmt.Sprint(map[string]string(v)) }
func (v mixVars) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--var wants NAME=VALUE, got %q", s)
	}
	v[k] = val
	return nil
}

func cmdMix(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, mixHelp)
		return nil
	}
	switch args[0] {
	case "inspect":
		return mixInspect(ctx, args[1:], os.Stdout)
	}
	return fmt.Errorf("unknown subcommand %q (want inspect; kiln mix --help)", args[0])
}

func mixInspect(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("mix inspect", flag.ContinueOnError)
	tokens := fs.String("tokens", "10M", "tokens of each stage to simulate (K/M/B/T suffixes)")
	vars := mixVars{}
	fs.Var(vars, "var", "set a mixture variable, NAME=VALUE (repeatable)")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	maxRepeat := fs.Float64("max-repeat", 0, "warn above this many expected epochs (0: the mixture's max_repeat)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), mixHelp); fs.PrintDefaults() }
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("want exactly one MIXTURE file (kiln mix inspect --help)")
	}
	n, err := mixer.ParseCount(*tokens)
	if err != nil {
		return fmt.Errorf("--tokens: %w", err)
	}
	m, err := mixer.LoadMixture(pos[0], mixer.LoadOptions{Vars: vars})
	if err != nil {
		return err
	}
	// Open the shard sets that exist; plan the others from declared sizes.
	srcs := map[string]mixer.DocSource{}
	for _, s := range m.Sources {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.Path == "" {
			continue
		}
		if _, err := os.Stat(s.Path); err != nil {
			continue // not produced yet: planned from declared tokens
		}
		set, err := shard.Open(s.Path)
		if err != nil {
			return fmt.Errorf("%s:%d: sources.%s: %w", pos[0], s.Line, s.Name, err)
		}
		defer set.Close()
		srcs[s.Name] = mixer.ShardSource{Set: set}
	}
	plan, err := mixer.Inspect(m, mixer.PlanOptions{Tokens: n, Sources: srcs, MaxRepeat: *maxRepeat})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	printPlan(w, plan)
	return nil
}

func printPlan(w io.Writer, p *mixer.Plan) {
	fmt.Fprintf(w, "mixture %s (%s), %s tokens per step\n", p.Mixture, p.Hash, mixer.FormatCount(p.GlobalBatchTokens))
	if len(p.Declared) > 0 {
		fmt.Fprintf(w, "PLANNED FROM DECLARED TOKEN COUNTS (no shard set found) for: %s\n", strings.Join(p.Declared, ", "))
	}
	for i, st := range p.Stages {
		start := "step ?"
		if st.StartStep >= 0 {
			start = fmt.Sprintf("step %d", st.StartStep)
		}
		fmt.Fprintf(w, "\nstage %d %s: %s (%s tokens), seq_len %d, budget %s tokens; realised over the first %s tokens (max deviation %.4f)\n",
			i+1, st.Name, start, mixer.FormatCount(st.StartTokens), st.SeqLen, mixer.FormatCount(st.BudgetTokens),
			mixer.FormatCount(st.SimTokens), st.MaxDeviation)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  source\ttarget\trealised\tstage tokens\t")
		for d, src := range p.Sources {
			if st.Target[d] == 0 && st.Realised[d] == 0 {
				continue
			}
			fmt.Fprintf(tw, "  %s\t%.4f\t%.4f\t%s\t\n", src.Name, st.Target[d], st.Realised[d], mixer.FormatCount(src.StageTokens[i]))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nsources:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  source\ttokens\tdocs\tsize from\texpected epochs\t")
	for _, s := range p.Sources {
		from := "shards"
		if s.Declared {
			from = "declared"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.3f\t\n", s.Name, mixer.FormatCount(s.Tokens), mixer.FormatCount(s.Docs), from, s.Epochs)
	}
	tw.Flush()
	if len(p.Warnings) > 0 {
		fmt.Fprintln(w, "\nwarnings:")
		for _, x := range p.Warnings {
			fmt.Fprintln(w, "  "+x)
		}
	}
}
