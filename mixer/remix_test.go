package mixer

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// docTrace follows one source's document stream: documents must appear in
// exactly the source's permutation order, each tiled from offset 0 with no
// gap, no overlap and no repeat, across any number of loaders.
type docTrace struct {
	t    *testing.T
	next map[string]*Cursor // per source: the position expected next
	perm map[string]perm
	seed uint64
	n    map[string]int64
	src  map[string]DocSource
	docs map[string]int64 // documents completed per source
}

func newTrace(t *testing.T, seed uint64, src map[string]DocSource) *docTrace {
	return &docTrace{t: t, next: map[string]*Cursor{}, perm: map[string]perm{}, seed: seed, src: src, docs: map[string]int64{}}
}

func (tr *docTrace) add(b *Batch) {
	for _, p := range b.Pieces {
		name := b.Sources[p.Source]
		c := tr.next[name]
		if c == nil {
			c = &Cursor{}
			tr.next[name] = c
		}
		s := tr.src[name]
		pm := newPerm(uint64(s.NumDocs()), epochKey(tr.seed, name, c.Epoch))
		want := int64(pm.at(uint64(c.Index)))
		if p.Epoch != c.Epoch || p.Doc != want || p.Offset != c.Offset {
			tr.t.Fatalf("step %d %s: got epoch %d doc %d offset %d, want epoch %d doc %d offset %d (repeat or skip)",
				b.Step, name, p.Epoch, p.Doc, p.Offset, c.Epoch, want, c.Offset)
		}
		c.Offset += int64(p.Len)
		if c.Offset == int64(s.DocLen(int(p.Doc))) {
			tr.docs[name]++
			c.Offset = 0
			c.Index++
			if c.Index == int64(s.NumDocs()) {
				c.Index, c.Epoch = 0, c.Epoch+1
			}
		}
	}
}

const remixA = `
name: a
seed: 7
global_batch_tokens: 512
sources:
  web:  {tokens: 1M}
  code: {tokens: 1M}
stages:
  - name: s1
    seq_len: 64
    weights: {web: 0.7, code: 0.3}
`

// remixB changes the weights, drops code, adds math, and doubles the
// sequence length; it also has another seed, which must not change the
// order of the sources that were already being read.
const remixB = `
name: b
seed: 99
global_batch_tokens: 512
sources:
  web:  {tokens: 1M}
  code: {tokens: 1M}
  math: {tokens: 1M}
stages:
  - name: s2
    seq_len: 128
    weights: {web: 0.5, math: 0.5}
`

const remixC = `
name: c
seed: 7
global_batch_tokens: 512
sources:
  web:  {tokens: 1M}
  code: {tokens: 1M}
stages:
  - name: s3
    seq_len: 32
    weights: {web: 0.2, code: 0.8}
`

