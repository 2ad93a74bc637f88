package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/manifest"
)

// taskRecord is a committed task phase: the done marker's content. Its
// presence is the commit; it is written (atomically) after every file of
// the task phase was renamed into place.
type taskRecord struct {
	Phase int          `json:"phase"`
	Task  int          `json:"task"`
	Stats TaskStats    `json:"stats"`
	Files []fileRecord `json:"files"`
}

type fileRecord struct {
	manifest.OutputFile
	// ModNano is the file's mtime at commit, so the final listing can reuse
	// the hash when nothing touched the file since.
	ModNano int64 `json:"mod_nano"`
}

func (r *runner) markerPath(phase, task int) string {
	return filepath.Join(r.work, "done", fmt.Sprintf("p%d-%06d.json", phase, task))
}

func (r *runner) spoolPath(phase, task int) string {
	return filepath.Join(r.work, "spool", fmt.Sprintf("p%d", phase), fmt.Sprintf("%06d.jsonl.zst", task))
}

// runPhase runs every task of a phase not yet committed, tasks in
// parallel, and returns all records in task order.
func (r *runner) runPhase(ctx context.Context, phase int) ([]taskRecord, int, error) {
	recs := make([]taskRecord, len(r.tasks))
	var todo []int
	var doneWeight float64
	var totalWeight float64
	for i := range r.tasks {
		totalWeight += r.tasks[i].weight
		b, err := os.ReadFile(r.markerPath(phase, i))
		if err == nil {
			if err := json.Unmarshal(b, &recs[i]); err == nil && recs[i].Task == i && recs[i].Phase == phase {
				doneWeight += r.tasks[i].weight
				continue
			}
		}
		todo = append(todo, i)
	}
	resumed := len(r.tasks) - len(todo)
	if phase < len(r.globals) {
		if err := os.MkdirAll(filepath.Join(r.work, "spool", fmt.Sprintf("p%d", phase)), 0o755); err != nil {
			return nil, 0, err
		}
		if err := os.MkdirAll(r.globalDir(phase), 0o755); err != nil {
			return nil, 0, err
		}
	}
	nph := len(r.globals) + 1
	r.prog.startPhase(phase, nph, len(r.tasks), resumed, totalWeight, doneWeight)
	if resumed > 0 {
		r.logf("phase %d/%d: %d of %d tasks already committed; redoing %d", phase+1, nph, resumed, len(r.tasks), len(todo))
	}
	if len(todo) == 0 {
		return recs, resumed, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pool := newPool(r.workers)
	defer pool.close()

	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	slots := min(r.workers, len(todo))
	for s := 0; s < slots; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rec, err := r.runTask(ctx, pool, phase, i)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				recs[i] = *rec
				r.prog.taskDone(r.tasks[i].weight)
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return recs, resumed, nil
}

// batch is a slice of one task's documents travelling through the pool.
type batch struct {
	docs []*pipeline.Document
	// drop[i] is the drop reason of docs[i], "" when kept.
	drop  []string
	seg   []stageRef
	stats []StageStats // indexed like the recipe's stages
	done  chan struct{}
	err   error
}

// pool applies stages to batches on a fixed set of goroutines shared by
// every task of a phase, so one huge task still uses every core.
type pool struct {
	jobs chan *batch
	wg   sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{jobs: make(chan *batch, workers)}
	for w := 0; w < workers; w++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for b := range p.jobs {
				b.err = applyStages(b)
				close(b.done)
			}
		}()
	}
	return p
}

func (p *pool) close() {
	close(p.jobs)
	p.wg.Wait()
}

// applyStages runs a batch through its segment, stage by stage; a stage's
// panic becomes an error naming the stage and document.
func applyStages(b *batch) (err error) {
	var cur *pipeline.Document
	var curStage string
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("stage %s panicked on document %q (%s record %d): %v", curStage, cur.ID, cur.Prov.File, cur.Prov.Record, v)
		}
	}()
	for _, s := range b.seg {
		st := &b.stats[s.index]
		curStage = s.name
		t0 := time.Now()
		for i, d := range b.docs {
			if b.drop[i] != "" {
				continue
			}
			cur = d
			st.In++
			st.BytesIn += int64(len(d.Text))
			if reason := s.stage.Apply(d); reason != "" {
				b.drop[i] = reason
				st.drop(reason)
				continue
			}
			st.Out++
			st.BytesOut += int64(len(d.Text))
		}
		st.Seconds += time.Since(t0).Seconds()
	}
	return nil
}

