//go:build beam

package beam

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/kilnlm/kiln/filters"
	"github.com/kilnlm/kiln/filters/dedup"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/pipeline/writers"
	"github.com/kilnlm/kiln/tokenize"
)

// NewRegistry returns the steps a Beam worker can build: the same set as
// the kiln binary's (filters, dedup, tokenize).
func NewRegistry() *pipeline.Registry {
	r := pipeline.NewRegistry()
	filters.Register(r)
	dedup.Register(r)
	tokenize.Register(r)
	return r
}

// ReaderOptions maps a recipe input onto the readers package's options
// (the same mapping as kiln curate's).
func ReaderOptions(in recipe.Input) readers.Options {
	return readers.Options{
		Format: in.Format, Source: in.Source, TextField: in.TextField, IDField: in.IDField,
		MetaFields: in.MetaFields, Paragraphs: in.Paragraphs, MaxFileBytes: in.MaxFileBytes, TaskBytes: in.TaskBytes,
	}
}

func newReader(in recipe.Input) (pipeline.Reader, error) { return readers.New(ReaderOptions(in)) }

// built is the recipe rebuilt on a worker.
type built struct {
	rec      *recipe.Recipe
	stages   []any // pipeline.Stage or pipeline.GlobalStage
	configs  []any
	kinds    []pipeline.StepKind
	docsOuts []pipeline.Output
	stepOuts []pipeline.Output
	outDirs  []string // docs outputs, then step outputs, as the executor names them
}

// need says which parts of the recipe a DoFn constructs: stages in
// [From, To) and, with Outputs, the output steps. Every stage's config is
// decoded regardless (cheap), but building a stage can be costly (a
// decontamination index, a tokenizer), so each DoFn builds only its own.
type need struct {
	From, To int
	Outputs  bool
}

// build parses the normalised recipe and constructs the steps n asks for.
// Inputs are not globbed here: workers only read the tasks they are handed.
func (sp Spec) build(n need) (*built, error) {
	r, err := recipe.Parse(sp.File, sp.Dir, sp.Recipe, recipe.LoadOptions{})
	if err != nil {
		return nil, fmt.Errorf("beam: normalised recipe: %w", err)
	}
	reg := NewRegistry()
	b := &built{rec: r}
	for i, s := range r.Stages {
		def, ok := reg.Lookup(s.Name)
		if !ok {
			return nil, fmt.Errorf("%s: unknown step %q", s.Pos, s.Name)
		}
		cfg := def.Defaults()
		if err := pipeline.DecodeParams(s.Params, cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Pos, err)
		}
		var v any
		if i >= n.From && i < n.To {
			if v, err = def.New(cfg); err != nil {
				return nil, fmt.Errorf("%s: step %s: %w", s.Pos, s.Name, err)
			}
		}
		b.stages = append(b.stages, v)
		b.configs = append(b.configs, cfg)
		b.kinds = append(b.kinds, def.Kind)
	}
	if !n.Outputs {
		return b, nil
	}
	for _, f := range r.Outputs.Formats {
		switch f {
		case recipe.FormatJSONLZstd:
			b.docsOuts = append(b.docsOuts, writers.JSONLOutput())
		case recipe.FormatParquet:
			b.docsOuts = append(b.docsOuts, writers.ParquetOutput())
		default:
			return nil, fmt.Errorf("%s: unknown docs format %q", r.Outputs.Pos, f)
		}
		b.outDirs = append(b.outDirs, filepath.Join(sp.Out, "docs"))
	}
	used := map[string]int{}
	for _, s := range r.Outputs.Steps {
		v, _, err := reg.Build(s.Name, s.Params)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Pos, err)
		}
		o, ok := v.(pipeline.Output)
		if !ok {
			return nil, fmt.Errorf("%s: step %s is not an output", s.Pos, s.Name)
		}
		b.stepOuts = append(b.stepOuts, o)
		name := s.Name
		if used[name]++; used[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[name])
		}
		b.outDirs = append(b.outDirs, filepath.Join(sp.Out, name))
	}
	return b, nil
}

// applySeg runs stages [from, to) on d; it returns the index of the stage
// that dropped d and its reason, or -1 and "".
func (b *built) applySeg(d *pipeline.Document, from, to int) (int, string) {
	for i := from; i < to; i++ {
		if r := b.stages[i].(pipeline.Stage).Apply(d); r != "" {
			return i, r
		}
	}
	return -1, ""
}

