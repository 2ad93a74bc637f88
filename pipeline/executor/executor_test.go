package executor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/pipeline/writers"
)

// dropWord drops documents containing a word and appends a marker to the
// text of the others, so a test sees both verdicts and modifications.
type dropWord struct{ word string }

func (s dropWord) Name() string { return "drop_word" }

// dropListed drops documents containing the word read from a file; it
// declares the file as a dependency.
type dropListed struct{ word, file string }

func (s dropListed) Name() string { return "drop_listed" }
func (s dropListed) Apply(d *pipeline.Document) string {
	if strings.Contains(d.Text, s.word) {
		return "listed"
	}
	return ""
}
func (s dropListed) DependsOn() []string { return []string{s.file} }
func (s dropWord) Apply(d *pipeline.Document) string {
	if strings.Contains(d.Text, s.word) {
		return "has_" + s.word
	}
	d.Text += " |" + s.word
	d.SetMeta("len", len(d.Text))
	return ""
}

// exactDedup is a small global stage: Observe writes each task's text
// hashes, Build keeps the first occurrence in task order, Filter reads the
// verdicts. It is enough to exercise the executor's phases and resume.
type exactDedup struct{}

func (exactDedup) Name() string { return "test_dedup" }

type hashObserver struct {
	f *os.File
	w *bufio.Writer
}

func (o *hashObserver) Add(d *pipeline.Document) error {
	s := sha256.Sum256([]byte(d.Text))
	_, err := fmt.Fprintln(o.w, hex.EncodeToString(s[:8]))
	return err
}
func (o *hashObserver) Close() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	return o.f.Close()
}

func (exactDedup) Observe(dir string, task int) (pipeline.Observer, error) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("obs-%d", task)))
	if err != nil {
		return nil, err
	}
	return &hashObserver{f: f, w: bufio.NewWriter(f)}, nil
}

func (exactDedup) Build(ctx context.Context, dir string, tasks, workers int) error {
	seen := map[string]bool{}
	for t := 0; t < tasks; t++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("obs-%d", t)))
		if err != nil {
			return err
		}
		var out bytes.Buffer
		for _, h := range strings.Fields(string(b)) {
			if seen[h] {
				out.WriteString("d\n")
			} else {
				seen[h] = true
				out.WriteString("k\n")
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("verdict-%d", t)), out.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type verdictFilter struct {
	v []string
	i int
}

func (f *verdictFilter) Apply(d *pipeline.Document) string {
	v := f.v[f.i]
	f.i++
	if v == "d" {
		return "duplicate"
	}
	return ""
}
func (f *verdictFilter) Close() error {
	if f.i != len(f.v) {
		return fmt.Errorf("filter saw %d docs, observe saw %d", f.i, len(f.v))
	}
	return nil
}

func (exactDedup) Filter(dir string, task int) (pipeline.TaskFilter, error) {
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("verdict-%d", task)))
	if err != nil {
		return nil, err
	}
	return &verdictFilter{v: strings.Fields(string(b))}, nil
}

func testRegistry() *pipeline.Registry {
	reg := pipeline.NewRegistry()
	type wordCfg struct {
		Word string `param:"word"`
	}
	reg.Add(pipeline.StepDef{Name: "drop_word", Kind: pipeline.KindStage,
		Defaults: func() any { return &wordCfg{Word: "spam"} },
		New:      func(c any) (any, error) { return dropWord{c.(*wordCfg).Word}, nil }})
	type listCfg struct {
		File string `param:"file"`
	}
	reg.Add(pipeline.StepDef{Name: "drop_listed", Kind: pipeline.KindStage,
		Defaults: func() any { return &listCfg{} },
		New: func(c any) (any, error) {
			b, err := os.ReadFile(c.(*listCfg).File)
			if err != nil {
				return nil, err
			}
			return dropListed{word: strings.TrimSpace(string(b)), file: c.(*listCfg).File}, nil
		}})
	reg.Add(pipeline.StepDef{Name: "test_dedup", Kind: pipeline.KindGlobal,
		Defaults: func() any { return &struct{}{} },
		New:      func(any) (any, error) { return exactDedup{}, nil }})
	return reg
}