// emitter batches a reader's documents for the pool, in order.
type emitter struct {
	ctx     context.Context
	r       *runner
	pool    *pool
	ordered chan *batch
	seg     []stageRef
	cur     *batch
	curSize int
	stats   *TaskStats // reader counts; owned by the source goroutine
	// global filters documents before the segment (phases after a global
	// stage); nil in phase 0.
	global      pipeline.TaskFilter
	globalIndex int
}

func (e *emitter) newBatch() *batch {
	return &batch{seg: e.seg, stats: make([]StageStats, len(e.r.res.Stages)), done: make(chan struct{}),
		docs: make([]*pipeline.Document, 0, e.r.cfg.BatchDocs), drop: make([]string, 0, e.r.cfg.BatchDocs)}
}

func (e *emitter) Doc(d *pipeline.Document) error {
	if e.cur == nil {
		e.cur = e.newBatch()
	}
	reason := ""
	if e.global != nil {
		st := &e.cur.stats[e.globalIndex]
		st.In++
		st.BytesIn += int64(len(d.Text))
		t0 := time.Now()
		reason = e.global.Apply(d)
		st.Seconds += time.Since(t0).Seconds()
		if reason != "" {
			st.drop(reason)
		} else {
			st.Out++
			st.BytesOut += int64(len(d.Text))
		}
	} else {
		e.stats.Records++
		e.stats.Docs++
		e.stats.BytesIn += int64(len(d.Text))
	}
	e.r.prog.addRead(int64(len(d.Text)))
	e.cur.docs = append(e.cur.docs, d)
	e.cur.drop = append(e.cur.drop, reason)
	e.curSize += len(d.Text)
	if len(e.cur.docs) >= e.r.cfg.BatchDocs || e.curSize >= e.r.cfg.BatchBytes {
		return e.flush()
	}
	return nil
}

func (e *emitter) Skip(s pipeline.Skip) {
	e.stats.skip(s.Reason, s.File, s.Record, s.Err)
}

