package mixer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DocSource is what the mixer reads documents from: a shard set, or an
// in-memory source in tests. Doc appends document i's tokens to dst[:0].
type DocSource interface {
	NumDocs() int
	DocLen(i int) int
	Doc(i int, dst []int32) []int32
}

// LossMasker is optionally implemented by a DocSource whose documents carry
// per-token loss masks (e.g. chat data trained on completions only):
// LossMask appends document i's mask to dst[:0], nonzero = train on that
// token as a target, or returns nil when the document has none.
type LossMasker interface {
	LossMask(i int, dst []uint8) []uint8
}

// ErrExhausted is returned by Next when every source of the current stage
// has reached its epoch limit.
var ErrExhausted = errors.New("mixer: every source of the stage reached its epoch limit")

// LoaderOptions sets the batch geometry and parallelism.
type LoaderOptions struct {
	// GlobalBatchTokens is the tokens per optimizer step over all ranks
	// (0: the mixture's global_batch_tokens). Each stage packs
	// GlobalBatchTokens/SeqLen rows per step, so a sequence-length change
	// keeps the tokens per step.
	GlobalBatchTokens int64
	// MicroBatchRows is the rows per micro-batch on one rank. If 0,
	// MicroBatchTokens/SeqLen; if that is 0 too, one micro-batch holds all
	// of the rank's rows of the step.
	MicroBatchRows   int
	MicroBatchTokens int64
	// Rank and World split every global batch into World disjoint,
	// contiguous shares of rows (World 0 means 1).
	Rank, World int
	// Prefetch is how many steps a background goroutine prepares ahead
	// (0: 2; negative: none, Next packs synchronously).
	Prefetch int
	// Resume continues from a saved State (nil: start at step 0). A state
	// saved under a different mixture is a remix: each source resumes at its
	// own cursor and a new blend segment starts (recorded in the lineage).
	Resume *State
}

// StageInfo describes the stage the loader is in.
type StageInfo struct {
	Index  int
	Name   string
	SeqLen int
	// Rows is the global rows per step, RankRows this rank's share,
	// MicroRows the rows per micro-batch.
	Rows, RankRows, MicroRows int
}

// SourceStats reports one source's progress.
type SourceStats struct {
	Name      string
	Epoch     int64 // completed passes over the source
	Docs      int64 // documents completed, all epochs
	Tokens    int64 // tokens emitted, all ranks
	Exhausted bool  // reached its epoch limit in the current stage
}

// Stats reports the loader's progress and how long the consumer waited.
type Stats struct {
	Step    int64         // steps the consumer has fully received
	Batches int64         // micro-batches returned by Next
	Wait    time.Duration // total time Next blocked waiting for the producer
	Sources []SourceStats
}

// Loader produces this rank's micro-batches step after step.
type Loader struct {
	eng      *engine
	prefetch int

	once   sync.Once
	cancel context.CancelFunc
	out    chan stepOut
	done   chan struct{}

	cur     stepOut // step being handed out
	next    int     // next micro-batch of cur to return
	skip    int     // micro-batches to drop from the first step (resume)
	err     error
	batches int64
	wait    time.Duration
	started bool
	closed  bool
}

type stepOut struct {
	batches       []*Batch
	before, after State
	stage         StageInfo
	err           error
}

// NewLoader builds a loader over sources (keyed by mixture source name;
// every source with a positive weight in some stage must be present).
func NewLoader(mix *Mixture, sources map[string]DocSource, opts LoaderOptions) (*Loader, error) {
	eng, err := newEngine(mix, sources, opts)
	if err != nil {
		return nil, err
	}
	l := &Loader{eng: eng, prefetch: opts.Prefetch}
	if l.prefetch == 0 {
		l.prefetch = 2
	}
	// room for every batch that can be in flight: prefetched steps, the
	// step being consumed, and one step in the trainer's hands
	maxMicros := 1
	for i := range mix.Stages {
		_, rr, mr, _ := eng.geometry(i)
		maxMicros = max(maxMicros, rr/mr)
	}
	eng.free = make(chan *Batch, (max(l.prefetch, 0)+2)*maxMicros)
	if opts.Resume != nil {
		l.skip = opts.Resume.Micro
	}
	st := eng.snapshot()
	l.cur = stepOut{before: st, after: st, stage: eng.stageInfo(eng.stageFor())}
	return l, nil
}

