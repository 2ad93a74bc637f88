package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/kilnlm/kiln/internal/report/browsercheck"
	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/trainer"
)

// TestDemoEndToEnd runs the whole demo at its small size and checks what the
// demo claims: every curation stage's counts add up, the remix continued
// every source without repeats or skips, loss fell, the report renders in a
// real browser, and the lineage verified (runDemo fails otherwise).
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo skipped in -short mode")
	}
	// A relative output folder, as `make demo` uses.
	t.Chdir(t.TempDir())
	out := "demo-run"
	if err := runDemo(context.Background(), out, demoSizes["small"]); err != nil {
		t.Fatal(err)
	}

	t.Run("curation counts add up", func(t *testing.T) {
		for _, src := range []string{"web", "code", "math"} {
			var st struct {
				Records, Docs, Kept, Dropped, Skipped int64
				DroppedBy                             map[string]int64 `json:"dropped_by_reason"`
				SkippedBy                             map[string]int64 `json:"skipped_by_reason"`
				Stages                                []struct {
					Name    string
					In, Out int64
					Dropped map[string]int64
				}
			}
			readJSON(t, filepath.Join(out, "curate", src, "stats.json"), &st)
			if st.Records != st.Docs+st.Skipped || st.Docs != st.Kept+st.Dropped {
				t.Errorf("%s: records %d, docs %d, kept %d, dropped %d, skipped %d do not add up", src, st.Records, st.Docs, st.Kept, st.Dropped, st.Skipped)
			}
			if sum(st.DroppedBy) != st.Dropped || sum(st.SkippedBy) != st.Skipped {
				t.Errorf("%s: per-reason counts %v / %v do not sum to %d / %d", src, st.DroppedBy, st.SkippedBy, st.Dropped, st.Skipped)
			}
			prev := st.Docs
			for _, s := range st.Stages {
				if s.In != prev || s.In != s.Out+sum(s.Dropped) {
					t.Errorf("%s stage %s: in %d (previous out %d), out %d, dropped %v", src, s.Name, s.In, prev, s.Out, s.Dropped)
				}
				prev = s.Out
			}
			if prev != st.Kept || st.Kept == 0 {
				t.Errorf("%s: last stage out %d, kept %d", src, prev, st.Kept)
			}
		}
	})

	run := filepath.Join(out, "train")
	ck, err := trainer.LatestCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	st, err := trainer.ReadCheckpointState(ck)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("remix continued every source without repeats", func(t *testing.T) {
		if len(st.Lineage.Remixes) != 1 || st.Lineage.Remixes[0].Step != demoSizes["small"].stopAt {
			t.Fatalf("lineage remixes %+v, want one at step %d", st.Lineage.Remixes, demoSizes["small"].stopAt)
		}
		var ds mixer.State
		if err := json.Unmarshal(st.Data, &ds); err != nil {
			t.Fatal(err)
		}
		if ds.Step != int64(st.Step) {
			t.Errorf("loader at step %d, trainer at step %d: a step must consume one loader step", ds.Step, st.Step)
		}
		spans := map[string][]mixer.LineageEntry{}
		mixtures := map[string]bool{}
		for _, e := range ds.Lineage {
			spans[e.Source] = append(spans[e.Source], e)
			mixtures[e.Mixture] = true
		}
		if !mixtures["demo"] || !mixtures["demo-remix"] {
			t.Fatalf("lineage mixtures %v, want demo and demo-remix", mixtures)
		}
		for src, es := range spans {
			sort.Slice(es, func(i, j int) bool { return es[i].Segment < es[j].Segment })
			for i := 1; i < len(es); i++ {
				if es[i].From != es[i-1].To {
					t.Errorf("%s: segment %d starts at %+v but segment %d ended at %+v (repeat or skip)", src, es[i].Segment, es[i].From, es[i-1].Segment, es[i-1].To)
				}
			}
		}
		if len(spans) != 3 {
			t.Errorf("sources in lineage: %d, want 3", len(spans))
		}
	})

	t.Run("loss decreased", func(t *testing.T) {
		f, err := os.Open(filepath.Join(run, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var losses []float64
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m struct {
				Loss  float64
				Event string
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m.Event == "" && m.Loss > 0 {
				losses = append(losses, m.Loss)
			}
		}
		if len(losses) < 8 {
			t.Fatalf("only %d steps in metrics.jsonl", len(losses))
		}
		first, last := mean(losses[:3]), mean(losses[len(losses)-3:])
		if last >= first-0.3 {
			t.Errorf("loss went from %.3f to %.3f: no clear decrease", first, last)
		}
		t.Logf("loss %.3f -> %.3f over %d steps", first, last, len(losses))
	})

	t.Run("report renders in a browser", func(t *testing.T) {
		plots, err := filepath.Glob(filepath.Join(out, "report-plots", "*.png"))
		if err != nil || len(plots) < 5 {
			t.Fatalf("report plots: %v (%v)", plots, err)
		}
		if _, err := os.Stat(browsercheck.DefaultChromium); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("chromium missing under CI=true: %v", err)
			}
			t.Skipf("no chromium at %s; skipping the browser check", browsercheck.DefaultChromium)
		}
		res, err := browsercheck.Check(context.Background(), out, "report.html", browsercheck.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var rel []string
		for _, p := range plots {
			r, _ := filepath.Rel(out, p)
			rel = append(rel, r)
		}
		if probs := res.Problems(rel); len(probs) > 0 {
			t.Fatalf("browser check: %v", probs)
		}
	})
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sum(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
