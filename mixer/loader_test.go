package mixer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// checkBatch verifies every piece against its source document, and that
// positions, targets and loss masks follow the packing policy.
func checkBatch(t *testing.T, b *Batch, src map[string]DocSource) {
	t.Helper()
	T := b.SeqLen
	covered := make([]bool, b.Rows*T)
	for _, p := range b.Pieces {
		s := src[b.Sources[p.Source]].(*memSource)
		doc := s.docs[p.Doc]
		base := int(p.Row)*T + int(p.Start)
		for j := 0; j < int(p.Len); j++ {
			i := base + j
			if covered[i] {
				t.Fatalf("step %d: slot %d covered twice", b.Step, i)
			}
			covered[i] = true
			off := int(p.Offset) + j
			if b.Inputs[i] != doc[off] {
				t.Fatalf("step %d row %d slot %d: input %d, doc %s/%d[%d] = %d", b.Step, p.Row, int(p.Start)+j, b.Inputs[i], b.Sources[p.Source], p.Doc, off, doc[off])
			}
			if b.Positions[i] != int32(j) {
				t.Fatalf("position %d at piece offset %d", b.Positions[i], j)
			}
			if b.SourceOf[i] != p.Source {
				t.Fatalf("SourceOf %d, piece source %d", b.SourceOf[i], p.Source)
			}
			want := float32(0)
			if off+1 < len(doc) && (j+1 < int(p.Len) || int(p.Start)+j == T-1) {
				// same-document target (inside the piece, or the split
				// document's next token at the row end)
				if b.Targets[i] != doc[off+1] {
					t.Fatalf("target %d, want %d", b.Targets[i], doc[off+1])
				}
				want = 1
				if s.masks != nil && s.masks[p.Doc][off+1] == 0 {
					want = 0
				}
			}
			if b.LossMask[i] != want {
				t.Fatalf("step %d row %d slot %d: loss mask %v, want %v (doc len %d off %d)", b.Step, p.Row, int(p.Start)+j, b.LossMask[i], want, len(doc), off)
			}
		}
	}
	for i, c := range covered {
		if !c {
			t.Fatalf("step %d: slot %d not covered by any piece", b.Step, i)
		}
	}
}

func TestPackingBoundariesReconstructDocs(t *testing.T) {
	m := mustParse(t, threeSources)
	src := threeMem()
	l := mustLoader(t, m, src, LoaderOptions{MicroBatchRows: 2})
	// reconstruct each document from the batches: the pieces of one
	// document, in order, must tile it exactly from offset 0.
	type key struct {
		src        uint8
		epoch, doc int64
	}
	next := map[key]int64{}
	rebuilt := map[key][]int32{}
	for _, b := range take(t, l, 4*40) {
		checkBatch(t, b, src)
		T := b.SeqLen
		for _, p := range b.Pieces {
			k := key{p.Source, p.Epoch, p.Doc}
			if next[k] != p.Offset {
				t.Fatalf("%v: piece at offset %d, expected %d (gap or repeat)", k, p.Offset, next[k])
			}
			next[k] += int64(p.Len)
			base := int(p.Row)*T + int(p.Start)
			rebuilt[k] = append(rebuilt[k], b.Inputs[base:base+int(p.Len)]...)
		}
	}
	complete := 0
	for k, toks := range rebuilt {
		doc := src[m.Sources[k.src].Name].(*memSource).docs[k.doc]
		if len(toks) == len(doc) {
			complete++
			if !reflect.DeepEqual(toks, doc) {
				t.Fatalf("%v: rebuilt document differs", k)
			}
		}
	}
	if complete < 100 {
		t.Fatalf("only %d complete documents rebuilt", complete)
	}
}

func TestCuSeqlens(t *testing.T) {
	b := &Batch{Rows: 1, SeqLen: 6, Positions: []int32{0, 1, 2, 0, 0, 1}}
	got := b.CuSeqlens(0, nil)
	if want := []int32{0, 3, 4, 6}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CuSeqlens = %v, want %v", got, want)
	}
}