// produce packs one step and snapshots the state around it.
func (l *Loader) produce() stepOut {
	before := l.eng.snapshot()
	b, err := l.eng.step()
	if err != nil {
		return stepOut{before: before, after: before, err: err}
	}
	return stepOut{batches: b, before: before, after: l.eng.snapshot(), stage: l.eng.stageInfo(l.eng.st.Stage)}
}

func (l *Loader) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.out = make(chan stepOut, l.prefetch)
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		defer close(l.out)
		for {
			s := l.produce()
			select {
			case l.out <- s:
			case <-ctx.Done():
				return
			}
			if s.err != nil {
				return
			}
		}
	}()
}

// Next returns this rank's next micro-batch. Batches are freshly allocated:
// the caller may keep them. It returns ErrExhausted (wrapped) when the
// stage's sources are all used up, or ctx's error.
func (l *Loader) Next(ctx context.Context) (*Batch, error) {
	for {
		if l.err != nil {
			return nil, l.err
		}
		if l.closed {
			return nil, errors.New("mixer: loader closed")
		}
		if l.started && l.next < len(l.cur.batches) {
			b := l.cur.batches[l.next]
			l.next++
			l.batches++
			return b, nil
		}
		var s stepOut
		if l.prefetch < 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			s = l.produce()
		} else {
			l.once.Do(l.start)
			t0 := time.Now()
			var ok bool
			select {
			case s, ok = <-l.out:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			l.wait += time.Since(t0)
			if !ok {
				return nil, errors.New("mixer: loader stopped")
			}
		}
		if s.err != nil {
			l.err = s.err
			return nil, s.err
		}
		l.cur, l.next, l.started = s, 0, true
		if l.skip > 0 {
			l.next = min(l.skip, len(s.batches))
			l.skip = 0
		}
	}
}

// Release gives a batch's buffers back for reuse by a later step, saving
// the allocation and zeroing of a fresh one. Call it only once the batch is
// no longer used (e.g. after its backward pass); never use it afterwards.
// Releasing is optional: unreleased batches are garbage collected.
func (l *Loader) Release(b *Batch) {
	if b == nil {
		return
	}
	select {
	case l.eng.free <- b:
	default:
	}
}

// State returns the resumable state after the last micro-batch Next
// returned: restoring it (LoaderOptions.Resume) yields exactly the batches
// this loader would return next. It is small (O(#sources + lineage
// entries)) and JSON-serialisable.
func (l *Loader) State() State {
	if !l.started || l.next >= len(l.cur.batches) {
		st := l.cur.after.clone()
		if !l.started {
			st.Micro = l.skip
		}
		return st
	}
	st := l.cur.before.clone()
	st.Micro = l.next
	return st
}

// Stage describes the stage of the batches Next is returning (before the
// first call: the stage the first step will use).
func (l *Loader) Stage() StageInfo { return l.cur.stage }

// Stats reports progress as seen by the consumer.
func (l *Loader) Stats() Stats {
	st := l.State()
	s := Stats{Step: st.Step, Batches: l.batches, Wait: l.wait}
	for _, src := range st.Sources {
		s.Sources = append(s.Sources, SourceStats{
			Name: src.Name, Epoch: src.Epoch, Docs: src.Epoch*src.NumDocs + src.Index,
			Tokens: src.Tokens, Exhausted: l.eng.mix.exhausted(st.Stage, src),
		})
	}
	return s
}

// Close stops the prefetcher. The sources are the caller's to close.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	if l.cancel != nil {
		l.cancel()
		for range l.out { //nolint:revive // drain so the producer can exit
		}
		<-l.done
	}
	return nil
}

// errorf prefixes loader errors consistently.
func errorf(format string, args ...any) error {
	return fmt.Errorf("mixer: "+format, args...)
}
