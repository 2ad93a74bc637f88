package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/kilnlm/kiln/pipeline"
)

const filterExample = `usage: kiln filter NAME[,NAME...] [--set NAME.PARAM=VALUE ...] < in.jsonl > out.jsonl
       kiln filter --list

Applies filters, in the order given, to JSONL documents on stdin
({"text": ..., "id": ..., "url": ..., "metadata": {...}}; only text is
required) and writes every document to stdout in input order with "kept",
"reason" (the drop reason, "" when kept), "filter" (the filter that dropped
it) and the possibly modified "text" and "metadata".

Examples:
  kiln filter gopher_quality,gopher_repetition < docs.jsonl > verdicts.jsonl
  kiln filter language --set language.languages=en,fr --set language.language_threshold=0.8 < docs.jsonl
  kiln filter decontaminate --set decontaminate.eval_file=math_test.jsonl < corpus.jsonl
  jq -r 'select(.kept|not) | .reason' verdicts.jsonl | sort | uniq -c

flags:`

// paramSets collects repeated --set NAME.PARAM=VALUE flags.
type paramSets []string

func (s *paramSets) String() string     { return strings.Join(*s, " ") }
func (s *paramSets) Set(v string) error { *s = append(*s, v); return nil }

func cmdFilter(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("filter", flag.ContinueOnError)
	list := fs.Bool("list", false, "print every filter with its parameters and defaults")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines applying filters (output order does not depend on it)")
	quiet := fs.Bool("q", false, "do not print the per-reason summary on stderr")
	var sets paramSets
	fs.Var(&sets, "set", "filter parameter NAME.PARAM=VALUE (repeatable); lists comma-separated, maps k:v,k:v")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), filterExample)
		fs.PrintDefaults()
	}
	// The filter names come first; flag parsing stops at the first
	// non-flag, so take them off before parsing.
	var names string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		names, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if names == "" && fs.NArg() > 0 {
		names = fs.Arg(0)
		if fs.NArg() > 1 {
			return fmt.Errorf("unexpected arguments %q (input is read from stdin)", fs.Args()[1:])
		}
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (input is read from stdin)", fs.Args())
	}
	reg := newRegistry()
	if *list {
		return listFilters(os.Stdout, reg)
	}
	if names == "" {
		fs.Usage()
		return fmt.Errorf("no filter named (kiln filter --list shows them)")
	}
	chain, err := buildFilterChain(reg, names, sets)
	if err != nil {
		return err
	}
	counts, err := runFilters(ctx, os.Stdin, os.Stdout, chain, max(*workers, 1))
	if err != nil {
		return err
	}
	if !*quiet {
		printFilterSummary(os.Stderr, "kiln filter", counts)
	}
	return nil
}

// buildFilterChain builds the named stages with their --set parameters.
func buildFilterChain(reg *pipeline.Registry, names string, sets []string) ([]pipeline.Stage, error) {
	var order []string
	params := map[string]pipeline.Params{}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		d, ok := reg.Lookup(n)
		if !ok || d.Kind != pipeline.KindStage {
			return nil, fmt.Errorf("unknown filter %q (kiln filter --list shows them)", n)
		}
		if _, dup := params[n]; dup {
			return nil, fmt.Errorf("filter %q named twice", n)
		}
		order = append(order, n)
		params[n] = pipeline.Params{}
	}
	for _, s := range sets {
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want NAME.PARAM=VALUE", s)
		}
		name, param, ok := strings.Cut(key, ".")
		if !ok || param == "" {
			return nil, fmt.Errorf("--set %q: want NAME.PARAM=VALUE", s)
		}
		p, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("--set %q: filter %q is not in the chain %q", s, name, names)
		}
		p[param] = val
	}
	var chain []pipeline.Stage
	for _, n := range order {
		st, _, err := reg.Build(n, params[n])
		if err != nil {
			return nil, err
		}
		stage, ok := st.(pipeline.Stage)
		if !ok {
			return nil, fmt.Errorf("step %q is not a per-document stage", n)
		}
		chain = append(chain, stage)
	}
	return chain, nil
}