func dropKey(stage int, reason string) string { return "drop/" + strconv.Itoa(stage) + "/" + reason }

// readFn reads one planned task with Kiln's own reader and applies the
// stages before the first global stage.
type readFn struct {
	Spec Spec
	Last int64
	b    *built
	rds  map[int64]pipeline.Reader
}

func (f *readFn) Setup() error {
	b, err := f.Spec.build(need{From: 0, To: int(f.Last)})
	if err != nil {
		return err
	}
	f.b, f.rds = b, map[int64]pipeline.Reader{}
	return nil
}

// taskEmitter adapts the reader's Emitter to Beam emitters.
type taskEmitter struct {
	f        *readFn
	task     int64
	seq      int64
	docs     int64
	bytesIn  int64
	skips    map[string]int64
	drops    map[string]int64
	emitDoc  func(docRec)
	emitDrop func(outRec)
	buf      []byte
}

func (e *taskEmitter) Doc(d *pipeline.Document) error {
	if e.seq >= 1<<32 {
		return fmt.Errorf("beam: task %d has more than 2^32 documents; lower the input's task_bytes", e.task)
	}
	ord := ordOf(e.task, e.seq)
	e.seq++
	e.docs++
	e.bytesIn += int64(len(d.Text))
	stage, reason := e.f.b.applySeg(d, 0, int(e.f.Last))
	if reason != "" {
		e.drops[dropKey(stage, reason)]++
		b, err := pipeline.MarshalDocument(d)
		if err != nil {
			return err
		}
		e.emitDrop(outRec{Ord: ord, Doc: b, Reason: reason})
		return nil
	}
	b, err := pipeline.MarshalDocument(d)
	if err != nil {
		return err
	}
	e.emitDoc(docRec{Ord: ord, Doc: b})
	return nil
}

func (e *taskEmitter) Skip(s pipeline.Skip) { e.skips["skip/"+s.Reason]++ }

func (f *readFn) ProcessElement(ctx context.Context, t taskSpec, emitDoc func(docRec), emitDrop func(outRec), emitStat func(string, int64)) error {
	rd, ok := f.rds[t.Input]
	if !ok {
		if int(t.Input) >= len(f.b.rec.Inputs) {
			return fmt.Errorf("beam: task %d names input %d of %d", t.Index, t.Input, len(f.b.rec.Inputs))
		}
		var err error
		if rd, err = newReader(f.b.rec.Inputs[t.Input]); err != nil {
			return err
		}
		f.rds[t.Input] = rd
	}
	e := &taskEmitter{f: f, task: t.Index, skips: map[string]int64{}, drops: map[string]int64{}, emitDoc: emitDoc, emitDrop: emitDrop}
	if t.Index >= 1<<31 {
		return fmt.Errorf("beam: more than 2^31 tasks")
	}
	task := pipeline.Task{Index: int(t.Index), Path: t.Path, Start: t.Start, End: t.End}
	if err := rd.Read(ctx, task, e); err != nil {
		return fmt.Errorf("beam: task %d (%s [%d,%d)): %w", t.Index, t.Path, t.Start, t.End, err)
	}
	var skipped int64
	for k, n := range e.skips {
		emitStat(k, n)
		skipped += n
	}
	for k, n := range e.drops {
		emitStat(k, n)
	}
	emitStat("records", e.docs+skipped)
	emitStat("docs", e.docs)
	emitStat("bytes_in", e.bytesIn)
	beam.NewCounter("kiln", "records").Inc(ctx, e.docs+skipped)
	beam.NewCounter("kiln", "skipped").Inc(ctx, skipped)
	return nil
}

// applyFn joins a document with its global-stage decision, applies it as
// the local executor's cluster filter does (cluster metadata on every
// member, drop the non-kept ones), then runs the stages up to the next
// global stage.
type applyFn struct {
	Spec   Spec
	Global int64
	Last   int64
	b      *built
	reason string
	prefix string
}

func (f *applyFn) Setup() error {
	b, err := f.Spec.build(need{From: int(f.Global) + 1, To: int(f.Last)})
	if err != nil {
		return err
	}
	f.b = b
	switch b.configs[f.Global].(type) {
	case *dedup.ExactConfig:
		f.reason, f.prefix = "exact_duplicate", "exact"
	case *dedup.MinHashConfig:
		f.reason, f.prefix = "minhash_duplicate", "minhash"
	default:
		return fmt.Errorf("beam: stage %d is not a supported global stage", f.Global)
	}
	return nil
}

