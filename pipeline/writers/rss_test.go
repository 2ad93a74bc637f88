package writers

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnlm/kiln/pipeline/readers"
)

// TestStreamingRSS measures the peak RSS of reading generated corpora of
// growing size, each read in a fresh child process so that the high-water
// mark (VmHWM) belongs to that read alone. Sizes come from
// KILN_RSS_SIZES (e.g. "100M,1G,5G" of uncompressed JSONL) and formats
// from KILN_RSS_FORMATS ("jsonl.zst,parquet"); without KILN_RSS_SIZES the
// test is skipped, as it writes gigabytes. Results go to the test log:
//
//	KILN_RSS_SIZES=100M,1G go test ./pipeline/writers -run StreamingRSS -v
func TestStreamingRSS(t *testing.T) {
	if path := os.Getenv("KILN_RSS_CHILD"); path != "" {
		rssChild(t, path)
		return
	}
	sizes := os.Getenv("KILN_RSS_SIZES")
	if sizes == "" {
		t.Skip("set KILN_RSS_SIZES=100M,1G to measure reader peak RSS")
	}
	formats := strings.Split(cmpOr(os.Getenv("KILN_RSS_FORMATS"), "jsonl.zst,parquet"), ",")
	dir := t.TempDir()
	for _, s := range strings.Split(sizes, ",") {
		size, err := parseSize(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range formats {
			p := filepath.Join(dir, "corpus."+ext)
			t0 := time.Now()
			docs, raw := writeCorpusFile(t, p, size)
			gen := time.Since(t0)
			st, _ := os.Stat(p)
			cmd := exec.Command(os.Args[0], "-test.run=^TestStreamingRSS$", "-test.v")
			cmd.Env = append(os.Environ(), "KILN_RSS_CHILD="+p)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var line string
			for _, l := range strings.Split(string(out), "\n") {
				if i := strings.Index(l, "RSS peak"); i >= 0 {
					line = l[i:]
				}
			}
			t.Logf("%-9s raw %6d MB (%5d MB on disk, %8d docs, generated in %v): %s", ext, raw>>20, st.Size()>>20, docs, gen.Round(time.Second), line)
			os.Remove(p)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// rssChild reads one corpus and reports documents, time and VmHWM.
func rssChild(t *testing.T, path string) {
	r, err := readers.New(readers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	tasks, err := r.Plan([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	c := &countEmitter{}
	for _, task := range tasks {
		if err := r.Read(context.Background(), task, c); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(t0)
	fmt.Printf("RSS peak %d MB, %d docs, read in %v\n", vmHWM()>>20, c.docs, el.Round(time.Millisecond))
}

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}
