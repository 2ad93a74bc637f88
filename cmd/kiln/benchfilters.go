package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kilnlm/kiln/internal/cputime"
	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/recipes"
)

const benchFiltersHelp = `usage: kiln bench filters [--recipe FILE | --filters NAME,...] [--set NAME.PARAM=VALUE ...] [--mb 200] [FILE ...]

Times a filter chain on one core: the documents of FILE... (JSONL, Parquet,
WARC, text; default: ../shared/data's web corpora when found) are loaded,
replicated to --mb megabytes of text and run once through the chain in one
goroutine. Prints MB/s of input text (wall and per CPU-second of this
process), the keep rate and the drops per filter and reason.

The chain is the per-document stages of --recipe (default: the shipped
recipes/curate/web.yaml, i.e. the default web chain; dedup stages are
global and left out), or --filters in the order given.

Examples:
  kiln bench filters
  kiln bench filters --mb 50 my-crawl.jsonl.zst
  kiln bench filters --filters gopher_quality,language --set language.languages=en,de corpus.parquet
`

func cmdBenchFilters(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench filters", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchFiltersHelp); fs.PrintDefaults() }
	recipePath := fs.String("recipe", "", "recipe whose per-document stages form the chain (default: the shipped web recipe)")
	names := fs.String("filters", "", "comma-separated filters instead of a recipe")
	mb := fs.Int("mb", 200, "megabytes of text to filter (the inputs are replicated up to it)")
	var sets paramSets
	fs.Var(&sets, "set", "filter parameter NAME.PARAM=VALUE (repeatable)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *mb <= 0 {
		return fmt.Errorf("--mb %d: want a positive size", *mb)
	}
	reg := newRegistry()
	var chain []pipeline.Stage
	var desc string
	if *names != "" {
		if *recipePath != "" {
			return errors.New("give --recipe or --filters, not both")
		}
		if chain, err = buildFilterChain(reg, *names, sets); err != nil {
			return err
		}
		desc = *names
	} else if chain, desc, err = recipeChain(reg, *recipePath, sets); err != nil {
		return err
	}
	if len(files) == 0 {
		dir, ok := shareddata.Find()
		if !ok {
			return errors.New("no input files given and no ../shared/data found: name JSONL (or Parquet, WARC, text) files")
		}
		files, _ = filepath.Glob(filepath.Join(dir, "corpus", "web", "*.jsonl"))
	}
	docs, err := loadBenchDocs(ctx, files)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return fmt.Errorf("no documents in %s", strings.Join(files, ", "))
	}
	r := runBenchChain(docs, chain, int64(*mb)<<20)
	fmt.Printf("chain: %s\n", desc)
	fmt.Printf("input: %d documents from %d files, replicated to %d documents, %.1f MB of text\n", len(docs), len(files), r.docs, float64(r.bytes)/1e6)
	fmt.Printf("one core: %.2f s wall, %.2f CPU-s: %.1f MB/s, %.1f MB/cpu-s\n", r.wall.Seconds(), r.cpu, float64(r.bytes)/1e6/r.wall.Seconds(), float64(r.bytes)/1e6/r.cpu)
	printFilterSummary(os.Stdout, "verdicts", r.counts)
	fmt.Printf("keep rate %.4f\n", float64(r.counts.kept)/float64(r.docs))
	return nil
}

// recipeChain builds the per-document stages of a recipe (the shipped web
// recipe when path is empty); --set overrides apply as in kiln curate.
func recipeChain(reg *pipeline.Registry, path string, sets []string) ([]pipeline.Stage, string, error) {
	// Inputs are not read here: a data folder that is missing must not
	// stop the chain from being built.
	getenv := func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v, true
		}
		if k == recipe.DataVar {
			if d, ok := shareddata.Find(); ok {
				return d, true
			}
			return os.TempDir(), true
		}
		return "", false
	}
	opts := recipe.LoadOptions{Getenv: getenv, Sets: sets}
	var rec *recipe.Recipe
	var err error
	if path == "" {
		const shipped = "curate/web.yaml"
		b, rerr := fs.ReadFile(recipes.FS, shipped)
		if rerr != nil {
			return nil, "", rerr
		}
		wd, _ := os.Getwd()
		rec, err = recipe.Parse("recipes/"+shipped, wd, b, opts)
	} else {
		rec, err = recipe.Load(path, opts)
	}
	if err != nil {
		return nil, "", err
	}
	built, err := rec.BuildStages(reg)
	if err != nil {
		return nil, "", err
	}
	var chain []pipeline.Stage
	var names []string
	for _, b := range built {
		if b.Def.Kind != pipeline.KindStage {
			continue // dedup and other global stages need the whole corpus
		}
		chain = append(chain, b.Value.(pipeline.Stage))
		names = append(names, b.Step.Name)
	}
	if len(chain) == 0 {
		return nil, "", fmt.Errorf("%s has no per-document stages", rec.File)
	}
	return chain, rec.File + " (" + strings.Join(names, ", ") + ")", nil
}

// benchDoc is what a replica is rebuilt from: filters rewrite text and
// metadata, so every pass starts from fresh documents.
type benchDoc struct {
	id, text string
	meta     map[string]any
}

type docCollector struct{ docs []benchDoc }

func (c *docCollector) Doc(d *pipeline.Document) error {
	c.docs = append(c.docs, benchDoc{id: d.ID, text: d.Text, meta: d.Meta})
	return nil
}

func (c *docCollector) Skip(pipeline.Skip) {}

func loadBenchDocs(ctx context.Context, files []string) ([]benchDoc, error) {
	rd, err := readers.New(readers.Options{})
	if err != nil {
		return nil, err
	}
	tasks, err := rd.Plan(files)
	if err != nil {
		return nil, err
	}
	c := &docCollector{}
	for _, t := range tasks {
		if err := rd.Read(ctx, t, c); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return c.docs, nil
}

type benchResult struct {
	docs   int
	bytes  int64
	wall   time.Duration
	cpu    float64
	counts filterCounts
}

// runBenchChain replicates docs to at least minBytes of text (as fresh
// strings, so replicas do not share cache lines with their originals) and
// runs the chain over them in this goroutine.
func runBenchChain(docs []benchDoc, chain []pipeline.Stage, minBytes int64) benchResult {
	var work []*pipeline.Document
	var total int64
	for total < minBytes {
		for _, d := range docs {
			doc := &pipeline.Document{ID: d.id, Text: strings.Clone(d.text)}
			for k, v := range d.meta {
				doc.SetMeta(k, v)
			}
			work = append(work, doc)
			total += int64(len(d.text))
		}
	}
	res := benchResult{docs: len(work), bytes: total, counts: filterCounts{dropped: map[string]int{}}}
	runtime.GC()
	cpu0, t0 := cputime.Process(), time.Now()
	for _, d := range work {
		reason := ""
		for _, s := range chain {
			if r := s.Apply(d); r != "" {
				reason = s.Name() + "/" + r
				break
			}
		}
		if reason == "" {
			res.counts.kept++
		} else {
			res.counts.dropped[reason]++
		}
	}
	res.wall, res.cpu = time.Since(t0), (cputime.Process() - cpu0).Seconds()
	res.counts.docs = len(work)
	return res
}
