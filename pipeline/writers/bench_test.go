package writers

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnlm/kiln/internal/cputime"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
)

// genWords is a fixed vocabulary for synthetic documents; a Zipf draw
// over it gives text that compresses like prose (about 3-4x with zstd).
var genWords = strings.Fields(`the of and to in a is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when who will more no if out so said what up its about
into than them can only other new some could time these two may then do first any my now such like our over man me even most
made after also did many before must through back years where much your way well down should because each just those people
data model training corpus token language web page code function return value error file system memory process thread kernel
learning loss gradient batch shard document filter quality dedup hash minhash parquet stream reader writer compression zstd`)

// genDoc makes the i-th synthetic document of a corpus; sizes vary from
// a few hundred bytes to about 8 KB like web text.
func genDoc(rng *rand.Rand, i int) *pipeline.Document {
	n := 50 + rng.Intn(1200)
	var b strings.Builder
	for w := range n {
		if w > 0 {
			if w%17 == 0 {
				b.WriteString(".\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(genWords[int(rng.ExpFloat64()*40)%len(genWords)])
	}
	return &pipeline.Document{
		ID: fmt.Sprintf("gen-%d", i), Text: b.String(), Source: "web",
		Meta: map[string]any{"url": fmt.Sprintf("https://example.org/%d/%d", rng.Intn(1000), i), "language": "en", "language_score": rng.Float64()},
		Prov: pipeline.Provenance{File: "gen.jsonl", Record: int64(i + 1), Offset: -1},
	}
}

// genCorpus writes synthetic documents in Kiln JSON form until about
// bytes of uncompressed JSONL were produced, through write, streaming.
func genCorpus(bytesWanted int64, write func(*pipeline.Document) error) (docs int, raw int64, err error) {
	rng := rand.New(rand.NewSource(42))
	var buf []byte
	for raw < bytesWanted {
		d := genDoc(rng, docs)
		buf, _ = pipeline.AppendDocument(buf[:0], d)
		raw += int64(len(buf) + 1)
		if err := write(d); err != nil {
			return docs, raw, err
		}
		docs++
	}
	return docs, raw, nil
}

// writeCorpusFile writes a generated corpus as JSONL.zst or Parquet.
func writeCorpusFile(tb testing.TB, path string, size int64) (docs int, raw int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	var w pipeline.TaskWriter
	if strings.HasSuffix(path, ".parquet") {
		w, err = NewParquet(f, ParquetOptions{})
	} else {
		w, err = NewJSONLZstd(f)
	}
	if err != nil {
		tb.Fatal(err)
	}
	docs, raw, err = genCorpus(size, w.Write)
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return docs, raw
}

type countEmitter struct{ docs, skips int }

func (c *countEmitter) Doc(*pipeline.Document) error { c.docs++; return nil }
func (c *countEmitter) Skip(pipeline.Skip)           { c.skips++ }

// reportCPU adds "cpuMB/s": bytes per second of CPU time (GC included).
// On a shared machine wall-clock MB/s drops with other load; CPU-time
// throughput is the per-core figure.
func reportCPU(b *testing.B, start time.Duration, bytes int64) {
	if el := cputime.Process() - start; el > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/el.Seconds()/1e6, "cpuMB/s")
	}
}

// benchCorpusBytes keeps benchmarks short on a shared 2-core machine.
const benchCorpusBytes = 32 << 20

func benchmarkRead(b *testing.B, ext string) {
	p := filepath.Join(b.TempDir(), "corpus."+ext)
	docs, raw := writeCorpusFile(b, p, benchCorpusBytes)
	r, err := readers.New(readers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(raw)
	b.ResetTimer()
	c0 := cputime.Process()
	defer func() { reportCPU(b, c0, raw) }()
	for b.Loop() {
		tasks, err := r.Plan([]string{p})
		if err != nil {
			b.Fatal(err)
		}
		c := &countEmitter{}
		for _, t := range tasks {
			if err := r.Read(context.Background(), t, c); err != nil {
				b.Fatal(err)
			}
		}
		if c.docs != docs {
			b.Fatalf("read %d of %d docs", c.docs, docs)
		}
	}
}

func benchmarkWrite(b *testing.B, parquetOut bool) {
	rng := rand.New(rand.NewSource(1))
	var docs []*pipeline.Document
	var raw int64
	for raw < benchCorpusBytes {
		d := genDoc(rng, len(docs))
		line, _ := pipeline.MarshalDocument(d)
		raw += int64(len(line) + 1)
		docs = append(docs, d)
	}
	b.SetBytes(raw)
	b.ResetTimer()
	c0 := cputime.Process()
	defer func() { reportCPU(b, c0, raw) }()
	for b.Loop() {
		var w pipeline.TaskWriter
		var err error
		var out bytes.Buffer
		out.Grow(int(raw / 2))
		if parquetOut {
			w, err = NewParquet(&out, ParquetOptions{})
		} else {
			w, err = NewJSONLZstd(&out)
		}
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range docs {
			if err := w.Write(d); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(raw)/float64(out.Len()), "ratio")
	}
}

// MB/s are uncompressed JSONL bytes per second, on one core (the readers
// and writers are single-goroutine; the executor runs one per core).
func BenchmarkReadJSONLZstd(b *testing.B)  { benchmarkRead(b, "jsonl.zst") }
func BenchmarkReadParquet(b *testing.B)    { benchmarkRead(b, "parquet") }
func BenchmarkWriteJSONLZstd(b *testing.B) { benchmarkWrite(b, false) }
func BenchmarkWriteParquet(b *testing.B)   { benchmarkWrite(b, true) }