func testDeps() Deps {
	return Deps{
		NewReader: func(in recipe.Input) (pipeline.Reader, error) {
			return readers.New(readers.Options{Format: in.Format, Source: in.Source, TextField: in.TextField,
				IDField: in.IDField, MetaFields: in.MetaFields, Paragraphs: in.Paragraphs, MaxFileBytes: in.MaxFileBytes, TaskBytes: in.TaskBytes})
		},
		NewDocsOutput: func(format string) (pipeline.Output, error) {
			if format == recipe.FormatParquet {
				return writers.ParquetOutput(), nil
			}
			return writers.JSONLOutput(), nil
		},
		NewRejected: func(w io.Writer, sample float64) (DocWriter, error) { return writers.NewRejected(w, sample) },
	}
}

// genCorpus writes files of JSONL documents with duplicates across files,
// "spam" documents and a few bad lines (skips).
func genCorpus(t testing.TB, dir string, files, docs int) {
	t.Helper()
	for f := 0; f < files; f++ {
		var b strings.Builder
		for i := 0; i < docs; i++ {
			n := f*docs + i
			text := fmt.Sprintf("document %d about topic %d with some words", n, n%7)
			if n%5 == 0 {
				text = fmt.Sprintf("a shared duplicate text number %d", n%13)
			}
			if n%11 == 0 {
				text += " spam"
			}
			fmt.Fprintf(&b, `{"id":"f%d-%d","text":%q,"n":%d}`+"\n", f, i, text, n)
			if i%97 == 3 {
				b.WriteString("{not json\n")
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%03d.jsonl", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const testRecipe = `
name: test
inputs:
  - name: gen
    paths: [data/*.jsonl]
    format: jsonl
    source: web
stages:
  - drop_word: {word: spam}
  - test_dedup
  - drop_word: {word: topic 3}
outputs:
  docs: [jsonl.zst, parquet]
  rejected_sample: 1
run:
  seed: 7
`

func resolveTest(t testing.TB, dir, text string) *recipe.Resolved {
	t.Helper()
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := recipe.Load(path, recipe.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(testRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// treeDigest maps every file under the run's output folders to its
// sha256 (stats.json holds timings and is compared by counts instead).
func treeDigest(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"docs", "rejected"} {
		root := filepath.Join(dir, sub)
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = hex.EncodeToString(s[:])
			return nil
		})
	}
	return out
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	genCorpus(t, filepath.Join(base, "data"), 9, 400)
	res := resolveTest(t, base, testRecipe)
	var want map[string]string
	var wantID string
	for _, w := range []int{1, 2, 8} {
		dir := filepath.Join(base, fmt.Sprintf("run-w%d", w))
		// Small batches and queues so batches really interleave across the
		// pool and tasks.
		r, err := Run(context.Background(), Config{Resolved: res, Dir: dir, Workers: w, KilnVersion: "test",
			Deps: testDeps(), BatchDocs: 7, QueueBatches: 2})
		if err != nil {
			t.Fatalf("workers %d: %v", w, err)
		}
		st := r.Stats
		if st.Records != st.Kept+st.Dropped+st.Skipped {
			t.Fatalf("accounting: %+v", st)
		}
		if st.Skipped == 0 || st.DroppedBy["duplicate"] == 0 || st.DroppedBy["has_spam"] == 0 || st.DroppedBy["has_topic 3"] == 0 || st.Kept == 0 {
			t.Fatalf("expected every verdict kind, got kept %d dropped %v skipped %v", st.Kept, st.DroppedBy, st.SkippedBy)
		}
		if st.Records != 9*400+9*5 {
			t.Fatalf("records %d, want %d", st.Records, 9*400+9*5)
		}
		got := treeDigest(t, dir)
		if len(got) < 9*2 {
			t.Fatalf("only %d output files", len(got))
		}
		if want == nil {
			want, wantID = got, r.Manifest.VersionID
			continue
		}
		if r.Manifest.VersionID != wantID {
			t.Fatalf("version id differs with %d workers", w)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("workers %d: %s differs", w, k)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("workers %d: %d files, want %d", w, len(got), len(want))
		}
		if _, err := os.Stat(filepath.Join(dir, workDirName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("work folder left behind: %v", err)
		}
		m, err := manifest.Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify(dir); err != nil {
			t.Fatal(err)
		}
	}
}

// The kept documents must be exactly the expected ones, in input order.
func TestKeptDocumentsAndRejectedReasons(t *testing.T) {
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "data"), 0o755)
	genCorpus(t, filepath.Join(base, "data"), 2, 50)
	res := resolveTest(t, base, strings.Replace(testRecipe, "[jsonl.zst, parquet]", "jsonl.zst", 1))
	dir := filepath.Join(base, "run")
	if _, err := Run(context.Background(), Config{Resolved: res, Dir: dir, Workers: 3, KilnVersion: "test", Deps: testDeps(), BatchDocs: 4}); err != nil {
		t.Fatal(err)
	}
	// Expected: drop spam, then duplicates of earlier texts (after the
	// first stage's " |spam" suffix), then "topic 3".
	var want []string
	seen := map[string]bool{}
	for n := 0; n < 100; n++ {
		text := fmt.Sprintf("document %d about topic %d with some words", n, n%7)
		if n%5 == 0 {
			text = fmt.Sprintf("a shared duplicate text number %d", n%13)
		}
		if n%11 == 0 {
			continue
		}
		text += " |spam"
		if seen[text] {
			continue
		}
		seen[text] = true
		if strings.Contains(text, "topic 3") {
			continue
		}
		want = append(want, text+" |topic 3")
	}
	got := readJSONLZstTexts(t, filepath.Join(dir, "docs"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kept docs differ:\ngot  %d %q\nwant %d %q", len(got), head(got), len(want), head(want))
	}
	// Rejected: every dropped doc, with its reason.
	rej := readJSONLZstTexts(t, filepath.Join(dir, "rejected"))
	st, _ := readStats(filepath.Join(dir, "stats.json"))
	if int64(len(rej)) != st.Dropped {
		t.Fatalf("%d rejected lines, %d dropped", len(rej), st.Dropped)
	}
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func readJSONLZstTexts(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".jsonl.zst") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var out []string
	for _, f := range files {
		r, err := readers.New(readers.Options{Format: "jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		tasks, err := r.Plan([]string{f})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			c := &collect{}
			if err := r.Read(context.Background(), task, c); err != nil {
				t.Fatal(err)
			}
			if len(c.skips) > 0 {
				t.Fatalf("%s: skipped %v", f, c.skips)
			}
			out = append(out, c.texts...)
		}
	}
	return out
}

type collect struct {
	texts []string
	skips []pipeline.Skip
}

func (c *collect) Doc(d *pipeline.Document) error { c.texts = append(c.texts, d.Text); return nil }
func (c *collect) Skip(s pipeline.Skip)           { c.skips = append(c.skips, s) }

// cancelAfter cancels a context after n documents reached a stage.
type cancelAfter struct {
	n      atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Name() string { return "cancel_after" }
func (c *cancelAfter) Apply(d *pipeline.Document) string {
	if c.n.Add(1) == c.limit {
		c.cancel()
	}
	return ""
}

// A run cancelled part-way and resumed gives the same bytes as an
// uninterrupted one, and redoes only unfinished tasks.
func TestResumeAfterCancel(t *testing.T) {
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "data"), 0o755)
	genCorpus(t, filepath.Join(base, "data"), 12, 200)
	res := resolveTest(t, base, testRecipe)
	ref := filepath.Join(base, "ref")
	if _, err := Run(context.Background(), Config{Resolved: res, Dir: ref, Workers: 2, KilnVersion: "test", Deps: testDeps()}); err != nil {
		t.Fatal(err)
	}
	want := treeDigest(t, ref)
	for _, limit := range []int64{300, 1500, 2300} {
		dir := filepath.Join(base, "run"+strconv.FormatInt(limit, 10))
		ctx, cancel := context.WithCancel(context.Background())
		ca := &cancelAfter{limit: limit, cancel: cancel}
		// Wrap the first stage so the run cancels itself mid-phase.
		res2 := *res
		res2.Stages = append([]recipe.Built{{Step: recipe.Step{Name: "cancel_after"}, Def: pipeline.StepDef{Kind: pipeline.KindStage}, Value: ca}}, res.Stages...)
		_, err := Run(ctx, Config{Resolved: &res2, Dir: dir, Workers: 2, KilnVersion: "test", Deps: testDeps(), BatchDocs: 16})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("limit %d: want context.Canceled, got %v", limit, err)
		}
		// Resume without the cancelling stage: a different recipe would be
		// refused, so resume with the same one (the wrapper never drops).
		ca.limit = -1
		r, err := Run(context.Background(), Config{Resolved: &res2, Dir: dir, Workers: 2, KilnVersion: "test", Deps: testDeps()})
		if err != nil {
			t.Fatalf("limit %d: resume: %v", limit, err)
		}
		if limit == 2300 && r.Resumed == 0 {
			t.Fatalf("limit %d: nothing was resumed", limit)
		}
		got := treeDigest(t, dir)
		if len(got) != len(want) {
			t.Fatalf("limit %d: %d files, want %d", limit, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("limit %d: %s differs after resume", limit, k)
			}
		}
		// A second call is a no-op.
		r, err = Run(context.Background(), Config{Resolved: &res2, Dir: dir, Workers: 2, KilnVersion: "test", Deps: testDeps()})
		if err != nil || !r.UpToDate {
			t.Fatalf("limit %d: rerun: up to date %v, %v", limit, r != nil && r.UpToDate, err)
		}
	}
}

// A work folder of another recipe is refused instead of mixed in.
func TestRefusesOtherRunsWorkFolder(t *testing.T) {
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "data"), 0o755)
	genCorpus(t, filepath.Join(base, "data"), 2, 20)
	res := resolveTest(t, base, testRecipe)
	dir := filepath.Join(base, "run")
	os.MkdirAll(filepath.Join(dir, workDirName), 0o755)
	os.WriteFile(filepath.Join(dir, workDirName, "identity"), []byte("sha256:00\n"), 0o644)
	_, err := Run(context.Background(), Config{Resolved: res, Dir: dir, KilnVersion: "test", Deps: testDeps()})
	if err == nil || !strings.Contains(err.Error(), "unfinished run of another recipe") {
		t.Fatalf("got %v", err)
	}
	// A finished run with another recipe is refused too.
	ok := filepath.Join(base, "ok")
	if _, err := Run(context.Background(), Config{Resolved: res, Dir: ok, KilnVersion: "test", Deps: testDeps()}); err != nil {
		t.Fatal(err)
	}
	res2 := resolveTest(t, base, strings.Replace(testRecipe, "seed: 7", "seed: 8", 1))
	if _, err := Run(context.Background(), Config{Resolved: res2, Dir: ok, KilnVersion: "test", Deps: testDeps()}); err == nil {
		t.Fatal("a finished run of another recipe was overwritten")
	}
}

// A panicking stage becomes an error naming the stage and document.
type panicky struct{}

func (panicky) Name() string                      { return "panicky" }
func (panicky) Apply(d *pipeline.Document) string { panic("boom") }

func TestStagePanicIsAnError(t *testing.T) {
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "data"), 0o755)
	genCorpus(t, filepath.Join(base, "data"), 2, 20)
	res := resolveTest(t, base, testRecipe)
	res.Stages = append([]recipe.Built{{Step: recipe.Step{Name: "panicky"}, Value: panicky{}}}, res.Stages...)
	_, err := Run(context.Background(), Config{Resolved: res, Dir: filepath.Join(base, "run"), KilnVersion: "test", Deps: testDeps()})
	if err == nil || !strings.Contains(err.Error(), "panicky panicked on document") {
		t.Fatalf("got %v", err)
	}
}

// TestAccountingOnRealCorpora runs the real readers over the shared corpora
// through a dropping stage and a global stage and checks exact record
// counts and records = kept + dropped + skipped.
func TestAccountingOnRealCorpora(t *testing.T) {
	data := shareddata.Dir(t)
	goroot := filepath.Join(runtime.GOROOT(), "src")
	if testing.Short() {
		goroot = filepath.Join(runtime.GOROOT(), "src", "net")
	}
	gorootFiles := 0
	filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			gorootFiles++
		}
		return nil
	})
	cases := []struct {
		name, format, paths string
		records             int64 // -1: only the invariant is checked
	}{
		{"ccnet", "jsonl", data + "/corpus/web/cc_en_head-*.jsonl", 20},
		{"dclm", "jsonl", data + "/corpus/web/dclm_labeled.jsonl", 499},
		{"math", "jsonl", data + "/corpus/math/math_test.jsonl", 5000},
		{"warc", "warc", data + "/corpus/web/warc/*.warc.gz", 98},
		{"openlogic", "tree", data + "/corpus/math/openlogic-tex", 723},
		{"goroot", "tree", goroot, int64(gorootFiles)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			text := fmt.Sprintf(`inputs:
  - paths: [%q]
    format: %s
    source: test
    text_field: %s
stages:
  - drop_word: {word: "the"}
  - test_dedup
`, c.paths, c.format, map[bool]string{true: "problem", false: "text"}[c.name == "math"])
			res := resolveTest(t, base, text)
			r, err := Run(context.Background(), Config{Resolved: res, Dir: filepath.Join(base, "run"), Workers: 2, KilnVersion: "test", Deps: testDeps()})
			if err != nil {
				t.Fatal(err)
			}
			st := r.Stats
			if st.Records != st.Kept+st.Dropped+st.Skipped || st.Records != st.Docs+st.Skipped {
				t.Fatalf("accounting: records %d kept %d dropped %d skipped %d", st.Records, st.Kept, st.Dropped, st.Skipped)
			}
			if c.records >= 0 && st.Records != c.records {
				t.Fatalf("records %d, want %d (skipped %v)", st.Records, c.records, st.SkippedBy)
			}
			if st.Kept == 0 || st.Dropped == 0 {
				t.Fatalf("want both kept and dropped documents: %+v", st.DroppedBy)
			}
			if got := st.Stages[0].In; got != st.Docs {
				t.Fatalf("first stage saw %d of %d docs", got, st.Docs)
			}
			t.Logf("%s: %d records, %d kept, dropped %v, skipped %v", c.name, st.Records, st.Kept, st.DroppedBy, st.SkippedBy)
		})
	}
}

// Without a terminal, progress is plain log lines with rates; with one, a
// redrawn bar.
func TestProgressOutput(t *testing.T) {
	base := t.TempDir()
	os.Mkdir(filepath.Join(base, "data"), 0o755)
	genCorpus(t, filepath.Join(base, "data"), 4, 300)
	res := resolveTest(t, base, testRecipe)
	for _, term := range []bool{false, true} {
		var log syncBuffer
		_, err := Run(context.Background(), Config{Resolved: res, Dir: filepath.Join(base, fmt.Sprint(term)), Workers: 2, KilnVersion: "test",
			Deps: testDeps(), Log: &log, Terminal: term, ProgressEvery: time.Millisecond, BatchDocs: 3})
		if err != nil {
			t.Fatal(err)
		}
		out := log.String()
		for _, want := range []string{"phase 1/2", "phase 2/2", "docs/s", "MB/s", "ETA", "kiln: done: 1216 records"} {
			if !strings.Contains(out, want) {
				t.Errorf("terminal=%v: progress output lacks %q:\n%s", term, want, out)
			}
		}
		if term != strings.Contains(out, "\r\033[K[") {
			t.Errorf("terminal=%v: bar drawn = %v", term, !term)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStepFilesInIdentity: a file a step reads (a blocklist, an eval set) is
// an input of the dataset: it is listed in the manifest, and changing it
// changes the version id.
func TestStepFilesInIdentity(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	genCorpus(t, filepath.Join(base, "data"), 2, 20)
	list := filepath.Join(base, "words.txt")
	versions := map[string]bool{}
	for i, word := range []string{"topic 3", "topic 4"} {
		if err := os.WriteFile(list, []byte(word+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := resolveTest(t, base, fmt.Sprintf(`inputs:
  - paths: [data/*.jsonl]
    format: jsonl
    source: web
stages:
  - drop_listed: {file: %q}
`, list))
		r, err := Run(context.Background(), Config{Resolved: res, Dir: filepath.Join(base, fmt.Sprintf("run%d", i)), KilnVersion: "t", Deps: testDeps()})
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Read(filepath.Join(base, fmt.Sprintf("run%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, in := range m.Inputs {
			if in.Input == "step:drop_listed" && in.Path == list && in.SHA256 != "" {
				found = true
			}
		}
		if !found {
			t.Fatalf("manifest inputs %+v do not list the step's file", m.Inputs)
		}
		versions[r.Stats.VersionID] = true
	}
	if len(versions) != 2 {
		t.Fatalf("changing the step's file left the version id unchanged: %v", versions)
	}
}
