// Package executor runs a resolved curation recipe on one machine: it plans
// the inputs into tasks, streams every task's documents through the
// recipe's stages on all cores with bounded channels, and commits each
// task's output by rename so a killed run resumes where it stopped.
//
// The output bytes depend only on the input and the recipe, never on the
// worker count: each task's documents are processed in input order (batches
// fan out to the worker pool and are reassembled in order before writing),
// and each task writes its own files.
//
// Global stages (dedup) split a run into phases. Phase 0 reads the inputs,
// applies the stages before the first global stage, feeds the survivors to
// that stage's Observe and spools them (zstd JSONL) under the work folder.
// After Build, phase 1 reads the spool, applies the global stage's Filter,
// then the stages up to the next global stage, and so on; the last phase
// writes the outputs.
//
// A run directory looks like this:
//
//	DIR/docs/            kept documents (jsonl.zst and/or parquet)
//	DIR/rejected/        dropped documents with their drop_reason
//	DIR/<output step>/   files of output steps such as tokenize
//	DIR/stats.json       per stage and per task counts and timings
//	DIR/recipe.yaml      the normalised recipe as run
//	DIR/manifest.json    dataset version id, input and output hashes
//	DIR/.kiln/           work state while running (removed on success)
package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/pipeline/recipe"
)

// DocWriter writes documents to one stream (the rejected writer).
type DocWriter interface {
	Write(d *pipeline.Document) error
	Close() error
}

// Deps are the readers and writers the executor drives. cmd/kiln passes the
// real ones; tests pass small fakes. Keeping them injected keeps this
// package free of format code.
type Deps struct {
	// NewReader builds the reader for one recipe input.
	NewReader func(in recipe.Input) (pipeline.Reader, error)
	// NewDocsOutput builds the writer of kept documents for a format
	// (recipe.FormatJSONLZstd or recipe.FormatParquet).
	NewDocsOutput func(format string) (pipeline.Output, error)
	// NewRejected wraps w in the rejected-documents writer, which reads the
	// reason from d.Meta["drop_reason"] and writes the sampled fraction.
	// Nil disables rejected output.
	NewRejected func(w io.Writer, sample float64) (DocWriter, error)
}

// Config is one run.
type Config struct {
	Resolved *recipe.Resolved
	// Dir is the run directory.
	Dir string
	// Workers is the number of processing goroutines; 0 takes the recipe's
	// run.workers, then runtime.NumCPU().
	Workers     int
	KilnVersion string
	Deps        Deps
	// Log receives progress and log lines; nil discards them.
	Log io.Writer
	// Terminal draws a progress bar on Log instead of log lines.
	Terminal bool
	// ProgressEvery is the interval of progress output (default 10 s for
	// log lines, 200 ms for the bar).
	ProgressEvery time.Duration
	// BatchDocs and BatchBytes bound a batch (defaults 256 docs, 1 MiB of
	// text); QueueBatches bounds each task's in-flight batches (default 4).
	// Together with Workers they bound memory: it never depends on the
	// corpus size.
	BatchDocs    int
	BatchBytes   int
	QueueBatches int
}

// Result is what a run produced.
type Result struct {
	Manifest *manifest.Manifest
	Stats    *Stats
	// UpToDate is true when DIR already held this exact run and nothing
	// was redone.
	UpToDate bool
	// Resumed counts task phases found committed by an earlier attempt.
	Resumed int
}

const workDirName = manifest.WorkDir

// stageRef is one per-document stage of a segment (the stages between two
// global stages).
type stageRef struct {
	index int // into Resolved.Stages
	name  string
	stage pipeline.Stage
}

type taskRef struct {
	pipeline.Task
	input  int // index into Resolved.Inputs
	weight float64
}

type runner struct {
	cfg     Config
	res     *recipe.Resolved
	dir     string
	work    string
	workers int
	readers []pipeline.Reader
	tasks   []taskRef
	// globals are the indexes of global stages in Resolved.Stages.
	globals  []int
	segments [][]stageRef
	docsOuts []pipeline.Output
	stepOuts []pipeline.Output
	outDirs  []string // final folder of each docs output then each step output
	prog     *progress
	// hashCache is written to the work folder for a resumed run.
	hashCache map[string]hashEntry
}

