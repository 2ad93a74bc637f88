//go:build unix

package executor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/cputime"
)

// genStream writes about total bytes of JSONL documents (2 to 6 KB of
// word text each) as files of fileBytes, without holding more than one
// document in memory.
func genStream(tb testing.TB, dir string, total, fileBytes int64) {
	tb.Helper()
	words := strings.Fields("the of and to in that have with it for not on be as you do at this but his by from they we say her she or an will my one all would there their what so up out if about who get which go me when make can like time no just him know take people into year your good some could them see other than then now look only come its over think also back after use two how our work first well way even new want because any these give day most us data model token corpus curation")
	r := rand.New(rand.NewPCG(42, 42))
	var written int64
	var line bytes.Buffer
	for f := 0; written < total; f++ {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("gen-%05d.jsonl", f)))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		var fw int64
		for i := 0; fw < fileBytes && written < total; i++ {
			line.Reset()
			fmt.Fprintf(&line, `{"id":"g%d-%d","url":"https://example.com/%d/%d","text":"`, f, i, f, i)
			n := 300 + r.IntN(700)
			for k := 0; k < n; k++ {
				line.WriteString(words[r.IntN(len(words))])
				if k%15 == 14 {
					line.WriteString(".\\n")
				} else {
					line.WriteByte(' ')
				}
			}
			line.WriteString("\"}\n")
			w.Write(line.Bytes())
			fw += int64(line.Len())
			written += int64(line.Len())
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		fh.Close()
	}
}

// peakRSS reads the process's resident-set high-water mark in MiB.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// BenchmarkCurateStream streams a generated JSONL corpus through a
// per-document stage into jsonl.zst output and reports MB/s, docs/s and
// the peak RSS of the run. KILN_BENCH_MB sets the corpus size (default 100);
// run it at 100, 1000 and 5000 to see that peak RSS stays flat:
//
//	KILN_BENCH_MB=1000 go test -run '^$' -bench CurateStream -benchtime 1x ./pipeline/executor
func BenchmarkCurateStream(b *testing.B) {
	mb := int64(100)
	if v := os.Getenv("KILN_BENCH_MB"); v != "" {
		mb, _ = strconv.ParseInt(v, 10, 64)
	}
	base := b.TempDir()
	data := filepath.Join(base, "data")
	os.Mkdir(data, 0o755)
	genStream(b, data, mb<<20, 64<<20)
	res := resolveTest(b, base, `inputs:
  - paths: [data/*.jsonl]
    format: jsonl
    source: web
    task_bytes: 33554432
stages:
  - drop_word: {word: "corpus curation data model token"}
outputs:
  rejected: false
`)
	// Forget the generator's memory: the high-water mark then measures the
	// run alone ("5" resets VmHWM, Linux 4.0+).
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	b.SetBytes(mb << 20)
	cpu0 := cputime.Process()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(base, fmt.Sprintf("run%d", i))
		r, err := Run(context.Background(), Config{Resolved: res, Dir: dir, KilnVersion: "bench", Deps: testDeps()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Stats.DocsPerSec, "docs/s")
		b.ReportMetric(float64(r.Stats.Records), "docs")
		os.RemoveAll(dir)
	}
	b.StopTimer()
	// MB per CPU-second is what a contended shared machine can still
	// measure honestly; wall MB/s is printed by SetBytes.
	if cpu := (cputime.Process() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(mb<<20)/1e6*float64(b.N)/cpu, "MB/cpu-s")
	}
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}
