package writers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/klauspost/compress/zstd"
)

func sampleDocs(n int) []*pipeline.Document {
	docs := make([]*pipeline.Document, n)
	for i := range docs {
		d := &pipeline.Document{
			ID:     fmt.Sprintf("doc-%d", i),
			Text:   fmt.Sprintf("Document %d says <hello> & \"quotes\"\nand é ünïcode %s", i, strings.Repeat("word ", i%50)),
			Source: []string{"web", "code", "math"}[i%3],
			Prov:   pipeline.Provenance{File: "in/part.jsonl", Record: int64(i + 1), Offset: int64(i * 100)},
		}
		if i%4 != 0 {
			d.Meta = map[string]any{"url": fmt.Sprintf("https://example.com/%d", i), "score": float64(i) / 7, "tags": []any{"a", "b"}}
		}
		docs[i] = d
	}
	return docs
}

func readZstdLines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJSONLRoundTrip(t *testing.T) {
	docs := sampleDocs(300)
	write := func(compressed bool) []byte {
		var buf bytes.Buffer
		var w *JSONL
		if compressed {
			var err error
			if w, err = NewJSONLZstd(&buf); err != nil {
				t.Fatal(err)
			}
		} else {
			w = NewJSONL(&buf)
		}
		for _, d := range docs {
			if err := w.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	plain := write(false)
	z1, z2 := write(true), write(true)
	if !bytes.Equal(z1, z2) {
		t.Fatal("zstd output differs between identical runs")
	}
	lines := readZstdLines(t, z1)
	if want := bytes.Split(bytes.TrimSuffix(plain, []byte("\n")), []byte("\n")); !reflect.DeepEqual(lines, want) {
		t.Fatal("zstd content differs from plain JSONL")
	}
	if len(lines) != len(docs) {
		t.Fatalf("%d lines for %d docs", len(lines), len(docs))
	}
	for i, l := range lines {
		var d pipeline.Document
		if err := pipeline.UnmarshalDocument(l, &d); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&d, docs[i]) {
			t.Fatalf("doc %d: got %+v want %+v", i, d, docs[i])
		}
	}
	// The system zstd tool reads the same bytes (format compatibility).
	if zstdBin, err := exec.LookPath("zstd"); err == nil {
		p := filepath.Join(t.TempDir(), "x.jsonl.zst")
		os.WriteFile(p, z1, 0o644)
		out, err := exec.Command(zstdBin, "-dc", p).Output()
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("zstd -dc: %v (equal=%v)", err, bytes.Equal(out, plain))
		}
	}
}

func TestRejectedSample(t *testing.T) {
	docs := sampleDocs(2000)
	for _, d := range docs {
		d.SetMeta(DropReasonKey, "gopher_short_doc")
	}
	run := func(sample float64) ([]byte, *Rejected) {
		var buf bytes.Buffer
		r, err := NewRejected(&buf, sample)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if err := r.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), r
	}
	all, _ := run(1)
	lines := readZstdLines(t, all)
	if len(lines) != len(docs) {
		t.Fatalf("sample 1: %d of %d", len(lines), len(docs))
	}
	var first struct {
		ID       string         `json:"id"`
		Reason   string         `json:"reason"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(lines[1], &first); err != nil {
		t.Fatal(err)
	}
	if first.ID != "doc-1" || first.Reason != "gopher_short_doc" || first.Metadata[DropReasonKey] != nil || first.Metadata["url"] == nil {
		t.Errorf("rejected line: %s", lines[1])
	}
	var d pipeline.Document
	if err := pipeline.UnmarshalDocument(lines[1], &d); err != nil || d.Text != docs[1].Text {
		t.Errorf("rejected line is not a document: %v", err)
	}
	if docs[1].Meta[DropReasonKey] != "gopher_short_doc" {
		t.Error("writer mutated the document's metadata")
	}
	s1, r := run(0.3)
	s2, _ := run(0.3)
	if !bytes.Equal(s1, s2) {
		t.Fatal("sampled output not deterministic")
	}
	got := readZstdLines(t, s1)
	if n := len(got); n < 500 || n > 700 || int64(n) != r.Written() {
		t.Errorf("sample 0.3 kept %d of 2000", n)
	}
	none, _ := run(0)
	if len(readZstdLines(t, none)) != 0 {
		t.Error("sample 0 kept documents")
	}
	if _, err := NewRejected(&bytes.Buffer{}, 1.5); err == nil {
		t.Error("sample 1.5 accepted")
	}
}

func writeParquet(t testing.TB, path string, docs []*pipeline.Document, opts ParquetOptions) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewParquet(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

type collect struct {
	docs  []*pipeline.Document
	skips int
}

func (c *collect) Doc(d *pipeline.Document) error { c.docs = append(c.docs, d); return nil }
func (c *collect) Skip(pipeline.Skip)             { c.skips++ }

func TestParquetRoundTrip(t *testing.T) {
	docs := sampleDocs(1000)
	dir := t.TempDir()
	for _, comp := range []string{"zstd", "snappy", "none"} {
		p := filepath.Join(dir, comp+".parquet")
		// A small row group bound forces several row groups.
		writeParquet(t, p, docs, ParquetOptions{Compression: comp, RowGroupBytes: 20 << 10})
		p2 := filepath.Join(dir, comp+"2.parquet")
		writeParquet(t, p2, docs, ParquetOptions{Compression: comp, RowGroupBytes: 20 << 10})
		b1, _ := os.ReadFile(p)
		b2, _ := os.ReadFile(p2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("%s: parquet output not deterministic", comp)
		}
		r, err := readers.New(readers.Options{TaskBytes: 1})
		if err != nil {
			t.Fatal(err)
		}
		tasks, err := r.Plan([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) < 3 {
			t.Errorf("%s: %d row-group tasks, want several", comp, len(tasks))
		}
		c := &collect{}
		for _, task := range tasks {
			if err := r.Read(context.Background(), task, c); err != nil {
				t.Fatal(err)
			}
		}
		if len(c.docs) != len(docs) || c.skips != 0 {
			t.Fatalf("%s: read %d docs %d skips", comp, len(c.docs), c.skips)
		}
		for i, d := range c.docs {
			want := docs[i]
			meta, _ := pipeline.AppendMetaJSON(nil, want.Meta)
			if d.ID != want.ID || d.Text != want.Text || d.Meta["source"] != want.Source || d.Meta["metadata"] != string(meta) ||
				d.Meta["file"] != want.Prov.File || d.Meta["record"] != want.Prov.Record || d.Prov.Record != int64(i+1) {
				t.Fatalf("%s doc %d: got %+v want %+v", comp, i, d, want)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []pipeline.Output{JSONLOutput(), ParquetOutput()} {
		w, err := o.OpenTask(filepath.Join(dir, o.Name()), 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range sampleDocs(10) {
			if err := w.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := o.Finish(filepath.Join(dir, o.Name()), 8); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "jsonl", "part-00007.jsonl.zst"))
	if err != nil || len(readZstdLines(t, b)) != 10 {
		t.Fatalf("jsonl part: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "parquet", "part-00007.parquet")); err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	if _, _, err := reg.Build("parquet", pipeline.Params{"compression": "snappy", "row_group_mb": 4}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Build("parquet", pipeline.Params{"compression": "lzma"}); err == nil {
		t.Error("unknown compression accepted")
	}
}
