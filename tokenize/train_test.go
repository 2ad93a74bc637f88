package tokenize

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func trainOn(t *testing.T, docs []string, o TrainOptions) (*Tokenizer, string) {
	t.Helper()
	tr, err := NewTrainer(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		tr.Add(d)
	}
	res, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := res.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(p)
	if err != nil {
		t.Fatalf("trained tokenizer does not load: %v", err)
	}
	return tk, p
}

func TestTrainSmall(t *testing.T) {
	docs := []string{"low lower lowest", "newer newest wider", "low low low <|endoftext|> lowest"}
	for _, pre := range PreTokenizers {
		t.Run(pre, func(t *testing.T) {
			tk, _ := trainOn(t, docs, TrainOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}, PreTokenizer: pre})
			if tk.VocabSize() <= 257 || tk.VocabSize() > 300 {
				t.Fatalf("vocab size %d", tk.VocabSize())
			}
			ids := tk.Encode("low lowest<|endoftext|>", nil)
			if ids[len(ids)-1] != 0 {
				t.Fatalf("special token not matched: %v", ids)
			}
			// "low" and " lowest" each occur at least twice: one token each.
			if len(ids) != 3 || tk.Token(int(ids[0])) != "low" || tk.Token(int(ids[1])) != "Ġlowest" {
				t.Fatalf("got %v, want [low Ġlowest <|endoftext|>]", ids)
			}
			for _, d := range docs {
				back, _ := tk.Decode(tk.Encode(d, nil), false, nil)
				if string(back) != d {
					t.Fatalf("round trip %q -> %q", d, back)
				}
			}
		})
	}
}

func TestTrainRejects(t *testing.T) {
	for _, o := range []TrainOptions{
		{VocabSize: 100, PreTokenizer: PreGPT2},
		{VocabSize: 1000, PreTokenizer: "bert"},
		{VocabSize: 1000, PreTokenizer: PreGPT2, SpecialTokens: []string{"a", "a"}},
	} {
		if _, err := NewTrainer(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	docs, _ := warAndPeace(t)
	docs = docs[:2000]
	o := TrainOptions{VocabSize: 600, PreTokenizer: PreLlama3, SpecialTokens: []string{"<|endoftext|>"}}
	_, p1 := trainOn(t, docs, o)
	_, p2 := trainOn(t, docs, o)
	a, _ := os.ReadFile(p1)
	b, _ := os.ReadFile(p2)
	if string(a) != string(b) {
		t.Fatal("two trainings on the same corpus differ")
	}
}

// TestTrainedMatchesHuggingFace trains on War and Peace, then checks that
// Hugging Face tokenizers loads the written tokenizer.json and encodes the
// whole book to exactly Kiln's ids.
func TestTrainedMatchesHuggingFace(t *testing.T) {
	docs, _ := warAndPeace(t)
	nodePath := hfNodePath(t)
	// One pre-tokenizer keeps the test short; the Llama-3 regex exercises
	// the lookahead and the three-digit rule. Others: TestTrainSmall here,
	// and the same check passed for smollm and qwen2 when last run by hand.
	for _, pre := range []string{PreLlama3} {
		t.Run(pre, func(t *testing.T) {
			tk, p := trainOn(t, docs, TrainOptions{VocabSize: 2000, PreTokenizer: pre, SpecialTokens: []string{"<|endoftext|>", "<|im_start|>"}})
			cd := make([]corpusDoc, len(docs))
			for i, d := range docs {
				cd[i] = corpusDoc{"war-and-peace", d}
			}
			ref, summary := hfReferenceIDs(t, nodePath, p, cd)
			t.Logf("HF on trained tokenizer: %s", summary)
			bad := 0
			for i, d := range docs {
				if got := tk.Encode(d, nil); !slices.Equal(got, ref[i]) {
					bad++
					if bad < 3 {
						t.Errorf("doc %d differs:\n got  %v\n want %v", i, got, ref[i])
					}
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d paragraphs differ", bad, len(docs))
			}
		})
	}
}
