//go:build beam

package beam

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/klauspost/compress/zstd"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/internal/synth"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/pipeline/writers"
	"github.com/kilnlm/kiln/tokenize/shard"
)

func TestMain(m *testing.M) {
	beam.Init()
	os.Exit(m.Run())
}

// smallRecipes are the shipped web, code and math recipes' stage lists over
// small slices of the real corpora, with a tokenize output added so token
// counts can be compared.
func smallRecipes(t *testing.T) map[string]string {
	data := shareddata.Dir(t)
	tok := filepath.Join(data, "tokenizers", "smollm2", "tokenizer.json")
	out := "\noutputs:\n  docs: jsonl.zst\n  rejected: true\n  steps:\n    - tokenize: {tokenizer: \"" + tok + "\"}\nrun:\n  seed: 42\n"
	return map[string]string{
		"web": `name: web
inputs:
  - name: ccnet
    paths: ["` + data + `/corpus/web/cc_en_head-*.jsonl"]
    format: jsonl
    source: web
  - name: dclm
    paths: ["` + data + `/corpus/web/dclm_labeled.jsonl"]
    format: jsonl
    source: web
  - name: warc
    paths: ["` + data + `/corpus/web/warc/*.warc.gz"]
    format: warc
    source: web
stages:
  - url
  - language: {languages: [en], language_threshold: 0.65}
  - gopher_repetition
  - gopher_quality
  - c4_quality: {filter_no_terminal_punct: false}
  - fineweb_quality
  - pii
  - exact_dedup
  - minhash_dedup` + out,
		"code": `name: code
inputs:
  - name: goroot
    paths: ["` + filepath.Join(runtime.GOROOT(), "src", "strings") + `", "` + filepath.Join(runtime.GOROOT(), "src", "bytes") + `"]
    format: tree
    source: code
    max_file_bytes: 1048576
stages:
  - code
  - pii
  - exact_dedup
  - minhash_dedup` + out,
		"math": `name: math
inputs:
  - name: openlogic
    paths: ["` + data + `/corpus/math/openlogic-tex/content/propositional-logic"]
    format: tree
    source: math
stages:
  - math
  - decontaminate: {eval_file: "` + data + `/corpus/math/math_test.jsonl", fields: [problem, solution]}
  - exact_dedup
  - minhash_dedup` + out,
	}
}

func resolve(t *testing.T, dir, name, text string) *recipe.Resolved {
	t.Helper()
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := recipe.Load(path, recipe.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func localDeps() executor.Deps {
	return executor.Deps{
		NewReader: newReader,
		NewDocsOutput: func(format string) (pipeline.Output, error) {
			if format == recipe.FormatParquet {
				return writers.ParquetOutput(), nil
			}
			return writers.JSONLOutput(), nil
		},
		NewRejected: func(w io.Writer, sample float64) (executor.DocWriter, error) { return writers.NewRejected(w, sample) },
	}
}

// keptDocs reads every kept document under dir/docs: sorted ids and the
// sorted JSON lines.
func keptDocs(t *testing.T, dir string) (ids, lines []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "docs", "*.jsonl.zst"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zstd.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var d struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			ids = append(ids, d.ID)
			lines = append(lines, sc.Text())
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		zr.Close()
		fh.Close()
	}
	sort.Strings(ids)
	sort.Strings(lines)
	return ids, lines
}

func readStats(t *testing.T, dir string) *executor.Stats {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s executor.Stats
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// TestPrismMatchesLocal runs each recipe with the local executor and on
// prism and compares what must not depend on the engine: the set of kept
// ids (files and order inside the run may differ), drop and skip counts per
// reason, per-stage in/out, and token counts per source.
func TestPrismMatchesLocal(t *testing.T) {
	recipes := smallRecipes(t)
	for _, name := range []string{"web", "code", "math"} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			res := resolve(t, tmp, name, recipes[name])
			ls, lm := compareRuns(t, res, tmp)
			t.Logf("%s: %d records, %d kept, drops %v, %d tokens", name, ls.Records, ls.Kept, ls.DroppedBy, lm.NumTokens)
		})
	}
}

