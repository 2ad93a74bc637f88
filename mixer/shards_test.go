package mixer

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kilnlm/kiln/tokenize/shard"
)

// writeShardSet writes m's documents as a shard set in dir.
func writeShardSet(t testing.TB, dir string, m *memSource) {
	t.Helper()
	w, err := shard.NewWriter(dir, shard.WriterOptions{VocabSize: 1 << 30, LossMask: m.masks != nil, Tokenizer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range m.docs {
		var mk []uint8
		if m.masks != nil {
			mk = m.masks[i]
		}
		if err := w.AddDoc(d, mk, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestShardSourcesMatchMemory runs the same mixture over memory-mapped
// shard sets (opened from paths relative to the mixture file) and over the
// same documents in memory: the batches must be identical, and resuming
// onto a shard set with other content must be refused.
func TestShardSourcesMatchMemory(t *testing.T) {
	dir := t.TempDir()
	mem := threeMem()
	for name, s := range mem {
		writeShardSet(t, filepath.Join(dir, "shards", name), s.(*memSource))
	}
	y := `
name: t
seed: 7
global_batch_tokens: 512
vars: {root: shards}
sources:
  web:  {path: "${root}/web"}
  code: {path: "${root}/code"}
  math: {path: "${root}/math"}
stages:
  - name: s1
    seq_len: 64
    weights: {web: 0.6, code: 0.3, math: 0.1}
  - name: s2
    start: {step: 20}
    seq_len: 128
    weights: {web: 0.2, code: 0.4, math: 0.4}
`
	path := filepath.Join(dir, "mix.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMixture(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "shards", "web"); m.Sources[0].Path != want {
		t.Fatalf("path %q, want %q (relative to the mixture file)", m.Sources[0].Path, want)
	}
	srcs, closeAll, err := OpenShards(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeAll() }) // after the loaders' cleanups: they read until closed
	fromShards := take(t, mustLoader(t, m, srcs, LoaderOptions{MicroBatchRows: 2}), 100)
	fromMem := take(t, mustLoader(t, m, mem, LoaderOptions{MicroBatchRows: 2}), 100)
	for i := range fromMem {
		if !reflect.DeepEqual(fromShards[i], fromMem[i]) {
			t.Fatalf("batch %d differs between shard sets and memory", i)
		}
		checkBatch(t, fromMem[i], mem)
	}

	plan, err := Inspect(m, PlanOptions{Tokens: 100_000, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Declared) != 0 || plan.Sources[0].Docs != 300 || plan.Sources[0].Tokens != src0Tokens(mem["web"]) {
		t.Fatalf("plan from shard sets: declared %v, web %+v", plan.Declared, plan.Sources[0])
	}
	for _, st := range plan.Stages {
		if st.MaxDeviation > 0.01 {
			t.Fatalf("stage %s deviates %.4f", st.Name, st.MaxDeviation)
		}
	}

	l := mustLoader(t, m, srcs, LoaderOptions{})
	take(t, l, 3)
	st := l.State()
	if st.Sources[0].Version == "" {
		t.Fatal("shard version not recorded in the state")
	}
	other := newMem(9, 300, 1, 200, false) // same document count, other data
	writeShardSet(t, filepath.Join(dir, "other"), other)
	o, err := shard.Open(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	srcs["web"] = ShardSource{o}
	if _, err := NewLoader(m, srcs, LoaderOptions{Resume: &st}); err == nil {
		t.Fatal("resumed onto a different shard set under the same name")
	}
}

func writeShardSetVocab(tb testing.TB, dir string, m *memSource, vocab int) {
	tb.Helper()
	w, err := shard.NewWriter(dir, shard.WriterOptions{VocabSize: vocab, Tokenizer: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range m.docs {
		if err := w.AddDoc(d, nil, "bench"); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

func openShardSet(tb testing.TB, dir string) *shard.Set {
	tb.Helper()
	s, err := shard.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestHeadKeepsMasks(t *testing.T) {
	src := newMem(2, 20, 5, 50, true)
	h := Head(src, 10)
	if h.NumDocs() != 10 {
		t.Fatalf("NumDocs %d", h.NumDocs())
	}
	if _, ok := h.(LossMasker); !ok {
		t.Fatal("Head hides LossMask")
	}
	if got := h.(TokenRanger).Tokens(3, 1, 4, nil); !reflect.DeepEqual(got, src.docs[3][1:4]) {
		t.Fatalf("Tokens %v", got)
	}
	m := mustParse(t, "name: h\nglobal_batch_tokens: 64\nsources:\n  code: {tokens: 1K}\nstages:\n  - seq_len: 16\n    weights: {code: 1}\n    max_epochs: {code: 1}\n")
	l := mustLoader(t, m, map[string]DocSource{"code": h}, LoaderOptions{Prefetch: -1})
	for {
		b, err := l.Next(t.Context())
		if err != nil {
			break
		}
		checkBatch(t, b, map[string]DocSource{"code": src})
		for _, p := range b.Pieces {
			if p.Doc >= 10 {
				t.Fatalf("document %d beyond the head read", p.Doc)
			}
		}
	}
}

func src0Tokens(s DocSource) int64 {
	var n int64
	for i := 0; i < s.NumDocs(); i++ {
		n += int64(s.DocLen(i))
	}
	return n
}