// Run executes the recipe into cfg.Dir. It is safe to call again after a
// crash or kill with the same recipe and inputs: committed tasks are kept
// and only the rest is redone.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Resolved == nil {
		return nil, errors.New("executor: no recipe")
	}
	if cfg.Deps.NewReader == nil || cfg.Deps.NewDocsOutput == nil {
		return nil, errors.New("executor: Deps.NewReader and Deps.NewDocsOutput are required")
	}
	r := &runner{cfg: cfg, res: cfg.Resolved, dir: cfg.Dir, work: filepath.Join(cfg.Dir, workDirName)}
	r.workers = cfg.Workers
	if r.workers <= 0 {
		r.workers = r.res.Recipe.Run.Workers
	}
	if r.workers <= 0 {
		r.workers = runtime.NumCPU()
	}
	if cfg.BatchDocs <= 0 {
		r.cfg.BatchDocs = 256
	}
	if cfg.BatchBytes <= 0 {
		r.cfg.BatchBytes = 1 << 20
	}
	if cfg.QueueBatches <= 0 {
		r.cfg.QueueBatches = 4
	}
	if r.cfg.Log == nil {
		r.cfg.Log = io.Discard
	}
	return r.run(ctx)
}

func (r *runner) logf(format string, args ...any) {
	r.prog.logf(format, args...)
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	start := time.Now()
	r.prog = newProgress(r.cfg.Log, r.cfg.Terminal, r.cfg.ProgressEvery)
	defer r.prog.finish()
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	// One process per run directory: a second kiln curate on the same DIR
	// would commit over the first one's tasks.
	unlock, err := lockDir(r.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := r.build(); err != nil {
		return nil, err
	}
	if err := r.plan(); err != nil {
		return nil, err
	}
	inputs, err := r.hashInputs(ctx)
	if err != nil {
		return nil, err
	}
	recipeSum := sha256Hex(r.res.Normalized)
	ident := manifest.Identity{KilnVersion: r.cfg.KilnVersion, RecipeSHA256: recipeSum}
	for _, in := range inputs {
		ident.Inputs = append(ident.Inputs, manifest.IdentityInput{Input: in.Input, Size: in.Size, SHA256: in.SHA256})
	}
	vid := ident.VersionID()

	// A finished run of the same identity: nothing to do.
	if m, err := manifest.Read(r.dir); err == nil && m.VersionID == vid {
		if _, err := os.Stat(r.work); err == nil {
			os.RemoveAll(r.work) // killed after the manifest, before cleanup
		}
		st, _ := readStats(filepath.Join(r.dir, "stats.json"))
		r.logf("%s is up to date (dataset %s)", r.dir, manifest.ShortID(vid))
		return &Result{Manifest: m, Stats: st, UpToDate: true}, nil
	}
	if err := r.claim(vid); err != nil {
		return nil, err
	}

	nphases := len(r.globals) + 1
	perPhase := make([][]TaskStats, nphases)
	var files []fileRecord
	resumed := 0
	for p := 0; p < nphases; p++ {
		recs, n, err := r.runPhase(ctx, p)
		if err != nil {
			return nil, err
		}
		resumed += n
		if p > 0 {
			// The previous phase's spool is fully consumed: every task of
			// this phase is committed, so a restart never reads it again.
			os.RemoveAll(filepath.Join(r.work, "spool", fmt.Sprintf("p%d", p-1)))
		}
		for _, rec := range recs {
			perPhase[p] = append(perPhase[p], rec.Stats)
			files = append(files, rec.Files...)
		}
		if p < len(r.globals) {
			if err := r.buildGlobal(ctx, p); err != nil {
				return nil, err
			}
		}
	}
	// Merge phases per task, then the run.
	tasks := perPhase[0]
	for p := 1; p < nphases; p++ {
		for i := range tasks {
			tasks[i].merge(&perPhase[p][i])
		}
	}
	stages := make([]StageStats, len(r.res.Stages))
	for i, b := range r.res.Stages {
		stages[i] = StageStats{Name: b.Step.Name, Kind: b.Def.Kind.String()}
	}
	st, err := mergeStats(stages, tasks)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.dir, err)
	}

	// Outputs' Finish, then hash what Finish added or changed.
	for i, o := range r.allOutputs() {
		if da, ok := o.(pipeline.DatasetAware); ok {
			da.SetDataset(vid)
		}
		if err := o.Finish(r.outDirs[i], len(r.tasks)); err != nil {
			return nil, fmt.Errorf("output %s: finish: %w", o.Name(), err)
		}
	}
	outFiles, err := r.finalFiles(files)
	if err != nil {
		return nil, err
	}

	st.Name = r.res.Recipe.Name
	st.VersionID = vid
	st.Workers = r.workers
	st.Seconds = time.Since(start).Seconds()
	if st.Seconds > 0 {
		st.DocsPerSec = float64(st.Records) / st.Seconds
		st.MBPerSec = float64(st.BytesIn) / 1e6 / st.Seconds
	}
	m := &manifest.Manifest{
		Kind: manifest.Kind, FormatVersion: manifest.FormatVersion,
		VersionID: vid, KilnVersion: r.cfg.KilnVersion, Name: r.res.Recipe.Name,
		Recipe:  manifest.RecipeRef{File: "recipe.yaml", SHA256: recipeSum},
		Inputs:  inputs,
		Outputs: outFiles,
		Counts: manifest.Counts{Records: st.Records, Docs: st.Docs, Kept: st.Kept, Dropped: st.Dropped,
			Skipped: st.Skipped, BytesIn: st.BytesIn, BytesOut: st.BytesOut, Tasks: len(r.tasks)},
		Sources:   map[string]manifest.SourceCounts{},
		CreatedAt: time.Now().UTC().Format(time.RFC3339),
	}
	for _, t := range tasks {
		for src, c := range t.KeptBySource {
			sc := m.Sources[src]
			sc.Docs += c[0]
			sc.Bytes += c[1]
			m.Sources[src] = sc
		}
	}
	header := fmt.Sprintf("# Recipe %q as run by kiln %s (normalised: every parameter explicit).\n# Relative input paths are relative to %s.\n", r.res.Recipe.Name, r.cfg.KilnVersion, r.res.Recipe.Dir)
	if err := manifest.WriteFileAtomic(filepath.Join(r.dir, "recipe.yaml"), append([]byte(header), r.res.Normalized...)); err != nil {
		return nil, err
	}
	sb, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := manifest.WriteFileAtomic(filepath.Join(r.dir, "stats.json"), append(sb, '\n')); err != nil {
		return nil, err
	}
	// The manifest is written last: its presence means the run is
	// complete, so every output (output steps' files too) is made durable
	// before it.
	if err := manifest.SyncFS(r.dir); err != nil {
		return nil, err
	}
	if err := m.Write(r.dir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(r.work); err != nil {
		return nil, err
	}
	r.prog.finish()
	r.logf("done: %d records -> %d kept, %d dropped, %d skipped in %.1fs (%.0f docs/s, %.1f MB/s); dataset %s",
		st.Records, st.Kept, st.Dropped, st.Skipped, st.Seconds, st.DocsPerSec, st.MBPerSec, manifest.ShortID(vid))
	return &Result{Manifest: m, Stats: st, Resumed: resumed}, nil
}

