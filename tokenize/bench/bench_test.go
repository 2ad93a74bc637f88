package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/tokenize"
	"github.com/sugarme/tokenizer/pretrained"
)

func warAndPeace(b testing.TB) ([]string, int64) {
	raw, err := os.ReadFile(shareddata.Path(b, "corpus", "books", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var docs []string
	var n int64
	for _, p := range strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n") {
		if p != "" {
			docs = append(docs, p)
			n += int64(len(p))
		}
	}
	return docs, n
}

func smolLM2(b testing.TB) string {
	return filepath.Join(shareddata.Dir(b), "tokenizers", "smollm2", "tokenizer.json")
}

// BenchmarkKiln: one fresh Encoder per pass over the book, one core.
func BenchmarkKiln(b *testing.B) {
	docs, n := warAndPeace(b)
	tk, err := tokenize.Load(smolLM2(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := tk.NewEncoder()
		for _, d := range docs {
			e.Encode(d, nil)
		}
	}
}

// BenchmarkSugarme: github.com/sugarme/tokenizer v0.3.0 on the same text.
func BenchmarkSugarme(b *testing.B) {
	docs, n := warAndPeace(b)
	tk, err := pretrained.FromFile(smolLM2(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			if _, err := tk.EncodeSingle(d, false); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestAgreement reports how many paragraphs sugarme encodes to Kiln's ids
// (Kiln's ids equal Hugging Face's; see tokenize's tests).
func TestAgreement(t *testing.T) {
	docs, _ := warAndPeace(t)
	k, err := tokenize.Load(smolLM2(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := pretrained.FromFile(smolLM2(t))
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, d := range docs {
		enc, err := s.EncodeSingle(d, false)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int32, len(enc.Ids))
		for i, id := range enc.Ids {
			ids[i] = int32(id)
		}
		if slices.Equal(ids, k.Encode(d, nil)) {
			same++
		}
	}
	t.Logf("sugarme agrees with Kiln/HF on %d of %d War and Peace paragraphs", same, len(docs))
}
