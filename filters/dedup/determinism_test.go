package dedup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runBytes(t *testing.T, in []byte, o Options) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := Run(context.Background(), bytes.NewReader(in), &out, o); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDeterminism: the same input gives the same output bytes for any
// worker count, and a budget small enough to force many spilled runs and
// multi-pass merges changes nothing either.
func TestDeterminism(t *testing.T) {
	var in bytes.Buffer
	docs, copies, err := genCorpus(&in, 3<<20, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"minhash", "exact", "line"} {
		t.Run(method, func(t *testing.T) {
			ref := runBytes(t, in.Bytes(), Options{Method: method, Memory: 256 << 20, Workers: 1})
			if n := bytes.Count(ref, []byte("\n")); n != docs {
				t.Fatalf("%d output lines for %d documents", n, docs)
			}
			if method == "minhash" {
				dropped := bytes.Count(ref, []byte(`"reason":"minhash_duplicate"`))
				// Planted copies are at J ~ 0.6-0.9; most must be found.
				if dropped < copies*7/10 || dropped > copies*11/10 {
					t.Errorf("dropped %d near-duplicates, planted %d", dropped, copies)
				}
			}
			for _, w := range []int{1, 2, 4} {
				// 1 MiB budget with 64 KiB tasks: dozens of runs, fan-in 2.
				got := runBytes(t, in.Bytes(), Options{Method: method, Memory: 1 << 20, Workers: w, ChunkBytes: 64 << 10})
				if !bytes.Equal(got, ref) {
					t.Fatalf("workers=%d with spilling: output differs from the reference", w)
				}
			}
		})
	}
}

// TestResume damages a finished work dir the way a kill -9 can leave it (a
// half-written task, a lost commit, a half-done Build) and checks that a
// rerun gives the same bytes as a clean run.
func TestResume(t *testing.T) {
	var in bytes.Buffer
	if _, _, err := genCorpus(&in, 1<<20, 0.2, 2); err != nil {
		t.Fatal(err)
	}
	o := Options{Method: "minhash", Memory: 1 << 20, Workers: 2, ChunkBytes: 128 << 10}
	ref := runBytes(t, in.Bytes(), o)
	o.WorkDir = t.TempDir()
	if got := runBytes(t, in.Bytes(), o); !bytes.Equal(got, ref) {
		t.Fatal("persistent work dir: output differs")
	}
	stage := filepath.Join(o.WorkDir, "stage")
	// Task 1 "killed" before its commit: only a truncated .tmp remains.
	t1 := taskDir(stage, 1)
	if err := os.Rename(t1, t1+".tmp"); err != nil {
		t.Fatal(err)
	}
	runs, _ := filepath.Glob(filepath.Join(t1+".tmp", "run-*.bin"))
	if len(runs) == 0 {
		t.Fatal("no runs in task 1")
	}
	if err := os.Truncate(runs[0], 100); err != nil {
		t.Fatal(err)
	}
	// Task 2 lost entirely; Build killed mid-way.
	if err := os.RemoveAll(taskDir(stage, 2)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(stage, "build"), filepath.Join(stage, "build.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(stage, "build.tmp", "done")); err != nil {
		t.Fatal(err)
	}
	if got := runBytes(t, in.Bytes(), o); !bytes.Equal(got, ref) {
		t.Fatal("resumed run: output differs from a clean run")
	}
	// A different input in the same work dir must not reuse the state.
	other := bytes.Replace(in.Bytes(), []byte(`"id":"g00000000"`), []byte(`"id":"changed"`), 1)
	got := runBytes(t, other, o)
	o.WorkDir = ""
	if want := runBytes(t, other, o); !bytes.Equal(got, want) || !strings.Contains(string(got), `"id":"changed"`) {
		t.Fatal("changed input in a reused work dir: output differs from a clean run")
	}
}
