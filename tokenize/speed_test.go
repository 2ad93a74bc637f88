package tokenize

import (
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/kilnlm/kiln/internal/shareddata"
)

// TestSpeedVersusHF measures, in one run, Hugging Face tokenizers (the
// reference script, one Rayon thread) and Kiln (one goroutine on a locked
// thread, fresh Encoder: every distinct word goes through BPE once, as in
// the script's single pass) on War and Peace with each shipped tokenizer.
// It reports wall-clock MB/s for both and CPU-time MB/s for Kiln. Opt-in:
// KILN_SPEED=1 go test -run SpeedVersusHF -v ./tokenize
func TestSpeedVersusHF(t *testing.T) {
	if os.Getenv("KILN_SPEED") == "" {
		t.Skip("set KILN_SPEED=1 to compare speed with Hugging Face tokenizers")
	}
	docs, n := warAndPeace(t)
	nodePath := hfNodePath(t)
	wp := shareddata.Path(t, "corpus", "books", "war-and-peace.txt")
	for _, s := range shipped {
		tokJSON := shareddata.Path(t, "tokenizers", s.dir, "tokenizer.json")
		cmd := exec.Command("node", hfScript(t), tokJSON, wp)
		cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "RAYON_NUM_THREADS=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("reference script: %v", err)
		}
		var hf struct {
			Docs    int     `json:"docs"`
			Bytes   int64   `json:"bytes"`
			Tokens  int64   `json:"tokens"`
			Seconds float64 `json:"seconds"`
			MBps    float64 `json:"mb_per_s"`
		}
		if err := json.Unmarshal(out, &hf); err != nil {
			t.Fatalf("reference output %q: %v", out, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		hfCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())

		tk := loadShipped(t, s.dir)
		unlock := lockThread()
		best, bestCPU := time.Duration(1<<62), time.Duration(1<<62)
		var ntok int
		for rep := 0; rep < 3; rep++ {
			e := tk.NewEncoder()
			c0, w0 := threadCPU(), time.Now()
			ntok = 0
			var ids []int32
			for _, d := range docs {
				ids = e.Encode(d, ids[:0])
				ntok += len(ids)
			}
			best, bestCPU = min(best, time.Since(w0)), min(bestCPU, threadCPU()-c0)
		}
		unlock()
		kw := float64(n) / 1e6 / best.Seconds()
		kc := float64(n) / 1e6 / bestCPU.Seconds()
		t.Logf("%-8s HF: %.2f MB/s wall (%d tokens; process CPU %.2fs incl. startup) | Kiln: %.1f MB/s wall, %.1f MB/cpu-s (%d tokens) | wall ratio %.1fx",
			s.name, hf.MBps, hf.Tokens, hfCPU.Seconds(), kw, kc, ntok, kw/hf.MBps)
	}
}
