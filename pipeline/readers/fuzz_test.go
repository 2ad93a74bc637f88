package readers

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzJSONL: any bytes (plain, or behind a gzip/zstd header) give
// documents and counted skips covering every line, or an error; never a
// panic or a lost line.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"id":"a","text":"x"}` + "\n" + `{"text":1}` + "\n\n" + `[`))
	f.Add([]byte("{\"text\":\"\xff\"}\r\n{\"text\":\"ok\",\"m\":{\"a\":[1,null]}}"))
	f.Add(gz(f, []byte(`{"text":"g"}`+"\n")))
	f.Add(zst(f, []byte(`{"text":"z"}`+"\n")))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, opt := range []Options{{MaxRecordBytes: 64}, {TaskBytes: 7}} {
			got, err := readAll(t, opt, false, p)
			if err != nil {
				continue // compressed garbage: a reported error is fine
			}
			if len(b) > 0 && (b[0] == 0x1f || b[0] == 0x28) {
				continue // may be a valid compressed stream; lines differ
			}
			lines := bytes.Count(b, []byte("\n"))
			if len(b) > 0 && b[len(b)-1] != '\n' {
				lines++
			}
			if got.n+got.skipped() != lines {
				t.Fatalf("opt %+v: %d lines, %d docs + %d skips", opt, lines, got.n, got.skipped())
			}
		}
	})
}

// FuzzWARC: any bytes give documents, counted skips or an error.
func FuzzWARC(f *testing.F) {
	rec := "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://x/\r\nContent-Length: 60\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p><b>x</b>\r\n\r\n"
	f.Add([]byte(rec))
	f.Add([]byte("WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: 5\r\n\r\nhello\r\n\r\nWARC/1.0\r\nContent-Length: 99999999999\r\n\r\n"))
	f.Add(gz(f, []byte(rec)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.warc")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, _ := New(Options{Format: "warc", MaxRecordBytes: 1 << 16})
		c := newCollector(true)
		if err := r.Read(context.Background(), pipelineTask(p), c); err != nil {
			return
		}
		for _, d := range c.docs {
			if d.Text == "" {
				t.Fatalf("empty document %+v", d)
			}
		}
	})
}

// FuzzHTMLText: the extractor terminates and returns no markup from
// skipped elements.
func FuzzHTMLText(f *testing.F) {
	f.Add("<p>a<script>b</script>c</p>")
	f.Add("<pre>x\n y</pre><table><td>1<td>2</table>")
	f.Fuzz(func(t *testing.T, s string) {
		HTMLText(bytes.NewReader([]byte(s)))
	})
}