func TestRemixNoRepeatsNoSkips(t *testing.T) {
	src := threeMem()
	tr := newTrace(t, 7, src)
	a := mustLoader(t, mustParse(t, remixA), src, LoaderOptions{MicroBatchRows: 2})
	for _, b := range take(t, a, 4*25) {
		checkBatch(t, b, src)
		tr.add(b)
	}
	st := a.State()
	codeAt := *tr.next["code"]
	if codeAt == (Cursor{}) {
		t.Fatal("code not read before the remix")
	}

	// Remix to b: web continues, code pauses, math starts (with seed 99 for
	// math only: sources keep the seed they started with).
	mb := mustParse(t, remixB)
	b := mustLoader(t, mb, src, LoaderOptions{MicroBatchRows: 2, Resume: &st})
	trB := tr
	trB.seed = 7
	mathTrace := newTrace(t, 99, src)
	for _, bt := range take(t, b, 2*30) {
		if bt.SeqLen != 128 || bt.Rows != 2 {
			t.Fatalf("after remix: SeqLen %d rows %d, want 128 and 2", bt.SeqLen, bt.Rows)
		}
		checkBatch(t, bt, src)
		for _, p := range bt.Pieces {
			if bt.Sources[p.Source] == "code" {
				t.Fatal("code read while removed from the mixture")
			}
		}
		web, math := *bt, *bt
		web.Pieces, math.Pieces = nil, nil
		for _, p := range bt.Pieces {
			if bt.Sources[p.Source] == "math" {
				math.Pieces = append(math.Pieces, p)
			} else {
				web.Pieces = append(web.Pieces, p)
			}
		}
		tr.add(&web)
		mathTrace.add(&math)
	}
	if mathTrace.next["math"] == nil {
		t.Fatal("math never read after being added")
	}
	st2 := b.State()

	// Remix to c: code comes back exactly where it stopped.
	c := mustLoader(t, mustParse(t, remixC), src, LoaderOptions{Resume: &st2})
	bs := take(t, c, 40)
	found := false
	for _, p := range bs[0].Pieces {
		if bs[0].Sources[p.Source] == "code" {
			if p.Epoch != codeAt.Epoch || p.Offset != codeAt.Offset {
				t.Fatalf("code resumed at epoch %d offset %d, stopped at %+v", p.Epoch, p.Offset, codeAt)
			}
			found = true
			break
		}
	}
	if !found {
		t.Fatal("code not in the first batch after re-adding it at weight 0.8")
	}
	for _, bt := range bs {
		checkBatch(t, bt, src)
		tr.add(bt)
	}

	// The lineage names every (mixture, stage, source) span.
	lin := c.State().Lineage
	var got []string
	for _, le := range lin {
		got = append(got, le.Mixture+"/"+le.Stage+"/"+le.Source)
		if le.Tokens <= 0 || le.EndStep <= le.FirstStep {
			t.Fatalf("lineage entry %+v: empty", le)
		}
	}
	want := []string{"a/s1/web", "a/s1/code", "b/s2/web", "b/s2/math", "c/s3/web", "c/s3/code"}
	if len(got) != len(want) {
		t.Fatalf("lineage %v, want %v", got, want)
	}
	gotSet, wantSet := map[string]bool{}, map[string]bool{}
	for i := range got {
		gotSet[got[i]], wantSet[want[i]] = true, true
	}
	if !reflect.DeepEqual(gotSet, wantSet) {
		t.Fatalf("lineage %v, want %v", got, want)
	}
	// consecutive spans of one source meet exactly
	last := map[string]Cursor{}
	for _, le := range lin {
		if prev, ok := last[le.Source]; ok && prev != le.From {
			t.Fatalf("lineage of %s: span starts at %+v, previous ended at %+v", le.Source, le.From, prev)
		}
		last[le.Source] = le.To
	}
}

func TestRemixRejectsChangedSource(t *testing.T) {
	src := threeMem()
	a := mustLoader(t, mustParse(t, remixA), src, LoaderOptions{})
	take(t, a, 3)
	st := a.State()
	src["web"] = newMem(1, 301, 1, 200, false)
	if _, err := NewLoader(mustParse(t, remixB), src, LoaderOptions{Resume: &st}); err == nil {
		t.Fatal("resumed onto a source with a different document count")
	}
	st.Micro = 1
	src["web"] = newMem(1, 300, 1, 200, false)
	if _, err := NewLoader(mustParse(t, remixB), src, LoaderOptions{Resume: &st}); err == nil {
		t.Fatal("remix accepted in the middle of a step")
	}
}

func TestSeqLenChangeBetweenStages(t *testing.T) {
	m := mustParse(t, threeSources)
	src := threeMem()
	l := mustLoader(t, m, src, LoaderOptions{})
	tr := newTrace(t, 7, src)
	for i, b := range take(t, l, 40) {
		wantT, wantRows, stage := 64, 8, "s1"
		if i >= 20 {
			wantT, wantRows, stage = 128, 4, "s2"
		}
		if b.SeqLen != wantT || b.Rows != wantRows || b.Stage != stage || len(b.Inputs) != wantT*wantRows {
			t.Fatalf("step %d: T=%d rows=%d stage %s, want %d %d %s", i, b.SeqLen, b.Rows, b.Stage, wantT, wantRows, stage)
		}
		checkBatch(t, b, src)
		tr.add(b) // a document split at the switch continues in the new stage
	}
	if l.Stage().Name != "s2" || l.Stage().SeqLen != 128 {
		t.Fatalf("Stage() = %+v", l.Stage())
	}
}

