package tokenize

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// DirOptions configures TokenizeDir.
type DirOptions struct {
	Input   string // a curated run folder (its docs/ is read), a folder of files, or one file
	Out     string // shard set folder to create
	Workers int    // parallel tasks; <1 means 1
	Config  OutputConfig
	// Source overrides every document's source name ("" keeps the
	// document's own "source" field).
	Source string
}

// DirResult summarises a TokenizeDir run.
type DirResult struct {
	Manifest *shard.Manifest
	Skipped  map[string]int64 // reader skips by reason
	Files    int
}

// TokenizeDir tokenizes every document of a curated dataset (JSONL, JSONL
// .gz/.zst or Parquet files) into one shard set. Tasks run in parallel; the
// shard set's document order is the input files' sorted order, whatever
// the worker count, so the output is byte-identical across runs.
func TokenizeDir(ctx context.Context, o DirOptions) (*DirResult, error) {
	files, err := curatedFiles(o.Input)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("tokenize: no JSONL or Parquet files under %s", o.Input)
	}
	cfg := o.Config
	if cfg.Dataset == "" {
		cfg.Dataset = curatedVersionID(o.Input)
	}
	out, err := NewOutput(&cfg)
	if err != nil {
		return nil, err
	}
	rd, err := readers.New(readers.Options{Source: o.Source, TaskBytes: 256 << 20})
	if err != nil {
		return nil, err
	}
	tasks, err := rd.Plan(files)
	if err != nil {
		return nil, fmt.Errorf("tokenize: plan: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, shard.ManifestFile)); err == nil {
		return nil, fmt.Errorf("tokenize: %s already holds a shard set; choose another -o", o.Out)
	}
	res := &DirResult{Skipped: map[string]int64{}, Files: len(files)}
	var mu sync.Mutex
	err = parallelTasks(len(tasks), o.Workers, func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		tasks[i].Index = i
		tw, err := out.OpenTask(o.Out, i)
		if err != nil {
			return err
		}
		em := &dirEmitter{tw: tw, skipped: map[string]int64{}}
		rerr := rd.Read(ctx, tasks[i], em)
		cerr := tw.Close()
		mu.Lock()
		for k, v := range em.skipped {
			res.Skipped[k] += v
		}
		mu.Unlock()
		if rerr != nil {
			return fmt.Errorf("tokenize: %w", rerr)
		}
		return cerr
	})
	if err != nil {
		return nil, err
	}
	if err := out.Finish(o.Out, len(tasks)); err != nil {
		return nil, err
	}
	m, err := shard.ReadManifest(o.Out)
	if err != nil {
		return nil, err
	}
	res.Manifest = m
	return res, nil
}

type dirEmitter struct {
	tw      pipeline.TaskWriter
	skipped map[string]int64
}

func (e *dirEmitter) Doc(d *pipeline.Document) error {
	if d.Source == "" {
		d.Source = d.MetaString("source")
	}
	return e.tw.Write(d)
}

func (e *dirEmitter) Skip(s pipeline.Skip) { e.skipped[s.Reason]++ }

// curatedFiles lists the document files of input: a curated run folder's
// docs/ when present, else every JSONL/Parquet file below input, sorted.
func curatedFiles(input string) ([]string, error) {
	st, err := os.Stat(input)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if !st.IsDir() {
		return []string{input}, nil
	}
	root := input
	if st, err := os.Stat(filepath.Join(input, "docs")); err == nil && st.IsDir() {
		root = filepath.Join(input, "docs")
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "rejected") {
				return filepath.SkipDir
			}
			return nil
		}
		n := strings.ToLower(d.Name())
		for _, ext := range []string{".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson", ".parquet"} {
			if strings.HasSuffix(n, ext) {
				out = append(out, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokenize: list %s: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// curatedVersionID reads the curated dataset's version id from
// input/manifest.json (written by kiln curate), or "" when absent.
func curatedVersionID(input string) string {
	b, err := os.ReadFile(filepath.Join(input, "manifest.json"))
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	for _, k := range []string{"version_id", "versionId", "VersionID", "version"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
