package dedup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kilnlm/kiln/internal/cputime"
	"github.com/kilnlm/kiln/internal/shareddata"
)

// BenchmarkSignature measures MinHash signature computation (normalisation,
// 5-gram shingling, 112 permutations, band keys) on one core over real web
// and math text; MB/s is per core since one goroutine runs it.
func BenchmarkSignature(b *testing.B) {
	docs := loadRealDocs(b, 2000, 1)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	h, err := NewHasher(DefaultMinHashParams())
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]uint64, 14)
	b.SetBytes(int64(total))
	b.ResetTimer()
	c0 := cputime.Process()
	for range b.N {
		for _, d := range docs {
			sig, _ := h.Signature(d)
			h.BandKeys(sig, keys)
		}
	}
	reportCPU(b, c0, int64(total))
}

func reportCPU(b *testing.B, c0 time.Duration, bytes int64) {
	if d := cputime.Process() - c0; d > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

// BenchmarkSignatureSynthetic is BenchmarkSignature on generated text, for
// machines without the shared data.
func BenchmarkSignatureSynthetic(b *testing.B) {
	var buf strings.Builder
	if _, _, err := genCorpus(&buf, 8<<20, 0, 5); err != nil {
		b.Fatal(err)
	}
	var docs []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		r, err := ParseRecord([]byte(line), "")
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, r.Text)
	}
	h, _ := NewHasher(DefaultMinHashParams())
	keys := make([]uint64, 14)
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	c0 := cputime.Process()
	for range b.N {
		for _, d := range docs {
			sig, _ := h.Signature(d)
			h.BandKeys(sig, keys)
		}
	}
	reportCPU(b, c0, int64(buf.Len()))
}

// BenchmarkSignatureWarAndPeace is the same on non-web prose with accents
// and long paragraphs.
func BenchmarkSignatureWarAndPeace(b *testing.B) {
	raw, err := os.ReadFile(shareddata.Path(b, "corpus", "books", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	docs := strings.Split(string(raw), "\n\n")
	h, _ := NewHasher(DefaultMinHashParams())
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	c0 := cputime.Process()
	for range b.N {
		for _, d := range docs {
			h.Signature(d)
		}
	}
	reportCPU(b, c0, int64(len(raw)))
}

// BenchmarkEndToEnd runs `kiln dedup --method minhash` in process on a
// generated corpus with 20% planted near-duplicates under a memory budget
// and reports wall time and the process's peak RSS. Sizes come from
// KILN_DEDUP_BENCH_SIZE (default 64MiB) and KILN_DEDUP_BENCH_MEMORY
// (default half the corpus); the corpus is written to KILN_DEDUP_BENCH_DIR
// (default a temp dir) and kept there for reuse.
func BenchmarkEndToEnd(b *testing.B) {
	size := envSize(b, "KILN_DEDUP_BENCH_SIZE", 64<<20)
	mem := envSize(b, "KILN_DEDUP_BENCH_MEMORY", size/2)
	dir := os.Getenv("KILN_DEDUP_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "corpus.jsonl")
	if st, err := os.Stat(path); err != nil || st.Size() < size {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		docs, copies, err := genCorpus(f, size, 0.2, 3)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %s: %d documents, %d planted near-copies", path, docs, copies)
	}
	st, _ := os.Stat(path)
	old := debug.SetMemoryLimit(mem + 64<<20)
	defer debug.SetMemoryLimit(old)
	runtime.GC()
	b.SetBytes(st.Size())
	b.ResetTimer()
	for range b.N {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := Run(context.Background(), f, io.Discard, Options{Method: "minhash", Memory: mem, Workers: runtime.NumCPU(), WorkDir: filepath.Join(dir, "work")})
		f.Close()
		os.RemoveAll(filepath.Join(dir, "work"))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%d MB corpus, budget %d MB: %d docs, %d dropped, %d tasks, %.1fs", st.Size()>>20, mem>>20, s.Docs, s.Dropped, s.Tasks, time.Since(start).Seconds())
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS_MB")
	}
	b.ReportMetric(float64(mem>>20), "budget_MB")
}

func envSize(b *testing.B, key string, def int64) int64 {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := ParseSize(v)
	if err != nil {
		b.Fatalf("%s: %v", key, err)
	}
	return n
}
