//go:build beam

package beam

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/kilnlm/kiln/internal/synth"
	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/recipe"
)

// benchRecipe writes a synthetic web corpus (planted junk, boilerplate,
// near-duplicates, foreign pages) in 8 files and a recipe running the web
// recipe's filters plus exact and MinHash dedup over it.
func benchRecipe(b *testing.B, docs int) (*recipe.Resolved, int64) {
	dir := b.TempDir()
	ds := synth.New(11).Web(synth.DefaultWeb(docs))
	var size int64
	for f := 0; f < 8; f++ {
		var buf bytes.Buffer
		if err := synth.WriteJSONL(&buf, ds[f*len(ds)/8:(f+1)*len(ds)/8]); err != nil {
			b.Fatal(err)
		}
		size += int64(buf.Len())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("web-%d.jsonl", f)), buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	text := `name: bench
inputs:
  - name: synth
    paths: ["` + dir + `/web-*.jsonl"]
    format: jsonl
    source: web
stages:
  - url
  - gopher_repetition
  - gopher_quality
  - c4_quality: {filter_no_terminal_punct: false}
  - fineweb_quality
  - pii
  - exact_dedup
  - minhash_dedup
outputs:
  docs: jsonl.zst
  rejected: true
run:
  seed: 42
`
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	r, err := recipe.Load(path, recipe.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	res, err := r.Resolve(NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return res, size
}

// BenchmarkPrismVsLocal runs the same recipe and input with the local
// executor and on the embedded prism runner (docs/perf/beam.md). Run with
// -benchtime 1x; KILN_BENCH_DOCS changes the corpus size (default 20000).
func BenchmarkPrismVsLocal(b *testing.B) {
	docs := 20000
	if v := os.Getenv("KILN_BENCH_DOCS"); v != "" {
		fmt.Sscan(v, &docs)
	}
	res, size := benchRecipe(b, docs)
	ctx := context.Background()
	b.Run("local", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			dir := filepath.Join(b.TempDir(), "run")
			if _, err := executor.Run(ctx, executor.Config{Resolved: res, Dir: dir, Deps: localDeps(), KilnVersion: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(docs)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("prism", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			dir := filepath.Join(b.TempDir(), "run")
			tr, err := Translate(res, Options{Out: dir})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := prism.Execute(ctx, tr.Pipeline); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(docs)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

// anchorDoc is a 2 KB document keyed into 1000 groups.
type anchorDoc struct {
	Key  int64
	Text string
}

func anchorKey(d anchorDoc) (int64, anchorDoc) { return d.Key, d }

func anchorCount(_ int64, iter func(*anchorDoc) bool) int {
	n := 0
	var d anchorDoc
	for iter(&d) {
		n++
	}
	return n
}

func init() {
	beam.RegisterFunction(anchorKey)
	beam.RegisterFunction(anchorCount)
}

// BenchmarkAnchorGroupByKey reproduces the anchor: 100k documents of
// 2 KB through one GroupByKey on prism, against a plain Go loop doing the
// same grouping.
func BenchmarkAnchorGroupByKey(b *testing.B) {
	const n = 100000
	text := strings.Repeat("abcdefgh", 256)
	docs := make([]anchorDoc, n)
	for i := range docs {
		docs[i] = anchorDoc{Key: int64(i % 1000), Text: text}
	}
	b.Run("prism", func(b *testing.B) {
		b.SetBytes(n * 2048)
		for i := 0; i < b.N; i++ {
			p, s := beam.NewPipelineWithRoot()
			col := beam.CreateList(s, docs)
			beam.ParDo(s, anchorCount, beam.GroupByKey(s, beam.ParDo(s, anchorKey, col)))
			if _, err := prism.Execute(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("loop", func(b *testing.B) {
		b.SetBytes(n * 2048)
		for i := 0; i < b.N; i++ {
			groups := map[int64][]anchorDoc{}
			for _, d := range docs {
				k, v := anchorKey(d)
				groups[k] = append(groups[k], v)
			}
			if len(groups) != 1000 {
				b.Fatal(len(groups))
			}
		}
	})
}
