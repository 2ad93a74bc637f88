package tokenize

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/tokenize/shard"
)

func TestRegisterAndOutputMerge(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	tokPath := testTokenizerPath(t, "smollm2")
	step, def, err := r.Build("tokenize", pipeline.Params{"tokenizer": tokPath, "shard_bytes": "8"})
	if err != nil {
		t.Fatal(err)
	}
	if def.Kind != pipeline.KindOutput {
		t.Fatalf("kind %v", def.Kind)
	}
	out := step.(pipeline.Output)
	root := t.TempDir()
	texts := [][]string{{"Hello world.", "Second document, task zero."}, {"Task one's only document: 12345."}, {}}
	var want [][]int32
	tk := loadShipped(t, "smollm2")
	for task, docs := range texts {
		// Each task writes in a folder of its own; the executor moves them
		// all into one output folder before Finish.
		tdir := filepath.Join(root, "tmp", "t"+string(rune('0'+task)))
		tw, err := out.OpenTask(tdir, task)
		if err != nil {
			t.Fatal(err)
		}
		for i, txt := range docs {
			d := &pipeline.Document{ID: "d", Text: txt, Source: []string{"web", "math"}[i%2]}
			if err := tw.Write(d); err != nil {
				t.Fatal(err)
			}
			want = append(want, append(tk.Encode(txt, nil), 0)) // EOS auto = <|endoftext|> id 0
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(tdir)
		for _, e := range entries {
			if err := os.Rename(filepath.Join(tdir, e.Name()), filepath.Join(root, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := out.Finish(root, len(texts)); err != nil {
		t.Fatal(err)
	}
	s, err := shard.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.NumDocs() != len(want) {
		t.Fatalf("docs %d want %d", s.NumDocs(), len(want))
	}
	for i := range want {
		if got := s.Doc(i, nil); !slices.Equal(got, want[i]) {
			t.Fatalf("doc %d: got %v want %v", i, got, want[i])
		}
	}
	m := s.Manifest()
	if !m.AddEOS || m.EOSID != 0 || m.TokenBytes != 2 || m.TokenizerHash != tk.Hash() {
		t.Fatalf("manifest policy %+v", m)
	}
	if m.Sources["web"].Docs != 2 || m.Sources["math"].Docs != 1 {
		t.Fatalf("sources %+v", m.Sources)
	}
	if len(m.Shards) < 3 {
		t.Fatalf("8-byte shard target should give several shards, got %d", len(m.Shards))
	}
	if err := shard.Verify(root); err != nil {
		t.Fatal(err)
	}
}

func TestOutputPromptMask(t *testing.T) {
	o, err := NewOutput(&OutputConfig{Tokenizer: testTokenizerPath(t, "smollm2"), EOS: "<|im_end|>", BOS: "<|im_start|>", PromptField: "prompt"})
	if err != nil {
		t.Fatal(err)
	}
	d := &pipeline.Document{Text: " The answer is 4.", Meta: map[string]any{"prompt": "What is 2+2?"}}
	ids, mask := o.encodeDoc(o.tok.NewEncoder(), d, nil, nil)
	p := o.tok.Encode("What is 2+2?", nil)
	a := o.tok.Encode(" The answer is 4.", nil)
	wantIDs := append(append(append([]int32{1}, p...), a...), 2)
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("ids %v want %v", ids, wantIDs)
	}
	for i, m := range mask {
		want := uint8(0)
		if i > len(p) {
			want = 1
		}
		if m != want {
			t.Fatalf("mask[%d]=%d want %d (mask %v)", i, m, want, mask)
		}
	}
}

func TestTokenizeDir(t *testing.T) {
	in := t.TempDir()
	os.MkdirAll(filepath.Join(in, "docs"), 0o755)
	os.WriteFile(filepath.Join(in, "manifest.json"), []byte(`{"kind":"kiln.curated-dataset","version_id":"sha256:feed"}`), 0o644)
	var lines []byte
	var texts []string
	for i := 0; i < 50; i++ {
		txt := "Document number " + string(rune('A'+i%26)) + " with some text.\nAnd a second line."
		texts = append(texts, txt)
		b, _ := json.Marshal(map[string]any{"id": i, "text": txt, "source": "web"})
		lines = append(append(lines, b...), '\n')
	}
	os.WriteFile(filepath.Join(in, "docs", "part-00000.jsonl"), lines[:len(lines)/2+1], 0o644)
	// Second file holds the rest; a cut mid-record would be a test bug, so
	// split on a line boundary.
	half := 0
	for i, n := 0, 0; i < len(lines); i++ {
		if lines[i] == '\n' {
			n++
			if n == 25 {
				half = i + 1
				break
			}
		}
	}
	os.WriteFile(filepath.Join(in, "docs", "part-00000.jsonl"), lines[:half], 0o644)
	os.WriteFile(filepath.Join(in, "docs", "part-00001.jsonl"), lines[half:], 0o644)
	for _, workers := range []int{1, 2} {
		out := filepath.Join(t.TempDir(), "shards")
		res, err := TokenizeDir(context.Background(), DirOptions{Input: in, Out: out, Workers: workers, Config: *DefaultOutputConfig()})
		if err == nil {
			t.Fatal("missing tokenizer accepted")
		}
		cfg := DefaultOutputConfig()
		cfg.Tokenizer = testTokenizerPath(t, "gpt2")
		res, err = TokenizeDir(context.Background(), DirOptions{Input: in, Out: out, Workers: workers, Config: *cfg})
		if err != nil {
			t.Fatal(err)
		}
		if res.Manifest.Dataset != "sha256:feed" || res.Manifest.NumDocs != 50 || res.Manifest.Sources["web"].Docs != 50 {
			t.Fatalf("manifest %+v", res.Manifest)
		}
		s, err := shard.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		tk := loadShipped(t, "gpt2")
		for i, txt := range texts {
			if got := s.Doc(i, nil); !slices.Equal(got, append(tk.Encode(txt, nil), 50256)) {
				t.Fatalf("doc %d differs", i)
			}
		}
		s.Close()
	}
}
