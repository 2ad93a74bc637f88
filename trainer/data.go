package trainer

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kilnlm/kiln/mixer"
)

// LoaderData adapts the mixer's loader to Data.
type LoaderData struct{ L *mixer.Loader }

// Next implements Data.
func (d LoaderData) Next(ctx context.Context) (*mixer.Batch, error) { return d.L.Next(ctx) }

// State implements Data: the loader's state as JSON.
func (d LoaderData) State() (json.RawMessage, error) {
	st := d.L.State()
	return json.Marshal(st)
}

// Close stops the loader's prefetching.
func (d LoaderData) Close() error { return d.L.Close() }

// OpenLoader builds a loader over sources, resuming from state when it is
// non-empty (a checkpoint's data_state).
func OpenLoader(mix *mixer.Mixture, sources map[string]mixer.DocSource, opts mixer.LoaderOptions, state json.RawMessage) (Data, error) {
	if len(state) > 0 && string(state) != "null" {
		var st mixer.State
		if err := json.Unmarshal(state, &st); err != nil {
			return nil, fmt.Errorf("loader state: %w", err)
		}
		opts.Resume = &st
	}
	l, err := mixer.NewLoader(mix, sources, opts)
	if err != nil {
		return nil, err
	}
	return LoaderData{l}, nil
}

// MemDocs is an in-memory document source (tests, raw-text runs).
type MemDocs [][]int32

// NumDocs implements mixer.DocSource.
func (m MemDocs) NumDocs() int { return len(m) }

// DocLen implements mixer.DocSource.
func (m MemDocs) DocLen(i int) int { return len(m[i]) }

// Doc implements mixer.DocSource.
func (m MemDocs) Doc(i int, dst []int32) []int32 { return append(dst[:0], m[i]...) }

// SplitDocs tokenizes text into documents at blank lines (paragraphs
// shorter than minBytes are merged into the next), holding out every
// holdEvery-th document (0: none) for evaluation.
func SplitDocs(text string, tok Tokenizer, minBytes, holdEvery int) (train, held MemDocs) {
	var cur []byte
	n := 0
	flush := func() {
		if len(cur) == 0 {
			return
		}
		ids := tok.Encode(string(cur))
		n++
		if holdEvery > 0 && n%holdEvery == 0 {
			held = append(held, ids)
		} else {
			train = append(train, ids)
		}
		cur = cur[:0]
	}
	start := 0
	for i := 0; i+1 < len(text); i++ {
		if text[i] == '\n' && text[i+1] == '\n' {
			cur = append(cur, text[start:i+1]...)
			start = i + 2
			if len(cur) >= minBytes {
				flush()
			}
		}
	}
	cur = append(cur, text[start:]...)
	flush()
	return train, held
}

// EvalBatches packs documents into at most maxBatches held-out batches of
// rows x T, positions restarting per document and the loss masked across
// document boundaries, like the loader's batches.
func EvalBatches(docs MemDocs, rows, T, maxBatches int) []Input {
	var out []Input
	var toks, pos []int32
	var same []bool
	for _, d := range docs {
		for i, t := range d {
			toks = append(toks, t)
			pos = append(pos, int32(i))
			same = append(same, i+1 < len(d))
		}
	}
	per := rows * T
	for b := 0; b < maxBatches && (b+1)*per+1 <= len(toks); b++ {
		in := Input{B: rows, T: T}
		for i := b * per; i < (b+1)*per; i++ {
			in.Tokens = append(in.Tokens, toks[i])
			in.Targets = append(in.Targets, toks[i+1])
			// Rows restart positions so attention stays within the row.
			p := pos[i]
			if r := (i - b*per) % T; int(p) > r {
				p = int32(r)
			}
			in.Positions = append(in.Positions, p)
			m := float32(0)
			if same[i] {
				m = 1
			}
			in.LossMask = append(in.LossMask, m)
		}
		out = append(out, in)
	}
	return out
}
