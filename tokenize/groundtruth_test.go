package tokenize

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
)

// shipped names the three tokenizers in ../shared/data/tokenizers with
// their ground-truth files.
var shipped = []struct{ name, dir, ids string }{
	{"smollm2", "smollm2", "smollm_ids.jsonl"},
	{"gpt2", "gpt2", "gpt2_ids.jsonl"},
	{"qwen3", "qwen3", "qwen3_ids.jsonl"},
}

// loadCache keeps parsed tokenizers across tests in this package run (the
// Qwen3 file takes a noticeable fraction of a second to parse).
type loadCache struct {
	mu sync.Mutex
	m  map[string]*Tokenizer
}

var testTokenizers = &loadCache{m: map[string]*Tokenizer{}}

func loadShipped(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	p := shareddata.Path(t, "tokenizers", dir, "tokenizer.json")
	testTokenizers.mu.Lock()
	defer testTokenizers.mu.Unlock()
	if tk, ok := testTokenizers.m[p]; ok {
		return tk
	}
	tk, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	testTokenizers.m[p] = tk
	return tk
}

func TestGroundTruthIDs(t *testing.T) {
	for _, s := range shipped {
		t.Run(s.name, func(t *testing.T) {
			tk := loadShipped(t, s.dir)
			f, err := os.Open(shareddata.Path(t, "tokenizers", "groundtruth", s.ids))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<24)
			n, bad := 0, 0
			for line := 1; sc.Scan(); line++ {
				var rec struct {
					Text string  `json:"text"`
					IDs  []int32 `json:"ids"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("%s line %d: %v", s.ids, line, err)
				}
				n++
				got := tk.Encode(rec.Text, nil)
				if !slices.Equal(got, rec.IDs) {
					bad++
					if bad <= 5 {
						t.Errorf("%s line %d %q:\n got  %v\n want %v", s.ids, line, rec.Text, got, rec.IDs)
					}
				}
				back, err := tk.Decode(got, false, nil)
				if err != nil || string(back) != tk.normalize(rec.Text) {
					t.Errorf("%s line %d: decode round trip gave %q (err %v)", s.ids, line, back, err)
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n < 50 {
				t.Fatalf("only %d records read", n)
			}
			if bad > 0 {
				t.Fatalf("%d of %d strings differ from HF", bad, n)
			}
		})
	}
}

func TestMultilingualConformance(t *testing.T) {
	var inputs []struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	b, err := os.ReadFile(shareddata.Path(t, "tokenizers", "groundtruth", "multilingual_inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &inputs); err != nil {
		t.Fatal(err)
	}
	// qwen2_5_multilingual.json comes from Qwen2.5, which shares Qwen3's
	// vocabulary, merges, normalizer and pre-tokenizer; only the added
	// tokens differ (Qwen3 adds <think>, </think>, <tool_response>...),
	// and none of the inputs contain them.
	cases := []struct{ dir, file string }{
		{"gpt2", "gpt2_multilingual.json"},
		{"qwen3", "qwen2_5_multilingual.json"},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			tk := loadShipped(t, c.dir)
			var ref struct {
				Entries []struct {
					ID       string  `json:"id"`
					InputIDs []int32 `json:"input_ids"`
				} `json:"entries"`
			}
			b, err := os.ReadFile(shareddata.Path(t, "tokenizers", "groundtruth", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			want := map[string][]int32{}
			for _, e := range ref.Entries {
				want[e.ID] = e.InputIDs
			}
			checked := 0
			for _, in := range inputs {
				w, ok := want[in.ID]
				if !ok {
					continue
				}
				checked++
				if got := tk.Encode(in.Text, nil); !slices.Equal(got, w) {
					t.Errorf("%s %q:\n got  %v\n want %v", in.ID, in.Text, got, w)
				}
			}
			if checked < 80 {
				t.Fatalf("only %d inputs matched reference entries", checked)
			}
		})
	}
}

func testTokenizerPath(t testing.TB, dir string) string {
	return shareddata.Path(t, "tokenizers", dir, "tokenizer.json")
}

// TestWarAndPeaceTokenCount checks the figure Hugging Face gives for the
// benchmark text (../shared/data/README.md): 776,019 SmolLM2 tokens with
// the reference script's paragraph split.
func TestWarAndPeaceTokenCount(t *testing.T) {
	docs, _ := warAndPeace(t)
	tk := loadShipped(t, "smollm2")
	n := 0
	for _, d := range docs {
		n += len(tk.Encode(d, nil))
	}
	if n != 776019 {
		t.Fatalf("War and Peace: %d SmolLM2 tokens, Hugging Face gives 776019", n)
	}
}