func (e *emitter) flush() error {
	b := e.cur
	e.cur, e.curSize = nil, 0
	if b == nil || len(b.docs) == 0 {
		return nil
	}
	// Ordered first: the sink waits on batches in this order, and the
	// bounded queue is what holds the reader back when writing is slow.
	select {
	case e.ordered <- b:
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
	select {
	case e.pool.jobs <- b:
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
	return nil
}

// sinks is where one task phase's surviving documents go.
type sinks struct {
	writers  []pipeline.TaskWriter
	observer pipeline.Observer
	spool    *spoolWriter
	rejected DocWriter
	rejFile  *os.File
	rejPath  string
	newRej   func() error
}

// runTask runs one task phase to a commit.
func (r *runner) runTask(ctx context.Context, pool *pool, phase, ti int) (*taskRecord, error) {
	t := r.tasks[ti]
	t0 := time.Now()
	tmp := filepath.Join(r.work, "tmp", fmt.Sprintf("p%d-%06d", phase, ti))
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	last := phase == len(r.globals)
	stats := &TaskStats{Task: ti, Input: r.res.Inputs[t.input].Name, Path: t.Path, Start: t.Start, End: t.End,
		Stages: make([]StageStats, len(r.res.Stages))}
	for i, b := range r.res.Stages {
		stats.Stages[i].Name = b.Step.Name
		stats.Stages[i].Kind = b.Def.Kind.String()
	}

	// Open the sinks.
	var sk sinks
	outs := r.allOutputs()
	outTmp := make([]string, len(outs))
	if last {
		for i, o := range outs {
			outTmp[i] = filepath.Join(tmp, fmt.Sprintf("out%d", i))
			if err := os.MkdirAll(outTmp[i], 0o755); err != nil {
				return nil, err
			}
			w, err := o.OpenTask(outTmp[i], ti)
			if err != nil {
				closeWriters(sk.writers)
				return nil, fmt.Errorf("task %d: output %s: %w", ti, o.Name(), err)
			}
			sk.writers = append(sk.writers, w)
		}
	} else {
		gs := r.res.Stages[r.globals[phase]].Value.(pipeline.GlobalStage)
		obs, err := gs.Observe(r.globalDir(phase), ti)
		if err != nil {
			return nil, fmt.Errorf("task %d: %s observe: %w", ti, gs.Name(), err)
		}
		sk.observer = obs
		sp, err := newSpoolWriter(filepath.Join(tmp, "spool.jsonl.zst"))
		if err != nil {
			obs.Close()
			return nil, err
		}
		sk.spool = sp
	}
	rejName := fmt.Sprintf("%06d-p%d.jsonl.zst", ti, phase)
	sk.rejPath = filepath.Join(tmp, rejName)
	abort := func() {
		closeWriters(sk.writers)
		if sk.observer != nil {
			sk.observer.Close()
		}
		if sk.spool != nil {
			sk.spool.abort()
		}
		if sk.rejected != nil {
			sk.rejected.Close()
			sk.rejFile.Close()
		}
	}

	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	em := &emitter{ctx: tctx, r: r, pool: pool, ordered: make(chan *batch, r.cfg.QueueBatches),
		seg: r.segments[phase], stats: stats}
	var filter pipeline.TaskFilter
	if phase > 0 {
		gs := r.res.Stages[r.globals[phase-1]].Value.(pipeline.GlobalStage)
		f, err := gs.Filter(r.globalDir(phase-1), ti)
		if err != nil {
			abort()
			return nil, fmt.Errorf("task %d: %s filter: %w", ti, gs.Name(), err)
		}
		filter = f
		em.global = f
		em.globalIndex = r.globals[phase-1]
	}

	srcErr := make(chan error, 1)
	go func() {
		var err error
		if phase == 0 {
			err = r.readers[t.input].Read(tctx, t.Task, em)
		} else {
			err = readSpool(r.spoolPath(phase-1, ti), em.Doc)
		}
		if err == nil {
			err = em.flush()
		}
		close(em.ordered)
		srcErr <- err
	}()

	sinkErr := r.drain(tctx, em.ordered, stats, &sk, last)
	if sinkErr != nil {
		cancel()
		// Let the source stop before returning: it may be mid-send.
		for range em.ordered {
		}
	}
	err := <-srcErr
	if sinkErr != nil {
		err = sinkErr
	}
	if err == nil && filter != nil {
		err = filter.Close()
		filter = nil
	}
	if filter != nil {
		filter.Close()
	}
	if err != nil {
		abort()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if phase == 0 {
			return nil, fmt.Errorf("task %d (%s [%d,%d)): %w", ti, t.Path, t.Start, t.End, err)
		}
		return nil, fmt.Errorf("task %d phase %d: %w", ti, phase, err)
	}

	// Close every sink: files are complete under tmp.
	var cerr error
	for i, w := range sk.writers {
		if e := w.Close(); e != nil && cerr == nil {
			cerr = fmt.Errorf("task %d: output %s: close: %w", ti, outs[i].Name(), e)
		}
	}
	if sk.observer != nil {
		if e := sk.observer.Close(); e != nil && cerr == nil {
			cerr = fmt.Errorf("task %d: observe: close: %w", ti, e)
		}
	}
	if sk.spool != nil {
		if e := sk.spool.Close(); e != nil && cerr == nil {
			cerr = e
		}
	}
	if sk.rejected != nil {
		if e := sk.rejected.Close(); e != nil && cerr == nil {
			cerr = e
		}
		if e := sk.rejFile.Close(); e != nil && cerr == nil {
			cerr = e
		}
	}
	if cerr != nil {
		return nil, cerr
	}
	if err := stats.checkPhase(phase == 0); err != nil {
		return nil, err
	}

	// Commit: move files into place, then write the marker.
	rec := &taskRecord{Phase: phase, Task: ti}
	for i := range outs {
		moved, err := r.moveTree(outTmp[i], r.outDirs[i], ti)
		if err != nil {
			return nil, err
		}
		if len(moved) == 1 && i < len(r.docsOuts) {
			moved[0].Docs = stats.Kept
		}
		rec.Files = append(rec.Files, moved...)
	}
	if sk.rejected != nil {
		moved, err := r.moveFile(sk.rejPath, filepath.Join(r.dir, "rejected", rejName), ti)
		if err != nil {
			return nil, err
		}
		moved.Docs = -1
		rec.Files = append(rec.Files, moved)
	}
	if sk.spool != nil {
		if err := os.Rename(filepath.Join(tmp, "spool.jsonl.zst"), r.spoolPath(phase, ti)); err != nil {
			return nil, err
		}
	}
	stats.Seconds = time.Since(t0).Seconds()
	rec.Stats = *stats
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	// The marker says the task is done: everything it wrote and moved
	// must be on disk first, or a power loss could leave a marker for
	// files that were never written.
	if err := manifest.SyncFS(r.dir); err != nil {
		return nil, err
	}
	if err := manifest.WriteFileAtomic(r.markerPath(phase, ti), b); err != nil {
		return nil, err
	}
	os.RemoveAll(tmp)
	return rec, nil
}

// checkPhase checks one phase's counts: reader counts in phase 0 and the
// chain of the stages this phase ran.
func (t *TaskStats) checkPhase(first bool) error {
	if first {
		if sk := sumMap(t.Skipped); t.Records != t.Docs+sk {
			return fmt.Errorf("task %d: %d records != %d docs + %d skipped", t.Task, t.Records, t.Docs, sk)
		}
	}
	for i := range t.Stages {
		s := &t.Stages[i]
		if s.In != s.Out+sumMap(s.Dropped) {
			return fmt.Errorf("task %d stage %s: %d in != %d out + %d dropped", t.Task, s.Name, s.In, s.Out, sumMap(s.Dropped))
		}
	}
	return nil
}

func closeWriters(ws []pipeline.TaskWriter) {
	for _, w := range ws {
		w.Close()
	}
}

// drain is the sink loop: it takes batches in order, waits for the pool,
// and hands each document to the rejected writer or the phase's sinks.
func (r *runner) drain(ctx context.Context, ordered chan *batch, stats *TaskStats, sk *sinks, last bool) error {
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b.err != nil {
			return b.err
		}
		for i := range b.stats {
			stats.Stages[i].add(&b.stats[i])
		}
		var keptBytes int64
		for i, d := range b.docs {
			if reason := b.drop[i]; reason != "" {
				if err := r.reject(sk, d, reason); err != nil {
					return err
				}
				continue
			}
			if last {
				for _, w := range sk.writers {
					if err := w.Write(d); err != nil {
						return fmt.Errorf("write document %q: %w", d.ID, err)
					}
				}
				stats.Kept++
				stats.BytesOut += int64(len(d.Text))
				keptBytes += int64(len(d.Text))
				if stats.KeptBySource == nil {
					stats.KeptBySource = map[string][2]int64{}
				}
				c := stats.KeptBySource[d.Source]
				stats.KeptBySource[d.Source] = [2]int64{c[0] + 1, c[1] + int64(len(d.Text))}
			} else {
				if err := sk.observer.Add(d); err != nil {
					return fmt.Errorf("observe document %q: %w", d.ID, err)
				}
				if err := sk.spool.Write(d); err != nil {
					return fmt.Errorf("spool document %q: %w", d.ID, err)
				}
			}
		}
		r.prog.addDocs(int64(len(b.docs)), keptBytes)
	}
	return nil
}

func (r *runner) reject(sk *sinks, d *pipeline.Document, reason string) error {
	if !r.res.Recipe.Outputs.Rejected || r.cfg.Deps.NewRejected == nil {
		return nil
	}
	if sk.rejected == nil {
		f, err := os.Create(sk.rejPath)
		if err != nil {
			return err
		}
		w, err := r.cfg.Deps.NewRejected(f, r.res.Recipe.Outputs.RejectedSample)
		if err != nil {
			f.Close()
			return err
		}
		sk.rejFile, sk.rejected = f, w
	}
	d.SetMeta("drop_reason", reason)
	if err := sk.rejected.Write(d); err != nil {
		return fmt.Errorf("rejected document %q: %w", d.ID, err)
	}
	return nil
}

// moveTree renames every file under src into dst (keeping relative paths)
// and hashes it; a file that exists is replaced (a rerun of a task that was
// killed between its renames and its marker rewrites identical bytes).
func (r *runner) moveTree(src, dst string, task int) ([]fileRecord, error) {
	var out []fileRecord
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("output %s is not a regular file", p)
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		fr, err := r.moveFile(p, target, task)
		if err != nil {
			return err
		}
		out = append(out, fr)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return out, err
}

func (r *runner) moveFile(src, dst string, task int) (fileRecord, error) {
	size, sum, err := manifest.HashFile(src)
	if err != nil {
		return fileRecord{}, err
	}
	if err := os.Rename(src, dst); err != nil {
		return fileRecord{}, err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return fileRecord{}, err
	}
	rel, _ := filepath.Rel(r.dir, dst)
	return fileRecord{OutputFile: manifest.OutputFile{Path: filepath.ToSlash(rel), Size: size, SHA256: sum, Task: task, Docs: -1},
		ModNano: fi.ModTime().UnixNano()}, nil
}