func TestResumeExact(t *testing.T) {
	for _, tc := range []struct {
		name        string
		micro, k, n int
		rank, world int
		prefetch    int
	}{
		{"step boundary", 0, 10, 30, 0, 1, 0},
		{"mid step micro", 2, 13, 70, 0, 1, 0},
		{"at the stage switch", 1, 160, 180, 0, 1, 3},     // s1: 20 steps x 8 micro-batches
		{"inside the new stage", 1, 163, 200, 0, 1, 3},    // s2 packs 4 rows of 128 per step
		{"mid step before switch", 1, 157, 175, 0, 1, -1}, // state before the switch step
		{"rank 1 of 2", 2, 7, 30, 1, 2, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, threeSources)
			opt := LoaderOptions{MicroBatchRows: tc.micro, Rank: tc.rank, World: tc.world, Prefetch: tc.prefetch}
			straight := take(t, mustLoader(t, m, threeMem(), opt), tc.n)

			l := mustLoader(t, m, threeMem(), opt)
			first := take(t, l, tc.k)
			st := l.State()
			js, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			var back State
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			opt.Resume = &back
			rest := take(t, mustLoader(t, m, threeMem(), opt), tc.n-tc.k)
			got := append(first, rest...)
			for i := range straight {
				if !reflect.DeepEqual(straight[i], got[i]) {
					t.Fatalf("batch %d (step %d micro %d) differs after resume at %d", i, straight[i].Step, straight[i].Micro, tc.k)
				}
			}
		})
	}
}

func TestNextHonoursContextAndClose(t *testing.T) {
	m := mustParse(t, threeSources)
	l := mustLoader(t, m, threeMem(), LoaderOptions{Prefetch: 1})
	take(t, l, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// the current step may still have micro-batches in hand; after those
	// a cancelled context must stop Next
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = l.Next(ctx)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(context.Background()); err == nil {
		t.Fatal("Next after Close succeeded")
	}
	st := l.State()
	if st.Step < 1 {
		t.Fatalf("state after close: step %d", st.Step)
	}
}

func TestLoaderOptionErrors(t *testing.T) {
	m := mustParse(t, threeSources)
	for _, tc := range []struct {
		name string
		opt  LoaderOptions
		src  map[string]DocSource
	}{
		{"rank out of range", LoaderOptions{Rank: 2, World: 2}, threeMem()},
		{"rows do not split over ranks", LoaderOptions{World: 3}, threeMem()},
		{"micro-batch does not divide", LoaderOptions{MicroBatchRows: 3}, threeMem()},
		{"batch not multiple of seq_len", LoaderOptions{GlobalBatchTokens: 100}, threeMem()},
		{"missing source", LoaderOptions{}, map[string]DocSource{"web": newMem(1, 3, 1, 5, false)}},
		{"empty source", LoaderOptions{}, map[string]DocSource{"web": &memSource{}, "code": newMem(1, 3, 1, 5, false), "math": newMem(1, 3, 1, 5, false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewLoader(m, tc.src, tc.opt); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// FuzzResume: for any seed, split point, micro-batch size and rank, k
// micro-batches + save + restore + the rest equals the straight run.
func FuzzResume(f *testing.F) {
	f.Add(uint64(7), uint8(13), uint8(2), uint8(0), uint8(1))
	f.Add(uint64(1), uint8(81), uint8(1), uint8(1), uint8(2))
	f.Add(uint64(99), uint8(0), uint8(0), uint8(3), uint8(4))
	f.Fuzz(func(t *testing.T, seed uint64, k, micro, rank, world uint8) {
		w := int(world%4) + 1
		if 8%w != 0 {
			w = 2
		}
		mr := int(micro % 3)
		if mr > 0 && (8/w)%mr != 0 || mr > 0 && (4/w)%mr != 0 {
			mr = 0
		}
		opt := LoaderOptions{MicroBatchRows: mr, Rank: int(rank) % w, World: w, Prefetch: -1}
		m := mustParse(t, strings.Replace(threeSources, "seed: 7", fmt.Sprintf("seed: %d", seed>>1), 1))
		const n = 90
		straight := take(t, mustLoader(t, m, threeMem(), opt), n)
		kk := int(k) % n
		l := mustLoader(t, m, threeMem(), opt)
		first := take(t, l, kk)
		st := l.State()
		opt.Resume = &st
		got := append(first, take(t, mustLoader(t, m, threeMem(), opt), n-kk)...)
		for i := range straight {
			if !reflect.DeepEqual(straight[i], got[i]) {
				t.Fatalf("batch %d differs after resume at %d", i, kk)
			}
		}
	})
}
