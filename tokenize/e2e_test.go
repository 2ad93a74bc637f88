package tokenize

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/pipeline/writers"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// TestCurateWithTokenizeStep runs a curation recipe whose output steps
// include tokenize through the real executor, with 1 and 3 workers, and
// checks the shard set: every kept document, in order, the curated
// dataset's version id recorded, and byte-identical shards across worker
// counts.
func TestCurateWithTokenizeStep(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	os.Mkdir(data, 0o755)
	var texts []string
	for f := 0; f < 3; f++ {
		var b strings.Builder
		for i := 0; i < 40; i++ {
			txt := fmt.Sprintf("File %d document %d: the quick brown fox, 12.5%% of the time.", f, i)
			texts = append(texts, txt)
			fmt.Fprintf(&b, "{\"id\":\"f%d-%d\",\"text\":%q}\n", f, i, txt)
		}
		os.WriteFile(filepath.Join(data, fmt.Sprintf("part-%d.jsonl", f)), []byte(b.String()), 0o644)
	}
	rec := fmt.Sprintf(`
name: tok
inputs:
  - name: gen
    paths: [data/*.jsonl]
    format: jsonl
    source: web
outputs:
  docs: [jsonl.zst]
  steps:
    - tokenize: {tokenizer: %q, shard_bytes: 200}
`, testTokenizerPath(t, "gpt2"))
	path := filepath.Join(base, "r.yaml")
	os.WriteFile(path, []byte(rec), 0o644)
	r, err := recipe.Load(path, recipe.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	res, err := r.Resolve(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	deps := executor.Deps{
		NewReader: func(in recipe.Input) (pipeline.Reader, error) {
			return readers.New(readers.Options{Format: in.Format, Source: in.Source})
		},
		NewDocsOutput: func(string) (pipeline.Output, error) { return writers.JSONLOutput(), nil },
		NewRejected:   func(w io.Writer, sample float64) (executor.DocWriter, error) { return writers.NewRejected(w, sample) },
	}
	tk := loadShipped(t, "gpt2")
	var first *shard.Manifest
	for _, w := range []int{1, 3} {
		dir := filepath.Join(base, fmt.Sprintf("run%d", w))
		out, err := executor.Run(context.Background(), executor.Config{Resolved: res, Dir: dir, Workers: w, KilnVersion: "test", Deps: deps})
		if err != nil {
			t.Fatal(err)
		}
		sdir := filepath.Join(dir, "tokenize")
		if err := shard.Verify(sdir); err != nil {
			t.Fatal(err)
		}
		s, err := shard.Open(sdir)
		if err != nil {
			t.Fatal(err)
		}
		m := s.Manifest()
		if m.Dataset != out.Manifest.VersionID {
			t.Errorf("shard manifest dataset %q, curated version id %q", m.Dataset, out.Manifest.VersionID)
		}
		if s.NumDocs() != len(texts) || len(m.Shards) < 3 {
			t.Fatalf("%d docs in %d shards, want %d docs in several shards", s.NumDocs(), len(m.Shards), len(texts))
		}
		for i, txt := range texts {
			if got := s.Doc(i, nil); !slices.Equal(got, append(tk.Encode(txt, nil), 50256)) {
				t.Fatalf("doc %d differs", i)
			}
		}
		s.Close()
		if first == nil {
			first = m
		} else if first.VersionID != m.VersionID {
			t.Fatalf("shard set differs between 1 and %d workers", w)
		}
	}
}
