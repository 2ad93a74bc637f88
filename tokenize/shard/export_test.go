package shard

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The readers below are written from the format descriptions in
// ANCHORS.md / docs/shard-format.md, independently of export.go.

func readDatatrove(t *testing.T, dir string, width int) (docs [][]int32, loss [][]uint8) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ds"))
	slices.Sort(files)
	for _, f := range files {
		tok, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		idx, _ := os.ReadFile(f + ".index")
		ls, lerr := os.ReadFile(f + ".loss")
		meta, _ := os.ReadFile(f + ".metadata")
		lines := strings.Split(string(meta), "\n")
		_, ts, _ := strings.Cut(lines[0], "|")
		if ts != strconv.Itoa(width) {
			t.Fatalf("%s metadata token size %q want %d", f, ts, width)
		}
		if n, _ := strconv.Atoi(lines[1]); n*width != len(tok) {
			t.Fatalf("%s metadata count %s, file has %d bytes", f, lines[1], len(tok))
		}
		prev := 0
		for p := 0; p < len(idx); p += 8 {
			end := int(binary.LittleEndian.Uint64(idx[p:]))
			var d []int32
			for j := prev; j < end; j++ {
				if width == 2 {
					d = append(d, int32(binary.LittleEndian.Uint16(tok[2*j:])))
				} else {
					d = append(d, int32(binary.LittleEndian.Uint32(tok[4*j:])))
				}
			}
			docs = append(docs, d)
			if lerr == nil {
				loss = append(loss, ls[prev:end])
			}
			prev = end
		}
		if prev*width != len(tok) {
			t.Fatalf("%s: index ends at %d tokens, file has %d bytes", f, prev, len(tok))
		}
	}
	return docs, loss
}

func readMegatron(t *testing.T, dir string) [][]int32 {
	t.Helper()
	idx, err := os.ReadFile(filepath.Join(dir, "tokens.idx"))
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := os.ReadFile(filepath.Join(dir, "tokens.bin"))
	if string(idx[:9]) != "MMIDIDX\x00\x00" || binary.LittleEndian.Uint64(idx[9:]) != 1 {
		t.Fatalf("bad megatron header %q", idx[:17])
	}
	code := idx[17]
	width := map[byte]int{8: 2, 4: 4}[code]
	nseq := int(binary.LittleEndian.Uint64(idx[18:]))
	ndoc := int(binary.LittleEndian.Uint64(idx[26:]))
	if ndoc != nseq+1 {
		t.Fatalf("document count %d for %d sequences", ndoc, nseq)
	}
	p := 34
	lens := make([]int, nseq)
	for i := range lens {
		lens[i] = int(int32(binary.LittleEndian.Uint32(idx[p:])))
		p += 4
	}
	ptrs := make([]int, nseq)
	for i := range ptrs {
		ptrs[i] = int(binary.LittleEndian.Uint64(idx[p:]))
		p += 8
	}
	for i := 0; i < ndoc; i++ {
		if int(binary.LittleEndian.Uint64(idx[p:])) != i {
			t.Fatalf("doc_idx[%d] wrong", i)
		}
		p += 8
	}
	if p != len(idx) {
		t.Fatalf("idx has %d trailing bytes", len(idx)-p)
	}
	var docs [][]int32
	for i := range lens {
		var d []int32
		for j := 0; j < lens[i]; j++ {
			o := ptrs[i] + j*width
			if width == 2 {
				d = append(d, int32(binary.LittleEndian.Uint16(bin[o:])))
			} else {
				d = append(d, int32(binary.LittleEndian.Uint32(bin[o:])))
			}
		}
		docs = append(docs, d)
	}
	return docs
}

func readLLMC(t *testing.T, dir string) []int32 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	slices.Sort(files)
	var all []int32
	for _, f := range files {
		b, _ := os.ReadFile(f)
		hdr := make([]int32, 256)
		binary.Read(bytes.NewReader(b[:1024]), binary.LittleEndian, hdr)
		if hdr[0] != 20240520 || hdr[1] != 1 {
			t.Fatalf("%s: bad llm.c header %v", f, hdr[:3])
		}
		n := int(hdr[2])
		if len(b) != 1024+2*n {
			t.Fatalf("%s: %d bytes for %d tokens", f, len(b), n)
		}
		for j := 0; j < n; j++ {
			all = append(all, int32(binary.LittleEndian.Uint16(b[1024+2*j:])))
		}
	}
	return all
}

func TestExportRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		vocab int
		mask  bool
	}{
		{"uint16-mask", 50257, true},
		{"uint32", 151669, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			docs := makeDocs(200, c.vocab, c.mask, 11)
			writeSet(t, dir, docs, WriterOptions{VocabSize: c.vocab, LossMask: c.mask, ShardBytes: 5000, Tokenizer: "test/tokenizer.json"})
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			width := s.Manifest().TokenBytes

			ds := filepath.Join(t.TempDir(), "ds")
			if _, err := Export(s, FormatDatatrove, ds); err != nil {
				t.Fatal(err)
			}
			got, loss := readDatatrove(t, ds, width)
			if len(got) != len(docs) {
				t.Fatalf("ds: %d docs want %d", len(got), len(docs))
			}
			for i := range docs {
				if !slices.Equal(got[i], docs[i].toks) && !(len(got[i]) == 0 && len(docs[i].toks) == 0) {
					t.Fatalf("ds doc %d differs", i)
				}
				if c.mask && !bytes.Equal(loss[i], docs[i].mask) {
					t.Fatalf("ds loss %d differs", i)
				}
			}

			mg := filepath.Join(t.TempDir(), "mg")
			if _, err := Export(s, FormatMegatron, mg); err != nil {
				t.Fatal(err)
			}
			mdocs := readMegatron(t, mg)
			if len(mdocs) != len(docs) {
				t.Fatalf("megatron: %d docs want %d", len(mdocs), len(docs))
			}
			for i := range docs {
				if len(mdocs[i]) != len(docs[i].toks) || (len(docs[i].toks) > 0 && !slices.Equal(mdocs[i], docs[i].toks)) {
					t.Fatalf("megatron doc %d differs", i)
				}
			}

			lc := filepath.Join(t.TempDir(), "llmc")
			_, err = Export(s, FormatLLMC, lc)
			if width == 4 {
				if err == nil {
					t.Fatal("llm.c export accepted 32-bit tokens")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []int32
			for _, d := range docs {
				want = append(want, d.toks...)
			}
			if got := readLLMC(t, lc); !slices.Equal(got, want) {
				t.Fatalf("llm.c tokens differ (%d vs %d)", len(got), len(want))
			}
		})
	}
}