func readStats(path string) (*Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Stats
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// build sorts the resolved steps into segments and outputs.
func (r *runner) build() error {
	seg := []stageRef{}
	for i, b := range r.res.Stages {
		switch v := b.Value.(type) {
		case pipeline.GlobalStage:
			r.globals = append(r.globals, i)
			r.segments = append(r.segments, seg)
			seg = []stageRef{}
		case pipeline.Stage:
			seg = append(seg, stageRef{index: i, name: b.Step.Name, stage: v})
		default:
			return fmt.Errorf("%s: step %s is neither a stage nor a global stage (%T)", b.Step.Pos, b.Step.Name, b.Value)
		}
	}
	r.segments = append(r.segments, seg)
	for _, f := range r.res.Recipe.Outputs.Formats {
		o, err := r.cfg.Deps.NewDocsOutput(f)
		if err != nil {
			return fmt.Errorf("%s: docs format %s: %w", r.res.Recipe.Outputs.Pos, f, err)
		}
		r.docsOuts = append(r.docsOuts, o)
		r.outDirs = append(r.outDirs, filepath.Join(r.dir, "docs"))
	}
	used := map[string]int{}
	for _, b := range r.res.Outputs {
		o, ok := b.Value.(pipeline.Output)
		if !ok {
			return fmt.Errorf("%s: step %s is not an output (%T)", b.Step.Pos, b.Step.Name, b.Value)
		}
		r.stepOuts = append(r.stepOuts, o)
		name := b.Step.Name
		used[name]++
		if used[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[name])
		}
		r.outDirs = append(r.outDirs, filepath.Join(r.dir, name))
	}
	return nil
}