func (f *applyFn) ProcessElement(ctx context.Context, ord int64, docs func(*docRec) bool, decs func(*decision) bool, emitDoc func(docRec), emitDrop func(outRec), emitStat func(string, int64)) error {
	var rec docRec
	n := 0
	for docs(&rec) {
		n++
	}
	if n != 1 {
		return fmt.Errorf("beam: %d documents with input order %d (task %d), want 1", n, ord, taskOf(ord))
	}
	var d pipeline.Document
	if err := pipeline.UnmarshalDocument(rec.Doc, &d); err != nil {
		return fmt.Errorf("beam: document at order %d: %w", ord, err)
	}
	var dec decision
	stage, reason := -1, ""
	if decs(&dec) {
		d.SetMeta(f.prefix+"_cluster", dec.Root)
		d.SetMeta(f.prefix+"_cluster_size", int(dec.Size))
		if dec.Dup {
			stage, reason = int(f.Global), f.reason
		}
	}
	if reason == "" {
		stage, reason = f.b.applySeg(&d, int(f.Global)+1, int(f.Last))
	}
	b, err := pipeline.MarshalDocument(&d)
	if err != nil {
		return err
	}
	if reason != "" {
		emitStat(dropKey(stage, reason), 1)
		emitDrop(outRec{Ord: ord, Doc: b, Reason: reason})
		return nil
	}
	emitDoc(docRec{Ord: ord, Doc: b})
	return nil
}

// toTaskFn keys a surviving document by its task for the writers.
type toTaskFn struct{}

func (toTaskFn) ProcessElement(d docRec) (int64, outRec) {
	return taskOf(d.Ord), outRec{Ord: d.Ord, Doc: d.Doc}
}

func dropByTask(r outRec) (int64, outRec) { return taskOf(r.Ord), r }

// writeFn writes one task's kept documents through every output (docs
// formats and output steps such as tokenize) and its dropped ones to
// rejected/, in input order. Files are written in a private folder and
// renamed into place, so a retried bundle never leaves half a file.
type writeFn struct {
	Spec Spec
	b    *built
}

func (f *writeFn) Setup() error {
	b, err := f.Spec.build(need{Outputs: true})
	f.b = b
	return err
}

func (f *writeFn) ProcessElement(ctx context.Context, task int64, iter func(*outRec) bool, emitStat func(string, int64)) error {
	var recs []outRec
	var r outRec
	for iter(&r) {
		if r.Ord >= 0 {
			recs = append(recs, r)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Ord < recs[j].Ord })
	outs := append(append([]pipeline.Output{}, f.b.docsOuts...), f.b.stepOuts...)
	tmps := make([]string, len(outs))
	tws := make([]pipeline.TaskWriter, len(outs))
	for i, o := range outs {
		tmp := filepath.Join(f.b.outDirs[i], fmt.Sprintf(".beam-%06d-%d-%d", task, i, time.Now().UnixNano()))
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		tw, err := o.OpenTask(tmp, int(task))
		if err != nil {
			return fmt.Errorf("beam: output %s task %d: %w", o.Name(), task, err)
		}
		tmps[i], tws[i] = tmp, tw
	}
	var rej *writers.Rejected
	var rejFile *os.File
	rejPath := filepath.Join(f.Spec.Out, "rejected", fmt.Sprintf("%06d.jsonl.zst", task))
	kept := map[string][2]int64{}
	for _, r := range recs {
		var d pipeline.Document
		if err := pipeline.UnmarshalDocument(r.Doc, &d); err != nil {
			return fmt.Errorf("beam: task %d order %d: %w", task, r.Ord, err)
		}
		if r.Reason != "" {
			if !f.b.rec.Outputs.Rejected {
				continue
			}
			if rej == nil {
				if err := os.MkdirAll(filepath.Dir(rejPath), 0o755); err != nil {
					return err
				}
				var err error
				if rejFile, err = os.Create(rejPath + ".tmp"); err != nil {
					return err
				}
				if rej, err = writers.NewRejected(rejFile, f.b.rec.Outputs.RejectedSample); err != nil {
					rejFile.Close()
					return err
				}
			}
			d.SetMeta("drop_reason", r.Reason)
			if err := rej.Write(&d); err != nil {
				return fmt.Errorf("beam: rejected document %q: %w", d.ID, err)
			}
			continue
		}
		c := kept[d.Source]
		c[0]++
		c[1] += int64(len(d.Text))
		kept[d.Source] = c
		for i, tw := range tws {
			if err := tw.Write(&d); err != nil {
				return fmt.Errorf("beam: output %s document %q: %w", outs[i].Name(), d.ID, err)
			}
		}
	}
	for i, tw := range tws {
		if err := tw.Close(); err != nil {
			return fmt.Errorf("beam: output %s task %d: %w", outs[i].Name(), task, err)
		}
		if err := moveTree(tmps[i], f.b.outDirs[i]); err != nil {
			return err
		}
	}
	if rej != nil {
		err := rej.Close()
		if cerr := rejFile.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(rejPath+".tmp", rejPath)
		}
		if err != nil {
			return fmt.Errorf("beam: rejected task %d: %w", task, err)
		}
	}
	var n, bytes int64
	for src, c := range kept {
		emitStat("kept/"+src, c[0])
		emitStat("kept_bytes/"+src, c[1])
		n += c[0]
		bytes += c[1]
	}
	emitStat("tasks_written", 1)
	beam.NewCounter("kiln", "kept").Inc(ctx, n)
	beam.NewCounter("kiln", "bytes_out").Inc(ctx, bytes)
	return nil
}

