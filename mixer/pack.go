package mixer

import (
	"fmt"
)

// cursor is the engine's working copy of one mixture source's SourceState.
type cursor struct {
	name     string
	version  string // data version (Versioner), "" if unknown
	seed     uint64
	numDocs  int64
	epoch    int64
	index    int64
	offset   int64
	tokens   int64
	segTok   int64
	perm     perm
	permFor  int64 // epoch perm was built for (-1: none)
	lineage  int   // index in st.Lineage of this segment's entry, -1: none
	cacheDoc int64 // document whose tokens are in cacheTok (-1: none)
	cacheTok []int32
	// cacheLMDoc is the document whose loss mask is in cacheLM (-1: none)
	cacheLMDoc int64
	cacheLM    []uint8
}

// engine packs steps. It is used by one goroutine at a time.
type engine struct {
	mix     *Mixture
	srcs    []DocSource   // parallel to mix.Sources (nil: not used by any stage)
	masks   []LossMasker  // parallel; nil where the source has no masks
	rangers []TokenRanger // parallel; nil where the source cannot read spans
	cur     []cursor      // parallel to mix.Sources
	others  []SourceState
	st      State // Step, Tokens, Stage, Segment, SegmentTokens, Lineage

	gbt         int64
	microRows   int
	microTokens int64
	rank, world int
	segTok      []int64 // scratch for pickSource
	active      []bool
	names       []string
	free        chan *Batch // batches given back by Loader.Release
}