func (r *runner) allOutputs() []pipeline.Output {
	return append(append([]pipeline.Output{}, r.docsOuts...), r.stepOuts...)
}

// plan asks each input's reader to split its files into tasks.
func (r *runner) plan() error {
	for i, in := range r.res.Inputs {
		rd, err := r.cfg.Deps.NewReader(in.Input)
		if err != nil {
			return fmt.Errorf("%s: reader: %w", in.Pos, err)
		}
		r.readers = append(r.readers, rd)
		ts, err := rd.Plan(in.Files)
		if err != nil {
			return fmt.Errorf("%s: plan: %w", in.Pos, err)
		}
		per := map[string]int{}
		for _, t := range ts {
			per[t.Path]++
		}
		sizes := map[string]int64{}
		for _, t := range ts {
			if _, ok := sizes[t.Path]; !ok {
				sizes[t.Path] = pathSize(t.Path)
			}
			t.Index = len(r.tasks)
			r.tasks = append(r.tasks, taskRef{Task: t, input: i, weight: float64(sizes[t.Path]) / float64(per[t.Path])})
		}
	}
	if len(r.tasks) == 0 {
		return fmt.Errorf("%s: the inputs produced no tasks", r.res.Recipe.File)
	}
	return nil
}

func pathSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		return st.Size()
	}
	var n int64
	filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// hashInputs hashes every input file (in parallel) for the identity.
func (r *runner) hashInputs(ctx context.Context) ([]manifest.InputFile, error) {
	var out []manifest.InputFile
	for _, in := range r.res.Inputs {
		for _, f := range in.Files {
			out = append(out, manifest.InputFile{Input: in.Name, Path: f})
		}
	}
	// Files the steps read (eval sets, blocklists, tokenizers) are part of
	// what made the dataset.
	for _, b := range append(append([]recipe.Built(nil), r.res.Stages...), r.res.Outputs...) {
		if fd, ok := b.Value.(pipeline.FileDependent); ok {
			for _, f := range fd.DependsOn() {
				out = append(out, manifest.InputFile{Input: "step:" + b.Step.Name, Path: f})
			}
		}
	}
	cache := r.readHashCache()
	r.logf("hashing %d input files", len(out))
	jobs := make(chan int)
	errs := make([]error, len(out))
	var wg sync.WaitGroup
	for w := 0; w < r.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				st, err := os.Stat(out[i].Path)
				if err != nil {
					errs[i] = err
					continue
				}
				if st.IsDir() {
					out[i].Dir = true
					out[i].Size, out[i].SHA256, errs[i] = manifest.HashDir(out[i].Path)
				} else if c, ok := cache[out[i].Path]; ok && c.Size == st.Size() && c.ModNano == st.ModTime().UnixNano() {
					out[i].Size, out[i].SHA256 = c.Size, c.SHA256
				} else {
					out[i].Size, out[i].SHA256, errs[i] = manifest.HashFile(out[i].Path)
				}
			}
		}()
	}
	for i := range out {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", out[i].Path, err)
		}
	}
	r.hashCache = map[string]hashEntry{}
	for _, f := range out {
		if st, err := os.Stat(f.Path); err == nil && !f.Dir {
			r.hashCache[f.Path] = hashEntry{Size: f.Size, ModNano: st.ModTime().UnixNano(), SHA256: f.SHA256}
		}
	}
	return out, nil
}

// hashEntry caches an input file's hash in the work folder, so resuming a
// killed run over a large corpus does not re-read every input: a file whose
// size and mtime are unchanged keeps its hash.
type hashEntry struct {
	Size    int64  `json:"size"`
	ModNano int64  `json:"mod_nano"`
	SHA256  string `json:"sha256"`
}

