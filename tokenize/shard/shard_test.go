package shard

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type testDoc struct {
	toks   []int32
	mask   []uint8
	source string
}

func makeDocs(n, vocab int, withMask bool, seed uint64) []testDoc {
	r := rand.New(rand.NewPCG(seed, 1))
	docs := make([]testDoc, n)
	srcs := []string{"web", "code", "math"}
	for i := range docs {
		l := r.IntN(300)
		if i%17 == 0 {
			l = 0 // empty documents must survive too
		}
		d := testDoc{toks: make([]int32, l), source: srcs[i%3]}
		for j := range d.toks {
			d.toks[j] = int32(r.IntN(vocab))
		}
		if withMask {
			d.mask = make([]uint8, l)
			for j := range d.mask {
				d.mask[j] = uint8(r.IntN(2))
			}
		}
		docs[i] = d
	}
	return docs
}

func writeSet(t *testing.T, dir string, docs []testDoc, opts WriterOptions) *Manifest {
	t.Helper()
	w, err := NewWriter(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if err := w.AddDoc(d.toks, d.mask, d.source); err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Manifest()
}

func TestWriteOpenRoundTrip(t *testing.T) {
	cases := []struct {
		name       string
		vocab      int
		mask       bool
		shardBytes int64
		wantTB     int
	}{
		{"uint16-one-shard", 49152, false, 0, 2},
		{"uint16-max-vocab", 65536, false, 0, 2},
		{"uint32-many-shards-mask", 151669, true, 4000, 4},
		{"uint16-many-shards", 50257, false, 1000, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			docs := makeDocs(400, c.vocab, c.mask, 7)
			m := writeSet(t, dir, docs, WriterOptions{VocabSize: c.vocab, LossMask: c.mask, ShardBytes: c.shardBytes,
				TokenizerHash: "sha256:abc", Dataset: "curated-123", AddEOS: true, EOSID: 0, BOSID: -1})
			if m.TokenBytes != c.wantTB {
				t.Fatalf("token bytes %d, want %d", m.TokenBytes, c.wantTB)
			}
			if c.shardBytes > 0 && len(m.Shards) < 2 {
				t.Fatalf("expected several shards, got %d", len(m.Shards))
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.NumDocs() != len(docs) {
				t.Fatalf("NumDocs %d, want %d", s.NumDocs(), len(docs))
			}
			var total int64
			var buf []int32
			var mb []uint8
			for i, d := range docs {
				total += int64(len(d.toks))
				if s.DocLen(i) != len(d.toks) {
					t.Fatalf("doc %d len %d want %d", i, s.DocLen(i), len(d.toks))
				}
				buf = s.Doc(i, buf[:0])
				if !slices.Equal(buf, d.toks) {
					t.Fatalf("doc %d tokens differ", i)
				}
				mb = s.LossMask(i, mb[:0])
				if c.mask && !slices.Equal(mb, d.mask) {
					t.Fatalf("doc %d mask differs", i)
				}
				if !c.mask && mb != nil {
					t.Fatalf("mask returned for a set without one")
				}
			}
			got := s.Manifest()
			if got.NumTokens != total || got.NumDocs != int64(len(docs)) || got.Dataset != "curated-123" {
				t.Fatalf("manifest counts %+v", got)
			}
			if got.Sources["web"].Docs != 134 || got.Sources["code"].Docs != 133 {
				t.Fatalf("per-source counts %+v", got.Sources)
			}
			if err := Verify(dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDocAppends(t *testing.T) {
	dir := t.TempDir()
	writeSet(t, dir, []testDoc{{toks: []int32{1, 2}, source: "a"}, {toks: []int32{3}, source: "a"}}, WriterOptions{VocabSize: 10})
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.Doc(1, s.Doc(0, []int32{9}))
	if !slices.Equal(got, []int32{9, 1, 2, 3}) {
		t.Fatalf("got %v", got)
	}
	if got := s.Tokens(0, 1, 2, nil); !slices.Equal(got, []int32{2}) {
		t.Fatalf("Tokens got %v", got)
	}
}

func TestWriterRejects(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, WriterOptions{VocabSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddDoc([]int32{100}, nil, "x"); err == nil || !strings.Contains(err.Error(), "out of vocab") {
		t.Fatalf("want out of vocab error, got %v", err)
	}
	if err := w.AddDoc([]int32{1}, []uint8{1}, "x"); err == nil {
		t.Fatal("mask without LossMask accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyCatchesFlippedByte flips one byte in each kind of file and
// expects Open or Verify to fail, naming the shard.
func TestVerifyCatchesFlippedByte(t *testing.T) {
	for _, suffix := range []string{DataSuffix, IndexSuffix, MaskSuffix} {
		for _, pos := range []string{"first", "middle", "last"} {
			t.Run(suffix+"-"+pos, func(t *testing.T) {
				dir := t.TempDir()
				writeSet(t, dir, makeDocs(50, 1000, true, 3), WriterOptions{VocabSize: 1000, LossMask: true})
				p := filepath.Join(dir, "shard-00000"+suffix)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				i := map[string]int{"first": 0, "middle": len(b) / 2, "last": len(b) - 1}[pos]
				b[i] ^= 0x01
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				err = Verify(dir)
				if err == nil {
					t.Fatal("Verify accepted a flipped byte")
				}
				if !strings.Contains(err.Error(), "shard-00000") {
					t.Fatalf("error does not name the shard: %v", err)
				}
			})
		}
	}
}

func TestOpenRejectsBadManifest(t *testing.T) {
	dir := t.TempDir()
	writeSet(t, dir, makeDocs(20, 1000, false, 5), WriterOptions{VocabSize: 1000})
	p := filepath.Join(dir, ManifestFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), `"num_docs": 20`, `"num_docs": 21`, 1)), 0o644)
	if _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a manifest with wrong totals")
	}
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	var parts []*Manifest
	var prefixes []string
	var all []testDoc
	for k := 0; k < 3; k++ {
		sub := filepath.Join(dir, "task-"+string(rune('a'+k)))
		docs := makeDocs(30, 500, false, uint64(k))
		all = append(all, docs...)
		opts := WriterOptions{VocabSize: 500, NoManifest: true, ShardBytes: 2000, Dataset: "d"}
		w, _ := NewWriter(sub, opts)
		for _, d := range docs {
			if err := w.AddDoc(d.toks, nil, d.source); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, w.Manifest())
		prefixes = append(prefixes, "task-"+string(rune('a'+k)))
	}
	m, err := Merge(parts, prefixes)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.NumDocs() != len(all) {
		t.Fatalf("docs %d want %d", s.NumDocs(), len(all))
	}
	for i, d := range all {
		if !slices.Equal(s.Doc(i, nil), d.toks) {
			t.Fatalf("merged doc %d differs", i)
		}
	}
	if err := Verify(dir); err != nil {
		t.Fatal(err)
	}
}