func listFilters(w io.Writer, reg *pipeline.Registry) error {
	bw := bufio.NewWriter(w)
	for _, d := range reg.List() {
		if d.Kind != pipeline.KindStage {
			continue
		}
		fmt.Fprintf(bw, "%s\n  %s\n", d.Name, d.Help)
		for _, p := range pipeline.DescribeParams(d.Defaults()) {
			fmt.Fprintf(bw, "  --set %s.%s=%s\n      (%s) %s\n", d.Name, p.Name, p.Default, p.Type, p.Help)
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// inputDoc is one JSONL input record.
type inputDoc struct {
	ID       json.RawMessage `json:"id,omitempty"`
	Text     *string         `json:"text"`
	URL      string          `json:"url,omitempty"`
	Metadata map[string]any  `json:"metadata,omitempty"`
}

// outputDoc is one JSONL output record.
type outputDoc struct {
	ID       json.RawMessage `json:"id,omitempty"`
	URL      string          `json:"url,omitempty"`
	Kept     bool            `json:"kept"`
	Reason   string          `json:"reason"`
	Filter   string          `json:"filter,omitempty"`
	Text     string          `json:"text"`
	Metadata map[string]any  `json:"metadata,omitempty"`
}

type filterJob struct {
	line int
	in   inputDoc
	out  []byte
	// verdict, for the summary
	kept           bool
	filter, reason string
}

// filterCounts are documents read, kept and dropped per filter/reason.
type filterCounts struct {
	docs, kept int
	dropped    map[string]int
}

// runFilters streams stdin through the chain in batches: each batch is
// filtered by several goroutines and written in input order, so memory is
// bounded by the batch and output does not depend on the worker count.
func runFilters(ctx context.Context, r io.Reader, w io.Writer, chain []pipeline.Stage, workers int) (filterCounts, error) {
	counts := filterCounts{dropped: map[string]int{}}
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	const batchSize = 512
	line := 0
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return counts, err
		}
		var batch []*filterJob
		for len(batch) < batchSize {
			raw, err := br.ReadBytes('\n')
			if len(raw) > 0 {
				line++
				if len(strings.TrimSpace(string(raw))) > 0 {
					j := &filterJob{line: line}
					if jerr := json.Unmarshal(raw, &j.in); jerr != nil {
						return counts, fmt.Errorf("stdin line %d: %w", line, jerr)
					}
					if j.in.Text == nil {
						return counts, fmt.Errorf("stdin line %d: no \"text\" field", line)
					}
					batch = append(batch, j)
				}
			}
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return counts, fmt.Errorf("stdin line %d: %w", line+1, err)
			}
		}
		var wg sync.WaitGroup
		next := make(chan *filterJob)
		var errOnce sync.Once
		var firstErr error
		for range min(workers, max(len(batch), 1)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					if err := applyChain(j, chain); err != nil {
						errOnce.Do(func() { firstErr = err })
					}
				}
			}()
		}
		for _, j := range batch {
			next <- j
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			return counts, firstErr
		}
		for _, j := range batch {
			if _, err := bw.Write(j.out); err != nil {
				return counts, fmt.Errorf("write stdout: %w", err)
			}
			counts.docs++
			if j.kept {
				counts.kept++
			} else {
				counts.dropped[j.filter+"/"+j.reason]++
			}
		}
	}
	return counts, bw.Flush()
}

func applyChain(j *filterJob, chain []pipeline.Stage) error {
	d := &pipeline.Document{Text: *j.in.Text, Meta: j.in.Metadata}
	if len(j.in.ID) > 0 {
		var s string
		if json.Unmarshal(j.in.ID, &s) == nil {
			d.ID = s
		} else {
			d.ID = string(j.in.ID)
		}
	}
	if j.in.URL != "" {
		d.SetMeta("url", j.in.URL)
	}
	d.Prov = pipeline.Provenance{File: "stdin", Record: int64(j.line), Offset: -1}
	out := outputDoc{ID: j.in.ID, URL: j.in.URL, Kept: true}
	for _, st := range chain {
		if reason := st.Apply(d); reason != "" {
			out.Kept, out.Reason, out.Filter = false, reason, st.Name()
			break
		}
	}
	j.kept, j.filter, j.reason = out.Kept, out.Filter, out.Reason
	out.Text = d.Text
	out.Metadata = d.Meta
	if out.URL != "" && out.Metadata != nil {
		// url travels at top level as it came in; do not repeat it.
		if u, _ := out.Metadata["url"].(string); u == out.URL && j.in.Metadata["url"] == nil {
			delete(out.Metadata, "url")
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("stdin line %d: encode result: %w", j.line, err)
	}
	j.out = append(b, '\n')
	return nil
}

func printFilterSummary(w io.Writer, label string, c filterCounts) {
	fmt.Fprintf(w, "%s: %d documents, %d kept, %d dropped\n", label, c.docs, c.kept, c.docs-c.kept)
	keys := make([]string, 0, len(c.dropped))
	for k := range c.dropped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-45s %d\n", k, c.dropped[k])
	}
}
