package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/kernels"
	"github.com/kilnlm/kiln/mixer"
)

const testMixture = `
name: t
seed: 5
global_batch_tokens: 64
sources:
  web:  {tokens: 10k}
  code: {tokens: 10k}
stages:
  - name: s1
    seq_len: 16
    weights: {web: 0.7, code: 0.3}
`

// patternDocs are learnable documents: arithmetic sequences mod V.
func patternDocs(seed uint64, n, V int) MemDocs {
	r := rand.New(rand.NewPCG(seed, 9))
	var d MemDocs
	for i := 0; i < n; i++ {
		l := 5 + r.IntN(30)
		a, s := r.IntN(V), 1+r.IntN(3)
		doc := make([]int32, l)
		for j := range doc {
			doc[j] = int32((a + s*j) % V)
		}
		d = append(d, doc)
	}
	return d
}

func testRun(t *testing.T, dir string, steps int, resume bool) *Trainer {
	t.Helper()
	mix, err := mixer.ParseMixture([]byte(testMixture), "test.yaml", mixer.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string]mixer.DocSource{"web": patternDocs(1, 200, 37), "code": patternDocs(2, 200, 37)}
	lopts := mixer.LoaderOptions{MicroBatchRows: 2}
	reopen := func(st json.RawMessage) (Data, error) { return OpenLoader(mix, srcs, lopts, st) }
	opt := DefaultOptions()
	opt.Steps, opt.GradAccum, opt.CheckpointEvery = steps, 2, 3
	opt.Schedule = Schedule{Kind: "cosine", LR: 1e-2, MinLR: 1e-3, Warmup: 2, Total: 8}
	opt.SampleTokens, opt.Prompts = 4, []string{"\x01\x02"}
	rc := RunConfig{Dir: dir, Model: testConfig(), Options: opt, Backend: kernels.NewCPU(2), Reopen: reopen,
		Evals:     map[string][]Input{"web": EvalBatches(patternDocs(3, 20, 37), 2, 16, 2)},
		Tokenizer: ByteTokenizer{}, Log: &bytes.Buffer{}}
	var tr *Trainer
	if resume {
		tr, err = Resume(rc)
	} else {
		rc.Data, err = reopen(nil)
		if err == nil {
			tr, err = New(rc)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestResumeBitIdentical: 6 steps straight equal 3 steps, a checkpoint, a
// fresh process resuming, and 3 more steps, bit for bit (parameters, Adam
// moments and the logged losses).
func TestResumeBitIdentical(t *testing.T) {
	ctx := context.Background()
	a := testRun(t, t.TempDir(), 6, false)
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	dirB := t.TempDir()
	b := testRun(t, dirB, 3, false)
	if err := b.Run(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()
	c := testRun(t, dirB, 6, true)
	if c.Step() != 3 {
		t.Fatalf("resumed at step %d, want 3", c.Step())
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	pa, pc := a.Model.HostParams(), c.Model.HostParams()
	for i := range pa {
		if pa[i] != pc[i] {
			t.Fatalf("param %d differs after resume: %g vs %g", i, pa[i], pc[i])
		}
	}
	ma, mc := make([]float32, len(pa)), make([]float32, len(pa))
	a.be.Download(ma, a.v)
	c.be.Download(mc, c.v)
	if !equalF32(ma, mc) {
		t.Fatal("Adam second moments differ after resume")
	}
	// metrics.jsonl of the resumed run lists steps 1..6 once each.
	a.Close()
	c.Close()
	got, _ := os.ReadFile(filepath.Join(dirB, "metrics.jsonl"))
	lines := bytes.Split(bytes.TrimSpace(got), []byte("\n"))
	if len(lines) != 6 {
		t.Fatalf("resumed metrics has %d lines, want 6", len(lines))
	}
}

// TestLossFalls trains the tiny model on learnable sequences and checks the
// loss drops well below its start; samples are written.
func TestLossFalls(t *testing.T) {
	dir := t.TempDir()
	tr := testRun(t, dir, 8, false)
	var first, last float64
	for tr.Step() < 8 {
		m, err := tr.TrainStep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m.Step == 1 {
			first = m.Loss
		}
		last = m.Loss
	}
	if _, err := tr.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f -> %.3f", first, last)
	if last > first-0.5 {
		t.Fatalf("loss fell from %.3f only to %.3f", first, last)
	}
	if _, err := os.Stat(filepath.Join(dir, "samples", "step-0000008.jsonl")); err != nil {
		t.Fatal(err)
	}
}

func TestInitCheckCatchesIdenticalLayers(t *testing.T) {
	m, err := NewModel(kernels.NewCPU(1), testConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDistinctInit(m); err != nil {
		t.Fatalf("fresh model flagged: %v", err)
	}
	p := m.Params.(kernels.F32)
	a, b := m.specs[2], m.specs[11] // layer 0 and layer 1 q_proj
	copy(p[b.Off:b.Off+b.Size()], p[a.Off:a.Off+a.Size()])
	if err := CheckDistinctInit(m); err == nil {
		t.Fatal("identical layers not detected")
	}
}

func TestNaNStopsRun(t *testing.T) {
	tr := testRun(t, t.TempDir(), 2, false)
	p := tr.Model.Params.(kernels.F32)
	s := tr.Model.specs[5] // layer 0 o_proj
	p[s.Off] = float32(nan())
	_, err := tr.TrainStep(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "model.layers.0.self_attn.o_proj.weight") {
		t.Fatalf("want a non-finite error naming the tensor, got %v", err)
	}
	t.Log(err)
}

func nan() float64 { var z float64; return z / z }

func TestSchedules(t *testing.T) {
	w := Schedule{Kind: "wsd", LR: 1, MinLR: 0.1, Warmup: 2, Total: 10, DecayFrac: 0.2}
	want := []float64{0.5, 1, 1, 1, 1, 1, 1, 1, 0.55, 0.1}
	for i, v := range want {
		if got := w.At(i); abs(got-v) > 1e-9 {
			t.Errorf("wsd step %d: %g want %g", i, got, v)
		}
	}
	c := Schedule{Kind: "cosine", LR: 1, MinLR: 0, Warmup: 0, Total: 10}
	if c.At(0) != 1 || abs(c.At(5)-0.5) > 1e-9 || c.At(10) != 0 {
		t.Errorf("cosine: %g %g %g", c.At(0), c.At(5), c.At(10))
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// spiky corrupts the targets of every micro-batch while on is set.
type spiky struct {
	Data
	on bool
}

func (s *spiky) Next(ctx context.Context) (*mixer.Batch, error) {
	b, err := s.Data.Next(ctx)
	if err == nil && s.on {
		for i := range b.Targets {
			b.Targets[i] = int32((i * 7) % 37)
		}
	}
	return b, err
}

func TestSpikeActions(t *testing.T) {
	for _, action := range []string{"skip", "rollback"} {
		t.Run(action, func(t *testing.T) {
			tr := testRun(t, t.TempDir(), 40, false)
			tr.Opt.SpikeAction, tr.Opt.SpikeZ, tr.Opt.SpikeWarmup, tr.Opt.CheckpointEvery = action, 4, 8, 100
			tr.Opt.Schedule = Schedule{Kind: "wsd", LR: 2e-2, MinLR: 2e-2, Warmup: 2, Total: 40}
			sp := &spiky{Data: tr.data}
			tr.data = sp
			ctx := context.Background()
			// Learn the patterns first (so corrupted targets cost much more
			// than clean ones), then hold the weights nearly still so the
			// detector sees a flat loss.
			for tr.Step() < 30 {
				if _, err := tr.TrainStep(ctx); err != nil {
					t.Fatal(err)
				}
				if tr.Step() == 20 {
					tr.Opt.Schedule.LR, tr.Opt.Schedule.MinLR, tr.seen = 1e-9, 1e-9, 0
				}
			}
			if _, err := tr.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			before := tr.Model.HostParams()
			sp.on = true
			m, err := tr.TrainStep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("spike step: loss %.3f z %.1f event %q", m.Loss, m.SpikeZ, m.Event)
			if m.SpikeZ < 4 {
				t.Fatalf("corrupted batch not detected as a spike (z %.2f)", m.SpikeZ)
			}
			if !equalF32(before, tr.Model.HostParams()) {
				t.Fatalf("%s: parameters changed by the spiking step", action)
			}
			if action == "skip" && tr.Step() != 31 {
				t.Fatalf("skip: step %d, want 31", tr.Step())
			}
			if action == "rollback" && (tr.Step() != 30 || !tr.skip[31]) {
				t.Fatalf("rollback: step %d (want 30), skip set %v", tr.Step(), tr.skip)
			}
		})
	}
}

// TestStepFollowsLoaderAcrossSeqLenChange: when a stage doubles the
// sequence length, the loader halves the rows per step to keep tokens per
// step constant; each optimizer step must still consume exactly one loader
// step (its micro-batch count comes from the loader, not GradAccum).
func TestStepFollowsLoaderAcrossSeqLenChange(t *testing.T) {
	spec := `
name: seqlen
seed: 5
global_batch_tokens: 64
sources:
  web: {tokens: 10k}
stages:
  - name: short
    seq_len: 8
    weights: {web: 1}
  - name: long
    start: {step: 3}
    seq_len: 16
    weights: {web: 1}
`
	mix, err := mixer.ParseMixture([]byte(spec), "seqlen.yaml", mixer.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string]mixer.DocSource{"web": patternDocs(1, 200, 37)}
	lopts := mixer.LoaderOptions{MicroBatchRows: 2}
	data, err := OpenLoader(mix, srcs, lopts, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt := DefaultOptions()
	opt.Steps, opt.GradAccum, opt.CheckpointEvery = 6, 4, 0 // 8 rows of 8 tokens / 2 rows per micro-batch
	opt.Schedule = Schedule{Kind: "cosine", LR: 1e-2, MinLR: 1e-3, Warmup: 1, Total: 6}
	opt.SampleTokens, opt.Prompts = 2, []string{"\x01"}
	rc := RunConfig{Dir: t.TempDir(), Model: testConfig(), Options: opt, Backend: kernels.NewCPU(1), Data: data,
		Reopen: func(st json.RawMessage) (Data, error) { return OpenLoader(mix, srcs, lopts, st) }, Log: &bytes.Buffer{}}
	tr, err := New(rc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i := 1; i <= 6; i++ {
		met, err := tr.TrainStep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if met.Tokens != 64 {
			t.Fatalf("step %d trained on %d tokens, want the mixture's 64 per step", i, met.Tokens)
		}
		raw, err := data.State()
		if err != nil {
			t.Fatal(err)
		}
		var st mixer.State
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if st.Step != int64(i) {
			t.Fatalf("after trainer step %d the loader is at step %d", i, st.Step)
		}
	}
}
