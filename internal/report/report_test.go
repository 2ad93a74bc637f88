package report

import (
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/kilnlm/kiln/internal/lineage/chaintest"
)

var (
	chainOnce sync.Once
	chainTop  string
	chainErr  string
)

// sharedChain builds the real chain once per test binary: curation,
// tokenizer, shards, mixture and a few training steps.
func sharedChain(t *testing.T) string {
	t.Helper()
	chainOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kiln-report-chain-")
		if err != nil {
			chainErr = err.Error()
			return
		}
		chainTop = dir
		chainErr = "building the chain failed in an earlier test" // cleared on success
		chaintest.Build(t, dir)
		chainErr = ""
	})
	if chainErr != "" || chainTop == "" {
		t.Fatalf("chain: %s", chainErr)
	}
	return chainTop
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chainTop != "" {
		os.RemoveAll(chainTop)
	}
	os.Exit(code)
}

var imgSrc = regexp.MustCompile(`<img src="([^"]+)"`)

// checkPage asserts every plot the page names exists beside it and decodes
// as a non-empty PNG, and returns the img sources.
func checkPage(t *testing.T, dir string) (string, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	var srcs []string
	for _, m := range imgSrc.FindAllStringSubmatch(page, -1) {
		srcs = append(srcs, m[1])
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(m[1])))
		if err != nil {
			t.Errorf("page refers to %s: %v", m[1], err)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", m[1], err)
			continue
		}
		if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
			t.Errorf("%s: %dx%d image", m[1], r.Dx(), r.Dy())
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the page carries a script; it must work without JavaScript")
	}
	return page, srcs
}

func TestReportSections(t *testing.T) {
	top := sharedChain(t)
	all := []string{SecInventory, SecCuration, SecDedup, SecTokens, SecMixture, SecTraining, SecAlarms, SecSamples, SecLineage}
	cases := []struct {
		name    string
		dir     func(t *testing.T) string
		found   []string
		plots   int // at least
		contain []string
	}{
		{"demo layout", func(*testing.T) string { return top }, all, 12,
			[]string{"gopher_short_doc", "exact_duplicate", "shards/web", "chaintest / second", "stage boundaries", "step 6", "No alarms", "checkpoint "}},
		{"one curated run", func(*testing.T) string { return filepath.Join(top, "curate", "web") },
			[]string{SecInventory, SecCuration, SecDedup}, 2, []string{"No training run (metrics.jsonl)", "No shard set"}},
		{"shards only", func(*testing.T) string { return filepath.Join(top, "shards") },
			[]string{SecInventory, SecTokens}, 1, []string{"No curation run with a stats.json"}},
		{"empty folder", func(t *testing.T) string { return t.TempDir() }, nil, 0, []string{"Nothing found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			res, err := Write(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, s := range tc.found {
				want[s] = true
			}
			for _, s := range all {
				if res.Sections[s] != want[s] {
					t.Errorf("section %s found=%t, want %t", s, res.Sections[s], want[s])
				}
			}
			page, srcs := checkPage(t, dir)
			if len(srcs) < tc.plots || len(srcs) != len(res.Plots) {
				t.Errorf("%d images on the page, %d plots written; want >= %d and equal", len(srcs), len(res.Plots), tc.plots)
			}
			if n := strings.Count(page, `class="missing"`); n != len(all)-len(tc.found) {
				t.Errorf("%d missing-section notes, want %d", n, len(all)-len(tc.found))
			}
			for _, c := range tc.contain {
				if !strings.Contains(page, c) {
					t.Errorf("page lacks %q", c)
				}
			}
			if len(res.Problems) != 0 {
				t.Errorf("problems: %v", res.Problems)
			}
		})
	}
}