func (r *runner) readHashCache() map[string]hashEntry {
	b, err := os.ReadFile(filepath.Join(r.work, "inputs.json"))
	if err != nil {
		return nil
	}
	var m map[string]hashEntry
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func (r *runner) writeHashCache() error {
	b, err := json.Marshal(r.hashCache)
	if err != nil {
		return err
	}
	return manifest.WriteFileAtomic(filepath.Join(r.work, "inputs.json"), b)
}

// claim prepares the work folder for this identity. A work folder left by
// a run of another recipe or other inputs is refused rather than mixed in.
func (r *runner) claim(vid string) error {
	idPath := filepath.Join(r.work, manifest.IdentityFile)
	b, err := os.ReadFile(idPath)
	switch {
	case err == nil && strings.TrimSpace(string(b)) != vid:
		return fmt.Errorf("%s holds an unfinished run of another recipe or other inputs (dataset %s, this one is %s): remove %s or choose another -o",
			r.dir, manifest.ShortID(strings.TrimSpace(string(b))), manifest.ShortID(vid), r.work)
	case err == nil:
		// Resume: committed task phases stay, partial ones are redone.
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(filepath.Join(r.dir, manifest.FileName)); err == nil {
			return fmt.Errorf("%s already holds a finished run of another recipe or other inputs: choose another -o", r.dir)
		}
		if err := os.MkdirAll(r.work, 0o755); err != nil {
			return err
		}
		if err := manifest.WriteFileAtomic(idPath, []byte(vid+"\n")); err != nil {
			return err
		}
	default:
		return err
	}
	if err := r.writeHashCache(); err != nil {
		return err
	}
	plan, _ := json.Marshal(map[string]int{"tasks": len(r.tasks), "phases": len(r.globals) + 1})
	if err := manifest.WriteFileAtomic(filepath.Join(r.work, "plan.json"), plan); err != nil {
		return err
	}
	for _, d := range []string{"tmp", "done", "spool", "global"} {
		if err := os.MkdirAll(filepath.Join(r.work, d), 0o755); err != nil {
			return err
		}
	}
	// Temporary files of a killed attempt are garbage now.
	if err := os.RemoveAll(filepath.Join(r.work, "tmp")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.work, "tmp"), 0o755); err != nil {
		return err
	}
	for _, d := range append([]string{filepath.Join(r.dir, "rejected")}, r.outDirs...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) globalDir(g int) string {
	i := r.globals[g]
	return filepath.Join(r.work, "global", fmt.Sprintf("%02d-%s", i, r.res.Stages[i].Step.Name))
}

// buildGlobal runs Build of global stage g once; a marker records it.
func (r *runner) buildGlobal(ctx context.Context, g int) error {
	marker := filepath.Join(r.work, "done", fmt.Sprintf("build-%02d", g))
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	b := r.res.Stages[r.globals[g]]
	gs := b.Value.(pipeline.GlobalStage)
	r.logf("building %s over %d tasks", b.Step.Name, len(r.tasks))
	t0 := time.Now()
	if err := gs.Build(ctx, r.globalDir(g), len(r.tasks), r.workers); err != nil {
		return fmt.Errorf("%s: build: %w", b.Step.Pos, err)
	}
	r.logf("built %s in %.1fs", b.Step.Name, time.Since(t0).Seconds())
	if err := manifest.SyncFS(r.work); err != nil { // the built state before its marker
		return err
	}
	return manifest.WriteFileAtomic(marker, []byte("ok\n"))
}

// finalFiles lists every output file, reusing hashes taken at commit for
// files Finish left alone and hashing the rest.
func (r *runner) finalFiles(committed []fileRecord) ([]manifest.OutputFile, error) {
	known := map[string]fileRecord{}
	for _, f := range committed {
		known[f.Path] = f
	}
	var out []manifest.OutputFile
	roots := append([]string{filepath.Join(r.dir, "rejected")}, r.outDirs...)
	seen := map[string]bool{}
	for _, root := range roots {
		if seen[root] {
			continue
		}
		seen[root] = true
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(r.dir, p)
			rel = filepath.ToSlash(rel)
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if k, ok := known[rel]; ok && k.Size == fi.Size() && fi.ModTime().UnixNano() == k.ModNano {
				out = append(out, k.OutputFile)
				return nil
			}
			size, sum, err := manifest.HashFile(p)
			if err != nil {
				return err
			}
			of := manifest.OutputFile{Path: rel, Size: size, SHA256: sum, Task: -1, Docs: -1}
			if k, ok := known[rel]; ok {
				of.Task, of.Docs = k.Task, k.Docs
			}
			out = append(out, of)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
