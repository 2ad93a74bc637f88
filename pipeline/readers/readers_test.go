package readers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestJSONLRecords(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"a","text":"one","url":"u1"}`,
		``,
		`{"text":"two","n":3}`,
		`{"id":"c","text":5}`,
		`{"id":"d"}`,
		`{"text":"bad` + "\xff" + `"}`,
		`{"text":"x"`,
		`[1,2]`,
		`null`,
		`{"id":7,"text":"seven"}`,
		`{"id":{"x":1},"text":"obj id"}`,
		`{"text":"crlf"}` + "\r",
		`{"text":"last, no newline"}`,
	}, "\n")
	wantSkips := map[string]int{"empty_line": 1, "wrong_type": 4, "missing_text": 1, "invalid_utf8": 1, "invalid_json": 1}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
	}{{"plain.jsonl", []byte(in)}, {"g.jsonl.gz", gz(t, []byte(in))}, {"z.jsonl.zst", zst(t, []byte(in))}, {"noext.dat", zst(t, []byte(in))}} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, c.name, c.data)
			got, err := readAll(t, Options{}, true, p)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range got.docs {
				ids = append(ids, d.ID)
			}
			want := []string{"a", p + "#3", "7", p + "#12", p + "#13"}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("ids %v, want %v", ids, want)
			}
			if fmt.Sprint(got.skips) != fmt.Sprint(wantSkips) {
				t.Errorf("skips %v, want %v", got.skips, wantSkips)
			}
			if got.docs[0].MetaString("url") != "u1" || got.docs[1].Meta["n"] != 3.0 || got.docs[3].Text != "crlf" {
				t.Errorf("fields: %+v %+v %+v", got.docs[0], got.docs[1], got.docs[3])
			}
			if got.first["invalid_utf8"].Record != 6 {
				t.Errorf("invalid_utf8 at record %d, want 6", got.first["invalid_utf8"].Record)
			}
		})
	}
}

// TestJSONLByteOrderMark: a UTF-8 BOM before the first record is not part
// of it (plain and compressed); one anywhere else is invalid JSON.
func TestJSONLByteOrderMark(t *testing.T) {
	in := "\xef\xbb\xbf" + `{"id":"a","text":"first"}` + "\r\n" + `{"id":"b","text":"second"}` + "\n" + "\xef\xbb\xbf" + `{"id":"c","text":"third"}` + "\n"
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
	}{{"bom.jsonl", []byte(in)}, {"bom.jsonl.zst", zst(t, []byte(in))}} {
		got, err := readAll(t, Options{}, true, writeFile(t, dir, c.name, c.data))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.docs) != 2 || got.docs[0].ID != "a" || got.docs[0].Text != "first" || got.docs[1].ID != "b" {
			t.Fatalf("%s: docs %+v", c.name, got.docs)
		}
		if got.skips["invalid_json"] != 1 || got.first["invalid_json"].Record != 3 {
			t.Fatalf("%s: skips %v (first %+v)", c.name, got.skips, got.first["invalid_json"])
		}
	}
}

func TestJSONLMetaFields(t *testing.T) {
	p := writeFile(t, t.TempDir(), "m.jsonl", []byte(`{"body":"x","key":"k1","a":1,"b":2}`+"\n"))
	got, err := readAll(t, Options{TextField: "body", IDField: "key", MetaFields: []string{"b", "zz"}}, true, p)
	if err != nil {
		t.Fatal(err)
	}
	d := got.docs[0]
	if d.ID != "k1" || d.Text != "x" || len(d.Meta) != 1 || d.Meta["b"] != 2.0 {
		t.Fatalf("got %+v", d)
	}
}

func TestTruncatedCompression(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, `{"text":"document number %d with some padding text"}`+"\n", i)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
	}{{"t.jsonl.gz", gz(t, []byte(b.String()))}, {"t.jsonl.zst", zst(t, []byte(b.String()))}} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, c.name, c.data[:len(c.data)*2/3])
			got, err := readAll(t, Options{}, false, p)
			if err == nil {
				t.Fatalf("no error for truncated %s (%d docs)", c.name, got.n)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line") {
				t.Errorf("error does not name file and line: %v", err)
			}
			t.Log(err)
		})
	}
}

// TestHugeLine: a 100 MB single line is a counted "too_large" skip, the
// lines after it are still read, and memory stays bounded by
// MaxRecordBytes rather than the line length.
func TestHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MB")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "huge.jsonl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"text":"before"}` + "\n" + `{"text":"`)
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range 100 {
		f.Write(chunk)
	}
	f.WriteString(`"}` + "\n" + `{"text":"after"}` + "\n")
	f.Close()
	for _, max := range []int64{1 << 20, 0} { // 1 MiB, and the 64 MiB default
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err := readAll(t, Options{MaxRecordBytes: max}, true, p)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.docs) != 2 || got.docs[1].Text != "after" || got.docs[1].Prov.Record != 3 || got.skips["too_large"] != 1 {
			t.Fatalf("max %d: docs %d skips %v", max, len(got.docs), got.skips)
		}
		// With a 1 MiB bound the reader must not allocate anything close
		// to the line's 100 MB (with the default bound it may buffer up to
		// 64 MiB before deciding, which is the documented limit).
		if alloc := after.TotalAlloc - before.TotalAlloc; max > 0 && alloc > 16<<20 {
			t.Errorf("max %d: allocated %d MB reading a 100 MB line", max, alloc>>20)
		}
	}
}