// moveTree renames every file under src to the same relative path under dst.
func moveTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.Rename(p, to)
	})
}

// keyFn emits a document's dedup keys: the exact hash, or one key per
// MinHash band (band number + band hash), each with the document's input
// order and id.
type keyFn struct {
	Spec   Spec
	Stage  int64
	exact  *dedup.ExactConfig
	hasher *dedup.Hasher
	bands  []uint64
	sb     strings.Builder
}

// member is one document in a dedup group.
type member struct {
	Ord int64
	ID  string
	Aux uint64
}

func (f *keyFn) Setup() error {
	b, err := f.Spec.build(need{})
	if err != nil {
		return err
	}
	switch c := b.configs[f.Stage].(type) {
	case *dedup.ExactConfig:
		f.exact = c
	case *dedup.MinHashConfig:
		h, err := dedup.NewHasher(dedup.MinHashParams{Bands: c.Bands, Rows: c.Rows, NGram: c.NGram, Seed: c.Seed})
		if err != nil {
			return err
		}
		f.hasher, f.bands = h, make([]uint64, c.Bands)
	default:
		return fmt.Errorf("beam: stage %d has config %T, not a dedup config", f.Stage, c)
	}
	return nil
}

func (f *keyFn) ProcessElement(rec docRec, emit func(string, member)) error {
	var d pipeline.Document
	if err := pipeline.UnmarshalDocument(rec.Doc, &d); err != nil {
		return fmt.Errorf("beam: document at order %d: %w", rec.Ord, err)
	}
	var k [12]byte
	if f.exact != nil {
		h, aux, ok := dedup.ExactKey(&f.sb, f.exact, &d)
		if !ok {
			return nil
		}
		binary.BigEndian.PutUint64(k[4:], h)
		emit(string(k[:]), member{Ord: rec.Ord, ID: d.ID, Aux: aux})
		return nil
	}
	sig, ok := f.hasher.Signature(d.Text)
	if !ok {
		return nil // no words: never a near-duplicate, as in filters/dedup
	}
	f.hasher.BandKeys(sig, f.bands)
	for band, h := range f.bands {
		binary.BigEndian.PutUint32(k[:4], uint32(band))
		binary.BigEndian.PutUint64(k[4:], h)
		emit(string(k[:]), member{Ord: rec.Ord, ID: d.ID})
	}
	return nil
}

// decision is a global stage's verdict on one member of a cluster larger
// than one document.
type decision struct {
	Dup  bool
	Root string
	Size int64
}

// exactDecideFn keeps the first member of an equal-hash group in
// (priority, input order), as filters/dedup's Exact.Build does.
type exactDecideFn struct{}

func (exactDecideFn) ProcessElement(_ string, iter func(*member) bool, emit func(int64, decision)) {
	var ms []member
	var m member
	for iter(&m) {
		ms = append(ms, m)
	}
	if len(ms) < 2 {
		return
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Aux != ms[j].Aux {
			return ms[i].Aux < ms[j].Aux
		}
		return ms[i].Ord < ms[j].Ord
	})
	for i, m := range ms {
		emit(m.Ord, decision{Dup: i > 0, Root: ms[0].ID, Size: int64(len(ms))})
	}
}
