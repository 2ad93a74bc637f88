package readers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
)

// countJSONLines counts non-blank lines and those whose object has field,
// independently of the reader (plain scan + encoding/json).
func countJSONLines(t *testing.T, path, field string) (lines, withField int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		lines++
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if _, ok := m[field].(string); ok {
				withField++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, withField
}

func TestRealJSONL(t *testing.T) {
	cases := []struct {
		path      []string
		text, id  string
		wantDocs  int
		wantFirst string
	}{
		{[]string{"web", "cc_en_head-0091.jsonl"}, "text", "id", 10, "http://100kinvesting.com/2016/11/28/first-teleconference-calls-invoice-factoring/"},
		{[]string{"web", "cc_en_head-0174.jsonl"}, "text", "id", 10, "http://archives2.getty.edu:8082/xtf/view?docId=ead/2002.M.13/2002.M.13.xml"},
		{[]string{"web", "dclm_labeled.jsonl"}, "text", "id", 499, "derived"}, // no ids: derived from provenance
		{[]string{"code", "humaneval.jsonl.gz"}, "prompt", "task_id", 164, "HumanEval/0"},
	}
	for _, c := range cases {
		t.Run(c.path[len(c.path)-1], func(t *testing.T) {
			path := shareddata.Path(t, append([]string{"corpus"}, c.path...)...)
			lines, withText := countJSONLines(t, path, c.text)
			if withText != c.wantDocs {
				t.Fatalf("independent count %d, table says %d", withText, c.wantDocs)
			}
			got, err := readAll(t, Options{Source: "web", TextField: c.text, IDField: c.id}, true, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.docs) != withText {
				t.Errorf("docs = %d, want %d (skips %v)", len(got.docs), withText, got.skips)
			}
			if len(got.docs)+got.skipped() != lines {
				t.Errorf("in %d != docs %d + skipped %d", lines, len(got.docs), got.skipped())
			}
			d := got.docs[0]
			if c.wantFirst != "derived" && d.ID != c.wantFirst {
				t.Errorf("first id %q, want %q", d.ID, c.wantFirst)
			}
			if c.wantFirst == "derived" && d.ID != path+"#1" {
				t.Errorf("derived id %q, want %q", d.ID, path+"#1")
			}
			if d.Prov.Record != 1 || d.Prov.Offset != 0 || d.Prov.File != path || d.Source != "web" || d.Text == "" {
				t.Errorf("first doc provenance/fields wrong: %+v", d.Prov)
			}
			last := got.docs[len(got.docs)-1]
			if last.Prov.Record != int64(lines) {
				t.Errorf("last record %d, want %d", last.Prov.Record, lines)
			}
		})
	}
}

// countWARCRecords counts records by gzip member (Common Crawl and wget
// write one member per record) and by WARC-Type field, independently of
// the reader.
func countWARCRecords(t *testing.T, path string) (records int, byType map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	byType = map[string]int{}
	for {
		zr, err := gzip.NewReader(br)
		if err == io.EOF {
			return records, byType
		}
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		records++
		for _, l := range strings.Split(string(b[:bytes.Index(b, []byte("\r\n\r\n"))]), "\r\n") {
			if v, ok := strings.CutPrefix(l, "WARC-Type: "); ok {
				byType[v]++
			}
		}
	}
}

func TestRealWARC(t *testing.T) {
	for _, name := range []string{"warcfile.warc.gz", "dolma-sample-0000.warc.gz"} {
		t.Run(name, func(t *testing.T) {
			path := shareddata.Path(t, "corpus", "web", "warc", name)
			records, byType := countWARCRecords(t, path)
			got, err := readAll(t, Options{Source: "web"}, true, path)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(got.docs) + got.skipped(); n != records {
				t.Fatalf("in %d records != docs %d + skipped %d (%v)", records, len(got.docs), got.skipped(), got.skips)
			}
			// Every response is a document or a counted non-document.
			if n := len(got.docs) + got.skips["non_html"] + got.skips["empty_text"] + got.skips["invalid_http"]; n != byType["response"] {
				t.Errorf("responses %d, accounted %d (%v)", byType["response"], n, got.skips)
			}
			if got.skips["warc_request"] != byType["request"] || got.skips["warc_metadata"] != byType["metadata"] {
				t.Errorf("skips %v vs types %v", got.skips, byType)
			}
			if len(got.docs) < byType["response"]/2 {
				t.Errorf("only %d documents from %d responses (%v)", len(got.docs), byType["response"], got.skips)
			}
			for _, d := range got.docs {
				if d.MetaString("url") == "" || !strings.HasPrefix(d.MetaString("url"), "http") {
					t.Errorf("%s: url %q", d.ID, d.MetaString("url"))
				}
				if !strings.Contains(strings.ToLower(d.MetaString("html")), "<html") && !strings.Contains(strings.ToLower(d.MetaString("html")), "<body") {
					t.Errorf("%s: no html in metadata", d.ID)
				}
				for _, bad := range []string{"<script", "<div", "</p>", "<style"} {
					if strings.Contains(strings.ToLower(d.Text), bad) {
						t.Errorf("%s: extracted text contains %q", d.ID, bad)
					}
				}
				if !strings.HasPrefix(d.ID, "urn:uuid:") {
					t.Errorf("id %q", d.ID)
				}
			}
		})
	}
}

// countFiles counts regular files under root, and those inside a
// directory the tree reader treats as vendored.
func countFiles(t *testing.T, root string) (files, vendored int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
			rel, _ := filepath.Rel(root, p)
			for _, part := range strings.Split(filepath.Dir(filepath.ToSlash(rel)), "/") {
				if part == "vendor" || part == "node_modules" || part == ".git" {
					vendored++
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, vendored
}

func TestRealTreeOpenLogic(t *testing.T) {
	root := shareddata.Path(t, "corpus", "math", "openlogic-tex")
	files, _ := countFiles(t, root)
	got, err := readAll(t, Options{Source: "math", TreeTaskFiles: 100}, true, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.docs)+got.skipped() != files {
		t.Fatalf("in %d != docs %d + skipped %d (%v)", files, len(got.docs), got.skipped(), got.skips)
	}
	tex := 0
	for _, d := range got.docs {
		if d.MetaString("language") == "tex" {
			tex++
		}
		if d.MetaString("path") == "" || d.Source != "math" {
			t.Fatalf("doc %s lacks path/source", d.ID)
		}
	}
	if tex < 700 {
		t.Errorf("%d tex documents, want >= 700 (%d docs, skips %v)", tex, len(got.docs), got.skips)
	}
	t.Logf("openlogic-tex: %d files, %d docs, skips %v", files, len(got.docs), got.skips)
}

func TestRealTreeGOROOT(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skip("go env GOROOT:", err)
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "src")
	files, vendored := countFiles(t, root)
	got, err := readAll(t, Options{Source: "code"}, false, root)
	if err != nil {
		t.Fatal(err)
	}
	if got.n+got.skipped() != files {
		t.Fatalf("in %d != docs %d + skipped %d (%v)", files, got.n, got.skipped(), got.skips)
	}
	if got.skips["vendored"] != vendored {
		t.Errorf("vendored skips %d, independent count %d", got.skips["vendored"], vendored)
	}
	if got.n < 5000 || got.skips["generated"] < 50 || got.skips["binary_file"] == 0 {
		t.Errorf("docs %d, skips %v: want >5000 docs and some generated/binary skips", got.n, got.skips)
	}
	t.Logf("GOROOT/src: %d files, %d docs, skips %v", files, got.n, got.skips)
}
