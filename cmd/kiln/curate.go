package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/pipeline/recipe"
)

// recipeSets collects repeated --set NAME.PARAM=VALUE flags.
type recipeSets []string

func (s *recipeSets) String() string     { return strings.Join(*s, " ") }
func (s *recipeSets) Set(v string) error { *s = append(*s, v); return nil }

// loadRecipe loads and resolves a recipe against the binary's registry.
func loadRecipe(path string, sets []string) (*recipe.Resolved, error) {
	r, err := recipe.Load(path, recipe.LoadOptions{Sets: sets})
	if err != nil {
		return nil, err
	}
	return r.Resolve(newRegistry(), executor.CheckInput)
}

func curateIsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const curateHelp = `usage: kiln curate RECIPE [-o DIR] [--workers N] [--set NAME.PARAM=VALUE]...

Runs a curation recipe: reads the inputs, applies the stages (filters,
dedup) and writes DIR/{docs/, rejected/, stats.json, recipe.yaml,
manifest.json}. Re-running the same command after a crash or kill redoes
only the unfinished tasks; the output bytes do not depend on --workers.

Example:
  kiln curate recipes/curate/web.yaml -o runs/web --set gopher_quality.min_doc_words=30
  kiln inspect runs/web

Flags:
`

func cmdCurate(ctx context.Context, args []string) error {
	if r := curateRunner(args); r != "local" {
		return cmdCurateBeam(ctx, args) // docs/distributed.md
	}
	fs := flag.NewFlagSet("curate", flag.ContinueOnError)
	fs.String("runner", "local", "local, or a Beam runner: prism, flink, spark, dataflow (kiln built with -tags beam; other --name=value flags go to Beam)")
	out := fs.String("o", "", "run directory (default: runs/<recipe name>)")
	workers := fs.Int("workers", 0, "processing goroutines (0: the recipe's run.workers, else one per CPU)")
	progress := fs.String("progress", "auto", "progress output: auto, bar, log or none")
	var sets recipeSets
	fs.Var(&sets, "set", "override a step parameter: NAME.PARAM=VALUE (repeatable; also run.seed, outputs.rejected_sample)")
	fs.Usage = func() { fmt.Fprint(os.Stderr, curateHelp); fs.PrintDefaults() }
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("want exactly one RECIPE")
	}
	res, err := loadRecipe(pos[0], sets)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", res.Recipe.Name)
	}
	cfg := executor.Config{Resolved: res, Dir: dir, Workers: *workers, KilnVersion: version, Deps: executor.DefaultDeps(), Log: os.Stderr}
	switch *progress {
	case "auto":
		cfg.Terminal = curateIsTerminal(os.Stderr)
	case "bar":
		cfg.Terminal = true
	case "log":
	case "none":
		cfg.Log = io.Discard
	default:
		return fmt.Errorf("--progress %q: want auto, bar, log or none", *progress)
	}
	result, err := executor.Run(ctx, cfg)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; committed tasks are kept, re-run the same command to resume: %w", err)
	}
	if err != nil {
		return err
	}
	m := result.Manifest
	fmt.Printf("%s: dataset %s  %d kept of %d records (%d dropped, %d skipped)\n",
		dir, m.VersionID, m.Counts.Kept, m.Counts.Records, m.Counts.Dropped, m.Counts.Skipped)
	return nil
}

const recipeHelp = `usage: kiln recipe check FILE [--set NAME.PARAM=VALUE]...
       kiln recipe show FILE [--set ...]   print the normalised recipe (every parameter explicit)
       kiln recipe steps                  list the steps a recipe can name, with parameters

check validates a recipe without running it: structure and types, step
names and parameters, and that every input glob matches a file. Errors name
the file, line and key.

Example:
  kiln recipe check recipes/curate/web.yaml
`

func cmdRecipe(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, recipeHelp)
		return errors.New("want a subcommand: check, show or steps")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "steps":
		return curateListSteps(os.Stdout)
	case "check", "show":
	default:
		fmt.Fprint(os.Stderr, recipeHelp)
		return fmt.Errorf("unknown subcommand %q", sub)
	}
	fs := flag.NewFlagSet("recipe "+sub, flag.ContinueOnError)
	var sets recipeSets
	fs.Var(&sets, "set", "override a step parameter: NAME.PARAM=VALUE")
	fs.Usage = func() { fmt.Fprint(os.Stderr, recipeHelp) }
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("want at least one recipe FILE")
	}
	if sub == "show" {
		if len(pos) != 1 {
			return errors.New("show takes one FILE")
		}
		res, err := loadRecipe(pos[0], sets)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(res.Normalized)
		return err
	}
	var failed int
	for _, p := range pos {
		res, err := loadRecipe(p, sets)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed++
			continue
		}
		files := 0
		for _, in := range res.Inputs {
			files += len(in.Files)
		}
		fmt.Printf("%s: ok: %d inputs (%d files), %d stages, outputs %s\n", p, len(res.Inputs), files, len(res.Stages), curateDescribeOutputs(res))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d recipes failed", failed, len(pos))
	}
	return nil
}

func curateDescribeOutputs(res *recipe.Resolved) string {
	parts := append([]string{}, res.Recipe.Outputs.Formats...)
	for _, o := range res.Outputs {
		parts = append(parts, o.Step.Name)
	}
	if res.Recipe.Outputs.Rejected {
		parts = append(parts, fmt.Sprintf("rejected (sample %g)", res.Recipe.Outputs.RejectedSample))
	}
	return strings.Join(parts, ", ")
}