// TestReportRewrite checks the report is deterministic and that a second
// run removes plots the first one wrote but the second does not.
func TestReportRewrite(t *testing.T) {
	top := sharedChain(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(top, "curate", "web"))); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, PlotDir, "stale.png")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("x"), 0o644)
	if _, err := Write(context.Background(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, FileName))
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale plot survived")
	}
	if _, err := Write(context.Background(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir, FileName))
	if string(first) != string(second) {
		t.Error("two reports of the same folder differ")
	}
}

func TestParseMetrics(t *testing.T) {
	in := strings.Join([]string{
		`{"step":1,"loss":5.5,"lr":0.001,"grad_norm":1.2,"tokens":128,"tokens_per_s":1000,"mfu":0.01,"data_wait_frac":0.02,"step_s":0.1}`,
		``,
		`{"step":2,"loss":"NaN","grad_norm":"+Inf","event":"nonfinite"}`,
		`{"step":3,"loss":null,"eval_loss":{"web":4.5}}`,
		`{"loss":1}`,
		`{"step":4,"loss":4`,
	}, "\n")
	ms, skipped, err := ParseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || skipped != 2 {
		t.Fatalf("%d metrics, %d skipped; want 3 and 2", len(ms), skipped)
	}
	tests := []struct {
		i        int
		step     int
		lossNaN  bool
		gradInf  bool
		line     int
		evalWeb  float64
		hasEvent bool
	}{
		{0, 1, false, false, 1, 0, false},
		{1, 2, true, true, 3, 0, true},
		{2, 3, true, false, 4, 4.5, false},
	}
	for _, tc := range tests {
		m := ms[tc.i]
		if m.Step != tc.step || math.IsNaN(m.Loss) != tc.lossNaN || math.IsInf(m.GradNorm, 1) != tc.gradInf || m.Line != tc.line ||
			m.EvalLoss["web"] != tc.evalWeb || (m.Event != "") != tc.hasEvent {
			t.Errorf("metric %d = %+v", tc.i, m)
		}
	}
	if ms[0].TokensPerS != 1000 || ms[0].MFU != 0.01 || ms[0].DataWait != 0.02 {
		t.Errorf("metric 0 fields: %+v", ms[0])
	}
}

// TestAlarms checks that spikes and non-finite values reach the alarms
// table and that the page still renders with NaN losses.
func TestAlarms(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(
		`{"step":1,"loss":5,"tokens_per_s":10}
{"step":2,"loss":9,"spike_z":7.5,"event":"spike: update skipped"}
{"step":3,"loss":"NaN","grad_norm":"Inf"}
`), 0o644)
	res, err := Write(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Sections[SecAlarms] || !res.Sections[SecTraining] || res.Sections[SecMixture] {
		t.Errorf("sections %v", res.Sections)
	}
	page, _ := checkPage(t, dir)
	for _, want := range []string{"spike: update skipped", "non-finite grad norm; non-finite loss", "7.5000"} {
		if !strings.Contains(page, want) {
			t.Errorf("alarms lack %q", want)
		}
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add([]byte(`{"step":1,"loss":5.5,"source_loss":{"web":1},"eval_loss":{"a":"NaN"}}` + "\n"))
	f.Add([]byte(`{"step":"x"}`))
	f.Add([]byte("\n\n{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, skipped, err := ParseMetrics(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		lines := strings.Count(string(b), "\n") + 1
		if len(ms)+skipped > lines {
			t.Fatalf("%d metrics + %d skipped from %d lines", len(ms), skipped, lines)
		}
		for _, m := range ms {
			if m.Line < 1 || m.Line > lines {
				t.Fatalf("line %d of %d", m.Line, lines)
			}
		}
	})
}

func FuzzParseSamples(f *testing.F) {
	f.Add([]byte(`{"step":3,"prompt":"The ","mode":"greedy","text":"cat"}` + "\n"))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, skipped, err := ParseSamples(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if len(ss)+skipped > strings.Count(string(b), "\n")+1 {
			t.Fatalf("%d samples + %d skipped", len(ss), skipped)
		}
	})
}