func TestDataParallelDisjointShares(t *testing.T) {
	m := mustParse(t, threeSources)
	src := threeMem()
	all := take(t, mustLoader(t, m, src, LoaderOptions{}), 25)
	const world = 4
	ranks := make([][]*Batch, world)
	for r := range ranks {
		ranks[r] = take(t, mustLoader(t, m, src, LoaderOptions{Rank: r, World: world, MicroBatchRows: 1}), 25*2) // 8/4=2 rows per rank in s1
	}
	for s := 0; s < 20; s++ {
		T := all[s].SeqLen
		for r := 0; r < world; r++ {
			for mi := 0; mi < 2; mi++ {
				b := ranks[r][s*2+mi]
				row := r*2 + mi
				if !reflect.DeepEqual(b.Inputs, all[s].Inputs[row*T:(row+1)*T]) ||
					!reflect.DeepEqual(b.LossMask, all[s].LossMask[row*T:(row+1)*T]) {
					t.Fatalf("step %d rank %d micro %d differs from row %d of the single-rank batch", s, r, mi, row)
				}
			}
		}
	}
}

func TestEpochsAndLimits(t *testing.T) {
	y := `
name: ep
seed: 3
global_batch_tokens: 64
sources:
  small: {tokens: 1K}
  big:   {tokens: 1M}
stages:
  - name: s
    seq_len: 32
    weights: {small: 0.5, big: 0.5}
    max_epochs: {small: 2, big: 1}
`
	m := mustParse(t, y)
	// 16-token documents: small runs out after 2 x 160 tokens, big after
	// 640, exactly at the end of step 15 (64 tokens per step), so every
	// document is delivered before the loader reports exhaustion.
	src := map[string]DocSource{"small": newMem(5, 10, 16, 16, false), "big": newMem(6, 40, 16, 16, false)}
	l := mustLoader(t, m, src, LoaderOptions{Prefetch: -1})
	tr := newTrace(t, 3, src)
	seen := map[int64]map[int64]bool{}
	var err error
	for i := 0; i < 1000; i++ {
		var b *Batch
		if b, err = l.Next(t.Context()); err != nil {
			break
		}
		tr.add(b)
		for _, p := range b.Pieces {
			if b.Sources[p.Source] == "small" && p.Offset == 0 {
				if seen[p.Epoch] == nil {
					seen[p.Epoch] = map[int64]bool{}
				}
				seen[p.Epoch][p.Doc] = true
			}
		}
	}
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("err = %v, want ErrExhausted", err)
	}
	if tr.docs["small"] != 20 || tr.docs["big"] != 40 {
		t.Fatalf("docs read: small %d (want 2 epochs = 20), big %d (want 40)", tr.docs["small"], tr.docs["big"])
	}
	if len(seen[0]) != 10 || len(seen[1]) != 10 {
		t.Fatalf("each epoch must visit every document once: %v", seen)
	}
	st := l.Stats()
	for _, s := range st.Sources {
		if s.Name == "small" && (s.Epoch != 2 || !s.Exhausted) {
			t.Fatalf("small: %+v", s)
		}
	}
	// epochs use different orders
	p0, p1 := newPerm(10, epochKey(3, "small", 0)), newPerm(10, epochKey(3, "small", 1))
	same := true
	for i := uint64(0); i < 10; i++ {
		same = same && p0.at(i) == p1.at(i)
	}
	if same {
		t.Fatal("epoch 1 repeats epoch 0's order")
	}
}

func TestStateIsSmallAndRoundTrips(t *testing.T) {
	m := mustParse(t, threeSources)
	l := mustLoader(t, m, threeMem(), LoaderOptions{})
	take(t, l, 50)
	st := l.State()
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(js) > 4096 {
		t.Fatalf("state is %d bytes of JSON", len(js))
	}
	var back State
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, back) {
		t.Fatalf("round trip differs:\n%+v\n%+v", st, back)
	}
	if st.Step != 50 || st.Stage != 1 || st.StageName != "s2" {
		t.Fatalf("state step %d stage %d %s", st.Step, st.Stage, st.StageName)
	}
}

func TestPermIsPermutation(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 4, 5, 17, 1000, 4097, 65536} {
		p := newPerm(n, 12345)
		seen := make([]bool, n)
		fixed := 0
		for i := uint64(0); i < n; i++ {
			x := p.at(i)
			if x >= n || seen[x] {
				t.Fatalf("n=%d: at(%d)=%d repeats or out of range", n, i, x)
			}
			seen[x] = true
			if x == i {
				fixed++
			}
		}
		if n >= 1000 && fixed > int(n/50) {
			t.Fatalf("n=%d: %d fixed points: not shuffled", n, fixed)
		}
	}
}
