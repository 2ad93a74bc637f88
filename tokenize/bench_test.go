package tokenize

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
)

// warAndPeace returns the benchmark text split into paragraphs on blank
// lines, as ../shared/bench/hf_tokenize.js splits it.
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

// BenchmarkEncodeWarAndPeace measures single-core encoding throughput (one
// Encoder, warm cache after the first iteration) per shipped tokenizer.
func BenchmarkEncodeWarAndPeace(b *testing.B) {
	docs, n := warAndPeace(b)
	for _, s := range shipped {
		b.Run(s.name, func(b *testing.B) {
			tk := loadShipped(b, s.dir)
			e := tk.NewEncoder()
			var ids []int32
			b.SetBytes(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, d := range docs {
					ids = e.Encode(d, ids[:0])
				}
			}
		})
	}
}

// BenchmarkEncodeWarAndPeaceCold measures a fresh Encoder per pass, so
// every word goes through BPE once (the cache only helps within the book).
func BenchmarkEncodeWarAndPeaceCold(b *testing.B) {
	docs, n := warAndPeace(b)
	tk := loadShipped(b, "smollm2")
	b.SetBytes(n)
	var ids []int32
	for i := 0; i < b.N; i++ {
		e := tk.NewEncoder()
		for _, d := range docs {
			ids = e.Encode(d, ids[:0])
		}
	}
}

// BenchmarkEncodeBatchParallel measures EncodeBatch on all cores.
func BenchmarkEncodeBatchParallel(b *testing.B) {
	docs, n := warAndPeace(b)
	tk := loadShipped(b, "smollm2")
	b.SetBytes(n)
	for i := 0; i < b.N; i++ {
		if _, err := tk.EncodeBatch(context.Background(), docs, runtime.GOMAXPROCS(0)); err != nil {
			b.Fatal(err)
		}
	}
}
