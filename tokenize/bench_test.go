package tokenize

import (
	"context"
	"os"
	"regexp"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnlm/kiln/internal/shareddata"
)

// paragraphSplit is the reference script's split(/\n\s*\n/) (the book's
// whitespace is ASCII, where RE2's \s and JavaScript's agree).
var paragraphSplit = regexp.MustCompile(`\n\s*\n`)

// warAndPeace returns the benchmark text split into paragraphs exactly as
// ../shared/bench/hf_tokenize.js splits it (776,019 SmolLM2 tokens).
func warAndPeace(b testing.TB) ([]string, int64) {
	raw, err := os.ReadFile(shareddata.Path(b, "corpus", "books", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var docs []string
	var n int64
	for _, p := range paragraphSplit.Split(string(raw), -1) {
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
			defer lockThread()()
			b.SetBytes(n)
			b.ResetTimer()
			c0 := threadCPU()
			for i := 0; i < b.N; i++ {
				for _, d := range docs {
					ids = e.Encode(d, ids[:0])
				}
			}
			reportCPU(b, n, c0)
		})
	}
}

// BenchmarkEncodeWarAndPeaceCold measures a fresh Encoder per pass, so
// every word goes through BPE once (the cache only helps within the book).
func BenchmarkEncodeWarAndPeaceCold(b *testing.B) {
	docs, n := warAndPeace(b)
	for _, s := range shipped {
		b.Run(s.name, func(b *testing.B) {
			tk := loadShipped(b, s.dir)
			defer lockThread()()
			b.SetBytes(n)
			var ids []int32
			b.ResetTimer()
			c0 := threadCPU()
			for i := 0; i < b.N; i++ {
				e := tk.NewEncoder()
				for _, d := range docs {
					ids = e.Encode(d, ids[:0])
				}
			}
			reportCPU(b, n, c0)
		})
	}
}

func reportCPU(b *testing.B, n int64, c0 time.Duration) {
	if d := threadCPU() - c0; d > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

// BenchmarkEncodeScaling encodes paragraphs on GOMAXPROCS goroutines, each
// with its own warm Encoder (run with -cpu 1,2,4,... for the scaling
// curve). One op is one paragraph; SetBytes uses the mean paragraph size.
func BenchmarkEncodeScaling(b *testing.B) {
	docs, n := warAndPeace(b)
	tk := loadShipped(b, "smollm2")
	b.SetBytes(n / int64(len(docs)))
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		e := tk.NewEncoder()
		var ids []int32
		for pb.Next() {
			i := int(next.Add(1)) % len(docs)
			ids = e.Encode(docs[i], ids[:0])
		}
	})
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