// TestByteRangeTasks: splitting a file into byte ranges gives exactly the
// documents of a whole-file read, with the same line numbers and offsets.
func TestByteRangeTasks(t *testing.T) {
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, `{"text":"doc %d %s"}`+"\n", i, strings.Repeat("x", i%97))
		if i%60 == 0 {
			b.WriteString("\n")
		}
	}
	p := writeFile(t, t.TempDir(), "r.jsonl", []byte(b.String()))
	whole, err := readAll(t, Options{}, true, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{50, 300, 4096, 1 << 20} {
		r, _ := New(Options{TaskBytes: size})
		tasks, err := r.Plan([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		// A fresh reader without Plan's cache must agree too.
		fresh, _ := New(Options{TaskBytes: size})
		for _, rd := range []pipeline.Reader{r, fresh} {
			c := newCollector(true)
			for _, task := range tasks {
				if err := rd.Read(context.Background(), task, c); err != nil {
					t.Fatal(err)
				}
			}
			if len(c.docs) != len(whole.docs) || c.skipped() != whole.skipped() {
				t.Fatalf("size %d: %d docs %d skips, want %d %d", size, len(c.docs), c.skipped(), len(whole.docs), whole.skipped())
			}
			for i := range c.docs {
				if c.docs[i].ID != whole.docs[i].ID || c.docs[i].Prov != whole.docs[i].Prov || c.docs[i].Text != whole.docs[i].Text {
					t.Fatalf("size %d doc %d: %+v vs %+v", size, i, c.docs[i].Prov, whole.docs[i].Prov)
				}
			}
		}
		if size == 300 && len(tasks) < 50 {
			t.Errorf("only %d tasks", len(tasks))
		}
	}
}

func TestTextReader(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "a.txt", []byte("\xef\xbb\xbfFirst para\nline two\n\n\n  \nSecond para\n\nThird"))
	whole, err := readAll(t, Options{}, true, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.docs) != 1 || !strings.HasPrefix(whole.docs[0].Text, "First para") {
		t.Fatalf("whole: %+v", whole.docs)
	}
	paras, err := readAll(t, Options{Paragraphs: true}, true, p)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, d := range paras.docs {
		texts = append(texts, d.Text)
	}
	if fmt.Sprint(texts) != fmt.Sprint([]string{"\ufeffFirst para\nline two", "Second para", "Third"}) {
		t.Errorf("paragraphs %q", texts)
	}
	if paras.docs[1].Prov.Record != 2 || paras.docs[1].Prov.Offset != int64(strings.Index("\xef\xbb\xbfFirst para\nline two\n\n\n  \nSecond", "Second")) {
		t.Errorf("provenance %+v", paras.docs[1].Prov)
	}
	bad := writeFile(t, dir, "b.txt", []byte("ok\xfe"))
	got, err := readAll(t, Options{}, true, bad)
	if err != nil || got.skips["invalid_utf8"] != 1 {
		t.Errorf("invalid utf8 text: %v %v", err, got.skips)
	}
}

func TestTreeSkips(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "main.go", []byte("package main\n"))
	writeFile(t, dir, "gen.go", []byte("// Copyright\n\n// Code generated by stringer; DO NOT EDIT.\n\npackage main\n"))
	writeFile(t, dir, "x.pb.js", []byte("/* @generated */\nvar x;\n"))
	writeFile(t, dir, "vendor/v/v.go", []byte("package v\n"))
	writeFile(t, dir, "web/node_modules/m/index.js", []byte("x\n"))
	writeFile(t, dir, ".git/HEAD", []byte("ref\n"))
	writeFile(t, dir, "img.png", []byte("\x89PNG\r\n\x1a\n\x00\x00"))
	writeFile(t, dir, "big.py", bytes.Repeat([]byte("x = 1\n"), 100))
	writeFile(t, dir, "empty.c", nil)
	writeFile(t, dir, "lat1.txt", []byte("caf\xe9\n"))
	writeFile(t, dir, "Makefile", []byte("all:\n"))
	got, err := readAll(t, Options{MaxFileBytes: 500, TreeTaskFiles: 3}, true, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"generated": 2, "vendored": 3, "binary_file": 1, "too_large": 1, "empty_file": 1, "invalid_utf8": 1}
	if fmt.Sprint(got.skips) != fmt.Sprint(want) {
		t.Errorf("skips %v, want %v", got.skips, want)
	}
	var paths []string
	for _, d := range got.docs {
		paths = append(paths, d.MetaString("path")+":"+d.MetaString("language"))
	}
	if fmt.Sprint(paths) != "[Makefile:makefile main.go:go]" {
		t.Errorf("docs %v", paths)
	}
}