func newEngine(mix *Mixture, sources map[string]DocSource, opts LoaderOptions) (*engine, error) {
	e := &engine{mix: mix, gbt: opts.GlobalBatchTokens, microRows: opts.MicroBatchRows,
		microTokens: opts.MicroBatchTokens, rank: opts.Rank, world: opts.World}
	if e.gbt == 0 {
		e.gbt = mix.GlobalBatchTokens
	}
	if e.world == 0 {
		e.world = 1
	}
	if e.gbt <= 0 {
		return nil, errorf("mixture %s: global batch tokens not set (global_batch_tokens in the mixture or LoaderOptions)", mix.Name)
	}
	if e.rank < 0 || e.rank >= e.world {
		return nil, errorf("rank %d outside world size %d", e.rank, e.world)
	}
	if len(mix.Sources) > 255 {
		return nil, errorf("mixture %s: more than 255 sources", mix.Name)
	}
	for i := range mix.Stages {
		if _, _, _, err := e.geometry(i); err != nil {
			return nil, err
		}
	}
	n := len(mix.Sources)
	e.srcs = make([]DocSource, n)
	e.masks = make([]LossMasker, n)
	e.rangers = make([]TokenRanger, n)
	e.cur = make([]cursor, n)
	e.segTok = make([]int64, n)
	e.active = make([]bool, n)
	for d, s := range mix.Sources {
		e.names = append(e.names, s.Name)
		used := false
		for _, st := range mix.Stages {
			used = used || st.Weights[d] > 0
		}
		src := sources[s.Name]
		if src == nil && used {
			return nil, errorf("mixture %s: source %s has no document source (shard set %q not opened)", mix.Name, s.Name, s.Path)
		}
		c := cursor{name: s.Name, seed: mix.Seed, permFor: -1, lineage: -1, cacheDoc: -1, cacheLMDoc: -1}
		if src != nil {
			e.srcs[d] = src
			e.masks[d], _ = src.(LossMasker)
			e.rangers[d], _ = src.(TokenRanger)
			if v, ok := src.(Versioner); ok {
				c.version = v.VersionID()
			}
			c.numDocs = int64(src.NumDocs())
			if c.numDocs == 0 && used {
				return nil, errorf("mixture %s: source %s has no documents", mix.Name, s.Name)
			}
		}
		e.cur[d] = c
	}
	e.st = State{Version: StateVersion, Mixture: mix.Name, MixtureHash: mix.Hash(), Stage: -1}
	if r := opts.Resume; r != nil {
		if err := e.restore(r); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *engine) restore(r *State) error {
	if r.Version != StateVersion {
		return errorf("state version %d, want %d", r.Version, StateVersion)
	}
	if r.Step < 0 || r.Tokens < 0 || r.Micro < 0 || r.SegmentTokens < 0 {
		return errorf("state: negative counters")
	}
	remix := r.MixtureHash != e.st.MixtureHash
	if remix && r.Micro != 0 {
		return errorf("state: a remix must start at a step boundary (state is %d micro-batches into step %d)", r.Micro, r.Step)
	}
	e.st.Step, e.st.Tokens = r.Step, r.Tokens
	e.st.Stage, e.st.StageName = r.Stage, r.StageName
	e.st.Segment, e.st.SegmentTokens = r.Segment, r.SegmentTokens
	e.st.NewSegment = r.NewSegment || remix
	e.st.Lineage = append([]LineageEntry(nil), r.Lineage...)
	for _, s := range r.Sources {
		if s.NumDocs < 0 || s.Epoch < 0 || s.Index < 0 || s.Offset < 0 || (s.NumDocs > 0 && s.Index >= s.NumDocs) {
			return errorf("state: source %s: cursor out of range", s.Name)
		}
		d := e.mix.SourceIndex(s.Name)
		if d < 0 {
			e.others = append(e.others, s)
			continue
		}
		c := &e.cur[d]
		if e.srcs[d] != nil && c.numDocs != s.NumDocs {
			return errorf("state: source %s had %d documents, its shard set now has %d: resuming would repeat or skip documents", s.Name, s.NumDocs, c.numDocs)
		}
		if e.srcs[d] != nil && c.version != "" && s.Version != "" && c.version != s.Version {
			return errorf("state: source %s was read from shard set %s, now %s: resuming would read different documents", s.Name, s.Version, c.version)
		}
		if c.version == "" {
			c.version = s.Version
		}
		c.numDocs, c.seed = s.NumDocs, s.Seed
		c.epoch, c.index, c.offset = s.Epoch, s.Index, s.Offset
		c.tokens, c.segTok = s.Tokens, s.SegmentTokens
		if e.srcs[d] != nil && s.Offset > 0 && s.Offset >= int64(e.srcs[d].DocLen(int(c.docID()))) {
			return errorf("state: source %s: offset %d past the end of its document", s.Name, s.Offset)
		}
	}
	if !e.st.NewSegment {
		for i := range e.st.Lineage {
			le := &e.st.Lineage[i]
			if le.Segment == e.st.Segment {
				if d := e.mix.SourceIndex(le.Source); d >= 0 {
					e.cur[d].lineage = i
				}
			}
		}
	}
	return nil
}

// snapshot returns the state (a copy).
func (e *engine) snapshot() State {
	st := e.st.clone()
	st.Sources = st.Sources[:0]
	for _, c := range e.cur {
		if c.numDocs == 0 && c.tokens == 0 {
			continue // never opened, never read: nothing to resume
		}
		st.Sources = append(st.Sources, SourceState{Name: c.name, Version: c.version, NumDocs: c.numDocs, Seed: c.seed,
			Epoch: c.epoch, Index: c.index, Offset: c.offset, Tokens: c.tokens, SegmentTokens: c.segTok})
	}
	st.Sources = append(st.Sources, e.others...)
	return st
}

// geometry returns rows per step, rows per rank and rows per micro-batch.
func (e *engine) geometry(stage int) (rows, rankRows, microRows int, err error) {
	sg := &e.mix.Stages[stage]
	T := int64(sg.SeqLen)
	if e.gbt%T != 0 {
		return 0, 0, 0, errorf("stage %s: global batch of %d tokens is not a multiple of seq_len %d", sg.Name, e.gbt, T)
	}
	rows = int(e.gbt / T)
	if rows%e.world != 0 {
		return 0, 0, 0, errorf("stage %s: %d rows per step do not split over %d ranks", sg.Name, rows, e.world)
	}
	rankRows = rows / e.world
	microRows = e.microRows
	if microRows == 0 && e.microTokens > 0 {
		if e.microTokens%T != 0 {
			return 0, 0, 0, errorf("stage %s: micro-batch of %d tokens is not a multiple of seq_len %d", sg.Name, e.microTokens, T)
		}
		microRows = int(e.microTokens / T)
	}
	if microRows == 0 {
		microRows = rankRows
	}
	if microRows < 0 || rankRows%microRows != 0 {
		return 0, 0, 0, errorf("stage %s: %d rows per rank do not split into micro-batches of %d rows", sg.Name, rankRows, microRows)
	}
	return rows, rankRows, microRows, nil
}

func (e *engine) stageInfo(stage int) StageInfo {
	if stage < 0 {
		stage = 0
	}
	rows, rr, mr, _ := e.geometry(stage)
	sg := &e.mix.Stages[stage]
	return StageInfo{Index: stage, Name: sg.Name, SeqLen: sg.SeqLen, Rows: rows, RankRows: rr, MicroRows: mr}
}

// stageFor returns the stage the next step belongs to.
func (e *engine) stageFor() int {
	s := 0
	for i, sg := range e.mix.Stages {
		var at bool
		if sg.Start.Unit == "tokens" {
			at = e.st.Tokens >= sg.Start.Value
		} else {
			at = e.st.Step >= sg.Start.Value
		}
		if at {
			s = i
		}
	}
	return s
}

// enterSegment starts a new blend segment for stage.
func (e *engine) enterSegment(stage int) {
	e.st.Stage, e.st.StageName = stage, e.mix.Stages[stage].Name
	if e.st.Step > 0 || e.st.Segment > 0 || len(e.st.Lineage) > 0 {
		e.st.Segment++
	}
	e.st.SegmentTokens = 0
	e.st.NewSegment = false
	for d := range e.cur {
		e.cur[d].segTok = 0
		e.cur[d].lineage = -1
	}
	e.st.MixtureHash, e.st.Mixture = e.mix.Hash(), e.mix.Name
}

func (c *cursor) docID() int64 {
	if c.permFor != c.epoch {
		c.perm = newPerm(uint64(c.numDocs), epochKey(c.seed, c.name, c.epoch))
		c.permFor = c.epoch
	}
	return int64(c.perm.at(uint64(c.index)))
}

// advance moves c past its current document.
func (c *cursor) advance() {
	c.offset = 0
	c.index++
	if c.index == c.numDocs {
		c.index = 0
		c.epoch++
	}
}

// step packs one global step and returns this rank's micro-batches.
func (e *engine) step() ([]*Batch, error) {
	stage := e.stageFor()
	if stage != e.st.Stage || e.st.NewSegment {
		e.enterSegment(stage)
	}
	sg := &e.mix.Stages[stage]
	T := sg.SeqLen
	rows, rankRows, microRows, err := e.geometry(stage)
	if err != nil {
		return nil, err
	}
	for d := range e.cur {
		e.active[d] = e.srcs[d] != nil && !e.mix.exhausted(stage, e.cur[d].state())
	}
	micros := rankRows / microRows
	batches := make([]*Batch, micros)
	for i := range batches {
		b := e.newBatch(microRows * T)
		b.Rows, b.SeqLen, b.Sources, b.Step, b.Micro, b.Micros, b.Stage = microRows, T, e.names, e.st.Step, i, micros, sg.Name
		batches[i] = b
	}
	lo := e.rank * rankRows
	for r := 0; r < rows; r++ {
		var b *Batch
		br := 0
		if r >= lo && r < lo+rankRows {
			b = batches[(r-lo)/microRows]
			br = (r - lo) % microRows
		}
		if err := e.fillRow(sg, stage, b, br); err != nil {
			return nil, err
		}
	}
	e.st.Step++
	e.st.Tokens += int64(rows) * int64(T)
	return batches, nil
}

// newBatch returns a batch with n-token buffers: a released one of that
// size when there is one (Targets and LossMask cleared: packing sets only
// what it trains on), else a new one.
func (e *engine) newBatch(n int) *Batch {
	for e.free != nil {
		var b *Batch
		select {
		case b = <-e.free:
		default:
		}
		if b == nil {
			break
		}
		if len(b.Inputs) != n {
			continue // from another stage's geometry: let the GC have it
		}
		clear(b.Targets)
		clear(b.LossMask)
		b.Pieces = b.Pieces[:0]
		return b
	}
	return &Batch{Inputs: make([]int32, n), Targets: make([]int32, n), Positions: make([]int32, n),
		LossMask: make([]float32, n), SourceOf: make([]uint8, n)}
}

func (c *cursor) state() SourceState {
	return SourceState{Name: c.name, NumDocs: c.numDocs, Seed: c.seed, Epoch: c.epoch, Index: c.index, Offset: c.offset}
}

// fillRow packs one row of T inputs (plus the final target). b is nil for a
// row that belongs to another rank: the blend and the cursors advance
// exactly as on that rank, but no token is read.
func (e *engine) fillRow(sg *Stage, stage int, b *Batch, br int) error {
	T := sg.SeqLen
	for slots := 0; slots < T; {
		for d := range e.cur {
			e.segTok[d] = e.cur[d].segTok
		}
		d := pickSource(sg.Weights, e.segTok, e.active)
		if d < 0 {
			return fmt.Errorf("stage %s at step %d: %w", sg.Name, e.st.Step, ErrExhausted)
		}
		c := &e.cur[d]
		doc := c.docID()
		L := int64(e.srcs[d].DocLen(int(doc)))
		rem := L - c.offset
		if rem <= 0 { // empty document: counts as read, emits nothing
			c.advance()
			e.active[d] = !e.mix.exhausted(stage, c.state())
			continue
		}
		take := min(rem, int64(T-slots))
		if b != nil {
			if err := e.emit(b, br, slots, d, c, doc, take, take < rem); err != nil {
				return err
			}
		}
		e.record(sg, c, take)
		slots += int(take)
		c.offset += take
		c.tokens += take
		c.segTok += take
		e.st.SegmentTokens += take
		if c.offset == L {
			c.advance()
			e.active[d] = !e.mix.exhausted(stage, c.state())
		}
		e.st.Lineage[c.lineage].To = Cursor{Epoch: c.epoch, Index: c.index, Offset: c.offset}
	}
	return nil
}

// record updates the lineage entry of c's source in the current segment.
func (e *engine) record(sg *Stage, c *cursor, take int64) {
	if c.lineage < 0 {
		e.st.Lineage = append(e.st.Lineage, LineageEntry{Segment: e.st.Segment, Mixture: e.mix.Name,
			MixtureHash: e.st.MixtureHash, Stage: sg.Name, Source: c.name, FirstStep: e.st.Step,
			From: Cursor{Epoch: c.epoch, Index: c.index, Offset: c.offset}})
		c.lineage = len(e.st.Lineage) - 1
	}
	le := &e.st.Lineage[c.lineage]
	le.Tokens += take
	le.EndStep = e.st.Step + 1
}

// emit writes one piece into row br of b starting at input slot start.
// Policy: positions restart at 0 for every piece; a target is trained
// (LossMask 1) only when it is the next token of the same document (and
// the source's own loss mask allows it). When a document continues past the
// row (split), the row's final target is the document's next token, and
// the next piece of that document starts with that same token as its first
// input: every token after a document's first is a target exactly once.
func (e *engine) emit(b *Batch, br, start, d int, c *cursor, doc, take int64, split bool) error {
	n := int(take)
	off := int(c.offset)
	need := n // tokens [off, off+need) are read: the piece, plus the peek
	if split {
		need++
	}
	var tok []int32 // tok[j] is document token off+j
	if r := e.rangers[d]; r != nil {
		c.cacheTok = r.Tokens(int(doc), off, off+need, c.cacheTok[:0])
		tok = c.cacheTok
		if len(tok) != need {
			return errorf("source %s document %d: Tokens returned %d tokens for [%d,%d)", c.name, doc, len(tok), off, off+need)
		}
	} else {
		if c.cacheDoc != doc {
			c.cacheTok = e.srcs[d].Doc(int(doc), c.cacheTok[:0])
			c.cacheDoc = doc
			if L := e.srcs[d].DocLen(int(doc)); len(c.cacheTok) != L {
				return errorf("source %s document %d: Doc returned %d tokens, DocLen says %d", c.name, doc, len(c.cacheTok), L)
			}
		}
		tok = c.cacheTok[off : off+need]
	}
	var lmDoc []uint8
	if m := e.masks[d]; m != nil {
		if c.cacheLMDoc != doc {
			c.cacheLM = m.LossMask(int(doc), c.cacheLM[:0])
			c.cacheLMDoc = doc
			if c.cacheLM != nil && len(c.cacheLM) != e.srcs[d].DocLen(int(doc)) {
				return errorf("source %s document %d: loss mask has %d entries for %d tokens", c.name, doc, len(c.cacheLM), e.srcs[d].DocLen(int(doc)))
			}
		}
		lmDoc = c.cacheLM
	}
	T := b.SeqLen
	base := br*T + start
	copy(b.Inputs[base:base+n], tok[:n])
	if start > 0 {
		// the previous piece's last target is this piece's first token,
		// already masked: no prediction across a document boundary.
		b.Targets[base-1] = tok[0]
	}
	pos := b.Positions[base : base+n]
	for j := range pos {
		pos[j] = int32(j)
	}
	src := b.SourceOf[base : base+n]
	for j := range src {
		src[j] = uint8(d)
	}
	last := n - 1 // trained targets: tokens off+1 .. off+last
	if split {
		last = n
	}
	copy(b.Targets[base:base+last], tok[1:1+last])
	lm := b.LossMask[base : base+last]
	if lmDoc == nil {
		for j := range lm {
			lm[j] = 1
		}
	} else {
		sm := lmDoc[off+1 : off+1+last]
		for j := range lm {
			if sm[j] != 0 {
				lm[j] = 1
			}
		}
	}
	b.Pieces = append(b.Pieces, Piece{Row: int32(br), Start: int32(start), Len: int32(n), Source: uint8(d),
		Epoch: c.epoch, Doc: doc, Offset: c.offset})
	return nil
}
