package shard

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen corrupts a valid shard set's index and manifest with fuzz input:
// Open must either fail or return a set whose every document reads back
// within bounds.
func FuzzOpen(f *testing.F) {
	base := f.TempDir()
	writeSetF(f, base)
	idx0, _ := os.ReadFile(filepath.Join(base, "shard-00000"+IndexSuffix))
	man0, _ := os.ReadFile(filepath.Join(base, ManifestFile))
	f.Add(idx0, man0)
	f.Add(idx0[:40], man0)
	f.Add(append([]byte{}, idx0...), []byte(`{"format":"kiln-shards","format_version":1,"token_bytes":2,"shards":[{"name":"shard-00000","docs":3,"tokens":6}]}`))
	f.Fuzz(func(t *testing.T, idx, man []byte) {
		dir := t.TempDir()
		data, _ := os.ReadFile(filepath.Join(base, "shard-00000"+DataSuffix))
		mask, _ := os.ReadFile(filepath.Join(base, "shard-00000"+MaskSuffix))
		os.WriteFile(filepath.Join(dir, "shard-00000"+DataSuffix), data, 0o644)
		os.WriteFile(filepath.Join(dir, "shard-00000"+MaskSuffix), mask, 0o644)
		os.WriteFile(filepath.Join(dir, "shard-00000"+IndexSuffix), idx, 0o644)
		os.WriteFile(filepath.Join(dir, ManifestFile), man, 0o644)
		s, err := Open(dir)
		if err != nil {
			return
		}
		defer s.Close()
		var buf []int32
		var mb []uint8
		for i := 0; i < s.NumDocs(); i++ {
			buf = s.Doc(i, buf[:0])
			if len(buf) != s.DocLen(i) {
				t.Fatalf("doc %d: %d tokens, DocLen %d", i, len(buf), s.DocLen(i))
			}
			mb = s.LossMask(i, mb[:0])
		}
	})
}

func writeSetF(f *testing.F, dir string) {
	w, err := NewWriter(dir, WriterOptions{VocabSize: 1000, LossMask: true})
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range [][]int32{{1, 2, 3}, {}, {4, 5, 999}} {
		if err := w.AddDoc(d, make([]uint8, len(d)), "web"); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
}

// FuzzIndex checks the index validator on arbitrary bytes: whatever it
// accepts must describe in-bounds, non-decreasing document ranges.
func FuzzIndex(f *testing.F) {
	base := f.TempDir()
	writeSetF(f, base)
	idx0, _ := os.ReadFile(filepath.Join(base, "shard-00000"+IndexSuffix))
	f.Add(idx0, int64(3), int64(6))
	f.Add(idx0[:32], int64(0), int64(0))
	f.Fuzz(func(t *testing.T, idx []byte, docs, tokens int64) {
		if docs < 0 || docs > 1<<20 || tokens < 0 {
			return
		}
		if checkIndex(idx, 2, docs, tokens) != nil {
			return
		}
		s := &Set{man: &Manifest{}, tb: 2, firstDoc: []int{0, int(docs)},
			shards: []openShard{{data: make([]byte, 2*tokens), offsets: idx[indexHeaderSize:]}}}
		for i := 0; i < int(docs); i++ {
			if n := len(s.Doc(i, nil)); n != s.DocLen(i) || n < 0 {
				t.Fatalf("doc %d: %d tokens vs DocLen %d", i, n, s.DocLen(i))
			}
		}
	})
}

// FuzzManifest checks that manifest validation never panics and that a
// manifest it accepts round-trips through WriteManifest unchanged.
func FuzzManifest(f *testing.F) {
	base := f.TempDir()
	writeSetF(f, base)
	man0, _ := os.ReadFile(filepath.Join(base, ManifestFile))
	f.Add(man0)
	f.Add([]byte(`{"format":"kiln-shards","format_version":1,"token_bytes":4,"vocab_size":70000}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(dir)
		if err != nil {
			return
		}
		id := m.VersionID
		if err := WriteManifest(dir, m); err != nil {
			t.Fatalf("accepted manifest does not write back: %v", err)
		}
		if m.VersionID != id {
			t.Fatalf("version id changed on rewrite: %s -> %s", id, m.VersionID)
		}
	})
}