// compareRuns runs res locally and on prism under tmp and fails on any
// difference in kept documents (as a set: file layout and order may
// differ), counts per reason, per-stage in/out and tokens per source.
func compareRuns(t *testing.T, res *recipe.Resolved, tmp string) (*executor.Stats, *shard.Manifest) {
	t.Helper()
	ctx := context.Background()
	local := filepath.Join(tmp, "local")
	if _, err := executor.Run(ctx, executor.Config{Resolved: res, Dir: local, Deps: localDeps(), KilnVersion: "test"}); err != nil {
		t.Fatalf("local: %v", err)
	}
	bdir := filepath.Join(tmp, "beam")
	tr, err := Translate(res, Options{Out: bdir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prism.Execute(ctx, tr.Pipeline); err != nil {
		t.Fatalf("prism: %v", err)
	}
	lids, llines := keptDocs(t, local)
	bids, blines := keptDocs(t, bdir)
	if len(lids) == 0 {
		t.Fatal("local run kept nothing: the comparison would be empty")
	}
	if len(lids) != len(bids) {
		t.Fatalf("kept %d docs locally, %d on prism", len(lids), len(bids))
	}
	for i := range lids {
		if lids[i] != bids[i] {
			t.Fatalf("kept sets differ at %d: local %q, prism %q", i, lids[i], bids[i])
		}
	}
	for i := range llines {
		if llines[i] != blines[i] {
			t.Fatalf("kept documents differ:\nlocal %.300s\nprism %.300s", llines[i], blines[i])
		}
	}
	ls, bs := readStats(t, local), readStats(t, bdir)
	if ls.Records != bs.Records || ls.Kept != bs.Kept || ls.Dropped != bs.Dropped || ls.Skipped != bs.Skipped {
		t.Errorf("counts: local records/kept/dropped/skipped %d/%d/%d/%d, prism %d/%d/%d/%d",
			ls.Records, ls.Kept, ls.Dropped, ls.Skipped, bs.Records, bs.Kept, bs.Dropped, bs.Skipped)
	}
	if !sameMap(ls.DroppedBy, bs.DroppedBy) {
		t.Errorf("drops by reason: local %v, prism %v", ls.DroppedBy, bs.DroppedBy)
	}
	if !sameMap(ls.SkippedBy, bs.SkippedBy) {
		t.Errorf("skips by reason: local %v, prism %v", ls.SkippedBy, bs.SkippedBy)
	}
	for i := range ls.Stages {
		if ls.Stages[i].In != bs.Stages[i].In || ls.Stages[i].Out != bs.Stages[i].Out {
			t.Errorf("stage %s: local in/out %d/%d, prism %d/%d", ls.Stages[i].Name, ls.Stages[i].In, ls.Stages[i].Out, bs.Stages[i].In, bs.Stages[i].Out)
		}
	}
	if len(res.Outputs) == 0 {
		return ls, nil
	}
	lm, err := shard.ReadManifest(filepath.Join(local, "tokenize"))
	if err != nil {
		t.Fatal(err)
	}
	bm, err := shard.ReadManifest(filepath.Join(bdir, "tokenize"))
	if err != nil {
		t.Fatal(err)
	}
	if lm.NumTokens == 0 || lm.NumTokens != bm.NumTokens {
		t.Errorf("tokens: local %d, prism %d", lm.NumTokens, bm.NumTokens)
	}
	for src, c := range lm.Sources {
		if bm.Sources[src] != c {
			t.Errorf("source %s: local %+v, prism %+v", src, c, bm.Sources[src])
		}
	}
	return ls, lm
}

// TestPrismDedupMatchesLocal plants exact and near duplicates across
// several input files (so clusters span tasks) and checks that prism drops
// exactly the documents the local executor drops, with the same cluster
// metadata on the kept ones.
func TestPrismDedupMatchesLocal(t *testing.T) {
	tmp := t.TempDir()
	docs := synth.New(7).Web(synth.WebOptions{Docs: 400, NearDup: 0.25, Junk: 0.05})
	// Exact copies (new ids) of every 7th document, in a later file.
	for i := 0; i < 400; i += 7 {
		c := docs[i]
		c.ID = c.ID + "-copy"
		docs = append(docs, c)
	}
	for f := 0; f < 4; f++ {
		var b bytes.Buffer
		lo, hi := f*len(docs)/4, (f+1)*len(docs)/4
		if err := synth.WriteJSONL(&b, docs[lo:hi]); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("part-%d.jsonl", f)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := `name: dups
inputs:
  - name: synth
    paths: ["` + tmp + `/part-*.jsonl"]
    format: jsonl
    source: web
stages:
  - gopher_quality
  - exact_dedup
  - minhash_dedup
outputs:
  docs: jsonl.zst
run:
  seed: 42
`
	res := resolve(t, tmp, "dups", text)
	ls, _ := compareRuns(t, res, tmp)
	if ls.DroppedBy["exact_duplicate"] == 0 || ls.DroppedBy["minhash_duplicate"] == 0 {
		t.Fatalf("planted duplicates not found (drops %v): the test would not exercise dedup", ls.DroppedBy)
	}
	t.Logf("dups: %d records, %d kept, drops %v", ls.Records, ls.Kept, ls.DroppedBy)
}

func sameMap(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
