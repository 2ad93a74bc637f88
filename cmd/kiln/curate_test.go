package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/pipeline/manifest"
)

// The shipped recipes must pass `kiln recipe check` against the real data.
func TestShippedRecipesCheck(t *testing.T) {
	data := shareddata.Dir(t)
	t.Setenv("KILN_DATA", data)
	files, err := filepath.Glob("../../recipes/curate/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("recipes: %v %v", files, err)
	}
	for _, f := range files {
		res, err := loadRecipe(f, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(res.Stages) == 0 {
			t.Errorf("%s: no stages", f)
		}
		for _, in := range res.Inputs {
			if len(in.Files) == 0 {
				t.Errorf("%s: input %s matched nothing", f, in.Name)
			}
		}
	}
}

// curateTestBinary compiles the binary once per test into a temp folder.
func curateTestBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kiln")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=simd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// curateGenCorpus writes many small JSONL files (one task each) of prose-like
// documents, some duplicated across files so exact_dedup has work.
func curateGenCorpus(t *testing.T, dir string, files, docs int) {
	t.Helper()
	words := strings.Fields("the of and to in that have with it for not on be as you do at this but his by from they we say her she or an will my one all would there their what so up out if about who get which go me")
	r := rand.New(rand.NewPCG(1, 2))
	for f := 0; f < files; f++ {
		var b bytes.Buffer
		for i := 0; i < docs; i++ {
			var text strings.Builder
			n := 40 + r.IntN(80)
			if i%9 == 0 {
				// A duplicate of a document in another file.
				fmt.Fprintf(&text, "shared text %d ", i%50)
				n = 60
			}
			for w := 0; w < n; w++ {
				if i%9 == 0 {
					text.WriteString(words[(i+w)%len(words)])
				} else {
					text.WriteString(words[r.IntN(len(words))])
				}
				if w%12 == 11 {
					text.WriteString(".\n")
				} else {
					text.WriteByte(' ')
				}
			}
			fmt.Fprintf(&b, "{\"id\":\"f%d-%d\",\"text\":%q}\n", f, i, text.String())
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("shard-%03d.jsonl", f)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func curateRunDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"docs", "rejected"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = hex.EncodeToString(s[:])
			return nil
		})
	}
	return out
}

// TestKillAndResume kills `kiln curate` with SIGKILL at random moments,
// re-runs the same command, and checks the result is byte-identical to an
// uninterrupted run.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := curateTestBinary(t)
	base := t.TempDir()
	data := filepath.Join(base, "data")
	os.Mkdir(data, 0o755)
	curateGenCorpus(t, data, 40, 600)
	recipe := filepath.Join(base, "kill.yaml")
	os.WriteFile(recipe, []byte(`name: kill
inputs:
  - paths: [data/*.jsonl]
    format: jsonl
    source: web
stages:
  - gopher_quality
  - exact_dedup
  - gopher_repetition
outputs:
  docs: [jsonl.zst, parquet]
`), 0o644)
	curate := func(dir string) *exec.Cmd {
		cmd := exec.Command(bin, "curate", recipe, "-o", dir, "--workers", "2", "--progress", "log")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = &stderr
		return cmd
	}
	ref := filepath.Join(base, "ref")
	t0 := time.Now()
	if out, err := exec.Command(bin, "curate", recipe, "-o", ref, "--workers", "2", "--progress", "none").CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	full := time.Since(t0)
	want := curateRunDigest(t, ref)
	if len(want) < 40 {
		t.Fatalf("reference run wrote %d files", len(want))
	}
	refM, err := manifest.Read(ref)
	if err != nil {
		t.Fatal(err)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("uninterrupted run %v; kill points seeded with %d", full, seed)
	r := rand.New(rand.NewPCG(seed, 7))
	dir := filepath.Join(base, "killed")
	kills, maxMarkers := 0, 0
	for attempt := 0; attempt < 5; attempt++ {
		cmd := curate(dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Random points in shrinking windows (half a full run, then a
		// third, a quarter, ...), so several kills land before the
		// resumed runs catch up with the work.
		wait := time.Duration(r.Int64N(int64(full)/int64(attempt+2) + 1))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("attempt %d failed: %v\n%s", attempt, err, cmd.Stderr)
			}
			t.Logf("attempt %d finished before its kill point %v", attempt, wait)
		case <-time.After(wait):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
			markers, _ := filepath.Glob(filepath.Join(dir, ".kiln", "done", "*"))
			maxMarkers = max(maxMarkers, len(markers))
			t.Logf("attempt %d killed after %v with %d task phases committed", attempt, wait, len(markers))
			if len(markers) > 0 {
				out, err := exec.Command(bin, "inspect", dir).CombinedOutput()
				if err == nil || !strings.Contains(string(out), "unfinished run") || !strings.Contains(string(out), "task phases committed") {
					t.Errorf("inspect of a killed run: %v\n%s", err, out)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(dir, manifest.FileName)); err == nil {
			break
		}
	}
	final := curate(dir)
	if err := final.Run(); err != nil {
		t.Fatalf("final run: %v\n%s", err, final.Stderr)
	}
	if kills == 0 {
		t.Log("no attempt was killed (machine too fast for the kill points)")
	} else if maxMarkers == 0 {
		t.Fatal("no kill happened after a task committed: resume was not exercised")
	}
	got := curateRunDigest(t, dir)
	if len(got) != len(want) {
		t.Fatalf("%d files after kills, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s differs after kill and resume", k)
		}
	}
	m, err := manifest.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.VersionID != refM.VersionID || m.Counts != refM.Counts {
		t.Fatalf("manifest differs: %s %+v vs %s %+v", m.VersionID, m.Counts, refM.VersionID, refM.Counts)
	}
	if err := m.Verify(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".kiln")); err == nil {
		t.Fatal("work folder left after a completed run")
	}
	// The CLI verbs on the result.
	out, err := exec.Command(bin, "inspect", dir, "--verify").CombinedOutput()
	if err != nil || !strings.Contains(string(out), m.VersionID) || !strings.Contains(string(out), "verified") {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "recipe", "check", recipe).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("recipe check: %v\n%s", err, out)
	}
	// KILN_CPUPROFILE writes a (gzipped) pprof profile of any verb, and a
	// path that cannot be created is an error naming it.
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	cmd := exec.Command(bin, "inspect", dir)
	cmd.Env = append(os.Environ(), "KILN_CPUPROFILE="+prof)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("inspect with KILN_CPUPROFILE: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(prof); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile %s not written as pprof (gzip): %v, %d bytes", prof, err, len(b))
	}
	cmd = exec.Command(bin, "inspect", dir)
	cmd.Env = append(os.Environ(), "KILN_CPUPROFILE="+filepath.Join(dir, "no", "such", "dir", "cpu.prof"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "KILN_CPUPROFILE") {
		t.Fatalf("unwritable KILN_CPUPROFILE: %v\n%s", err, out)
	}
}