func TestHTMLText(t *testing.T) {
	cases := []struct{ in, text, title string }{
		{`<html><head><title> T  1 </title><style>p{}</style><script>var x="<p>";</script></head><body><p>Hello <b>world</b></p><p>Two&amp;three</p></body></html>`, "Hello world\nTwo&three", "T 1"},
		{`<nav><a>Home</a></nav><div>A<br>B</div><ul><li>x</li><li>y</li></ul>`, "A\nB\nx\ny", ""},
		{`<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a\tb\nc", ""},
		{`<pre>  x  y
  z</pre><p>  many    spaces
 here </p>`, "x  y\n  z\nmany spaces here", ""},
		{`<div hidden>secret</div><div aria-hidden="true">no</div><span>ok</span><noscript>js</noscript>`, "ok", ""},
		{`<p>unclosed <div>nested <svg><text>svg</text></svg> end`, "unclosed\nnested end", ""},
	}
	for i, c := range cases {
		text, title := HTMLText(strings.NewReader(c.in))
		if text != c.text || title != c.title {
			t.Errorf("%d: got %q / %q, want %q / %q", i, text, title, c.text, c.title)
		}
	}
}

func TestWARCMalformed(t *testing.T) {
	rec := func(typ, body string) string {
		return fmt.Sprintf("WARC/1.0\r\nWARC-Type: %s\r\nWARC-Target-URI: http://x/\r\nWARC-Record-ID: <urn:uuid:1>\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n", typ, len(body), body)
	}
	http := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>caf\xe9</p>"
	good := rec("warcinfo", "x: y\r\n") + rec("response", http) + rec("conversion", "plain text\nline") +
		rec("response", "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG") + rec("response", "garbage")
	dir := t.TempDir()
	p := writeFile(t, dir, "a.warc", []byte(good))
	got, err := readAll(t, Options{}, true, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.docs) != 2 || got.docs[0].Text != "café" || got.docs[1].Text != "plain text\nline" || got.docs[1].MetaString("url") != "http://x/" {
		t.Fatalf("docs %+v", got.docs)
	}
	if fmt.Sprint(got.skips) != "map[invalid_http:1 non_html:1 warc_warcinfo:1]" {
		t.Errorf("skips %v", got.skips)
	}
	// Truncated inside a record, and a gzip file cut short: errors naming the record.
	for name, data := range map[string][]byte{"cut.warc": []byte(good[:len(good)-40]), "cut.warc.gz": gz(t, []byte(good))[:100]} {
		p := writeFile(t, dir, name, data)
		_, err := readAll(t, Options{}, false, p)
		if err == nil || !strings.Contains(err.Error(), "record") || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: want error naming file and record, got %v", name, err)
		}
	}
	// A record over the size limit is skipped without being held.
	big := rec("conversion", strings.Repeat("y", 5000)) + rec("conversion", "small")
	p = writeFile(t, dir, "big.wet", []byte(big))
	got, err = readAll(t, Options{MaxRecordBytes: 1000}, true, p)
	if err != nil || len(got.docs) != 1 || got.skips["too_large"] != 1 {
		t.Errorf("big record: %v %d %v", err, len(got.docs), got.skips)
	}
}

func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"a.jsonl": []byte("{}\n"), "b.bin": gz(t, []byte(`{"text":"x"}`)), "c.bin": zst(t, []byte("WARC/1.0\r\n")),
		"d.warc.gz": nil, "e.bin": []byte("PAR1...."), "f.bin": []byte("hello"), "g.parquet": nil,
	}
	want := map[string]string{"a.jsonl": "jsonl", "b.bin": "jsonl", "c.bin": "warc", "d.warc.gz": "warc", "e.bin": "parquet", "f.bin": "text", "g.parquet": "parquet"}
	for name, data := range cases {
		p := writeFile(t, dir, name, data)
		if f, err := DetectFormat(p); err != nil || f != want[name] {
			t.Errorf("%s: %q %v, want %q", name, f, err, want[name])
		}
	}
	if f, _ := DetectFormat(dir); f != "tree" {
		t.Errorf("dir: %q", f)
	}
	if _, err := New(Options{Format: "csv"}); err == nil {
		t.Error("unknown format accepted")
	}
}