func curateListSteps(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range newRegistry().List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Kind, d.Help)
		for _, p := range pipeline.DescribeParams(d.Defaults()) {
			fmt.Fprintf(tw, "    %s\t%s = %s\t%s\n", p.Name, p.Type, p.Default, p.Help)
		}
	}
	return tw.Flush()
}

const inspectHelp = `usage: kiln inspect DIR [--verify] [--json] [--files]

Prints a curation run's manifest readably: dataset version id, recipe,
inputs, counts, drop and skip reasons, output files. --verify re-hashes
every output file against the manifest.

Example:
  kiln inspect runs/web --verify
`

func cmdInspect(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	verify := fs.Bool("verify", false, "re-hash every output file and check it against the manifest")
	asJSON := fs.Bool("json", false, "print manifest.json as is")
	showFiles := fs.Bool("files", false, "list every output file")
	fs.Usage = func() { fmt.Fprint(os.Stderr, inspectHelp) }
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("want exactly one run DIR")
	}
	dir := pos[0]
	m, err := manifest.Read(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(filepath.Join(dir, ".kiln")); serr == nil {
				return fmt.Errorf("%s holds an unfinished run (no manifest yet; %s); re-run the same kiln curate command to finish it", dir, curateUnfinished(dir))
			}
		}
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	curatePrintManifest(os.Stdout, dir, m)
	if *showFiles {
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nfile\tbytes\tdocs\tsha256")
		for _, o := range m.Outputs {
			docs := "-"
			if o.Docs >= 0 {
				docs = fmt.Sprint(o.Docs)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", o.Path, o.Size, docs, o.SHA256[:16])
		}
		tw.Flush()
	}
	if *verify {
		if err := m.Verify(dir); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		fmt.Printf("\nverified: %d output files match their sha256\n", len(m.Outputs))
	}
	return nil
}

func curatePrintManifest(w io.Writer, dir string, m *manifest.Manifest) {
	c := m.Counts
	pct := func(n int64) string {
		if c.Records == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(c.Records))
	}
	fmt.Fprintf(w, "run        %s\n", dir)
	fmt.Fprintf(w, "dataset    %s\n", m.VersionID)
	fmt.Fprintf(w, "name       %s (kiln %s, created %s)\n", m.Name, m.KilnVersion, m.CreatedAt)
	fmt.Fprintf(w, "recipe     %s (sha256 %s)\n", m.Recipe.File, manifest.ShortID("sha256:"+m.Recipe.SHA256))
	var inBytes int64
	byInput := map[string]int{}
	for _, in := range m.Inputs {
		inBytes += in.Size
		byInput[in.Input]++
	}
	fmt.Fprintf(w, "inputs     %d files, %s", len(m.Inputs), curateHumanBytes(inBytes))
	names := make([]string, 0, len(byInput))
	for n := range byInput {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "; %s: %d", n, byInput[n])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "tasks      %d\n", c.Tasks)
	fmt.Fprintf(w, "records    %d (%s of text read)\n", c.Records, curateHumanBytes(c.BytesIn))
	fmt.Fprintf(w, "kept       %d  %s (%s of text)\n", c.Kept, pct(c.Kept), curateHumanBytes(c.BytesOut))
	fmt.Fprintf(w, "dropped    %d  %s\n", c.Dropped, pct(c.Dropped))
	fmt.Fprintf(w, "skipped    %d  %s\n", c.Skipped, pct(c.Skipped))
	if len(m.Sources) > 0 {
		srcs := make([]string, 0, len(m.Sources))
		for s := range m.Sources {
			srcs = append(srcs, s)
		}
		sort.Strings(srcs)
		for _, s := range srcs {
			name := s
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(w, "  source %-10s %d docs, %s\n", name, m.Sources[s].Docs, curateHumanBytes(m.Sources[s].Bytes))
		}
	}
	if st, err := curateReadRunStats(filepath.Join(dir, "stats.json")); err == nil {
		curatePrintReasons(w, "dropped by", st.DroppedBy)
		curatePrintReasons(w, "skipped by", st.SkippedBy)
		if len(st.Stages) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nstage\tkind\tin\tout\tdropped\tseconds")
			for _, s := range st.Stages {
				var d int64
				for _, n := range s.Dropped {
					d += n
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f\n", s.Name, s.Kind, s.In, s.Out, d, s.Seconds)
			}
			tw.Flush()
		}
	}
	var outBytes int64
	for _, o := range m.Outputs {
		outBytes += o.Size
	}
	fmt.Fprintf(w, "\noutputs    %d files, %s\n", len(m.Outputs), curateHumanBytes(outBytes))
}

func curateReadRunStats(path string) (*executor.Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s executor.Stats
	return &s, json.Unmarshal(b, &s)
}

func curatePrintReasons(w io.Writer, title string, m map[string]int64) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	fmt.Fprintf(w, "%s:\n", title)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-32s %d\n", k, m[k])
	}
}

func curateHumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// curateUnfinished describes an unfinished run from its work folder.
func curateUnfinished(dir string) string {
	var plan struct{ Tasks, Phases int }
	b, err := os.ReadFile(filepath.Join(dir, ".kiln", "plan.json"))
	if err != nil || json.Unmarshal(b, &plan) != nil {
		return "not started"
	}
	done, _ := filepath.Glob(filepath.Join(dir, ".kiln", "done", "p*-*.json"))
	return fmt.Sprintf("%d of %d task phases committed", len(done), plan.Tasks*plan.Phases)
}
