package trainer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kilnlm/kiln/kernels"
)

func testConfig() Config {
	return Config{Name: "test", Vocab: 37, Dim: 16, Layers: 4, Heads: 4, KVHeads: 2, FFN: 24,
		RopeBase: 10000, NoPEEvery: 2, MaxSeq: 64, NormEps: 1e-5, InitStd: 0.3}
}

func randomInput(r *rand.Rand, B, T, V int, docLens []int) Input {
	in := Input{B: B, T: T}
	for b := 0; b < B; b++ {
		p, d := 0, 0
		for t := 0; t < T; t++ {
			if d < len(docLens) && p == docLens[d] {
				p, d = 0, d+1
			}
			in.Tokens = append(in.Tokens, int32(r.IntN(V)))
			in.Targets = append(in.Targets, int32(r.IntN(V)))
			in.Positions = append(in.Positions, int32(p))
			in.LossMask = append(in.LossMask, 1)
			p++
		}
	}
	return in
}

func TestParamCounts(t *testing.T) {
	cases := []struct {
		name      string
		want, tol float64
	}{
		{"smollm3-3b", 3.08e9, 0.01e9},
		{"smollm2-135m", 134.5e6, 1e6},
		{"small-16m", 16.0e6, 0.3e6},
	}
	for _, tc := range cases {
		c := Presets()[tc.name]
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		n := float64(c.NumParams())
		t.Logf("%s: %d parameters", tc.name, c.NumParams())
		if math.Abs(n-tc.want) > tc.tol {
			t.Errorf("%s: %.4g parameters, want %.4g +- %.2g", tc.name, n, tc.want, tc.tol)
		}
	}
}

// TestModelGradient checks the whole model's backward pass against central
// differences of the loss, on a sample of every tensor.
func TestModelGradient(t *testing.T) {
	cfg := testConfig()
	be := kernels.NewCPU(2)
	m, err := NewModel(be, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	in := randomInput(r, 2, 6, cfg.Vocab, []int{4, 2})
	in.LossMask[3] = 0
	loss := func() float64 {
		l, err := m.Forward(in, 0)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range l {
			s += float64(v * in.LossMask[i])
		}
		return s
	}
	m.ZeroGrad()
	if _, err := m.Forward(in, 1); err != nil {
		t.Fatal(err)
	}
	m.Backward()
	params := kernels.F32(m.Params.(kernels.F32))
	grads := m.Grads.(kernels.F32)
	const eps = 1e-2
	for _, sp := range m.specs {
		var worst float64
		for j := 0; j < 6; j++ {
			i := sp.Off + r.IntN(sp.Size())
			old := params[i]
			params[i] = old + eps
			fp := loss()
			params[i] = old - eps
			fm := loss()
			params[i] = old
			fd := (fp - fm) / (2 * eps)
			err := math.Abs(fd-float64(grads[i])) / math.Max(0.05, math.Abs(fd))
			worst = max(worst, err)
			if err > 5e-2 {
				t.Errorf("%s[%d]: analytic %g, finite difference %g", sp.Name, i-sp.Off, grads[i], fd)
			}
		}
		t.Logf("%-40s worst relative error %.2e", sp.Name, worst)
	}
}

// TestDocumentMaskingEquivalence: a row packing two documents gives the same
// logits as running each document alone.
func TestDocumentMaskingEquivalence(t *testing.T) {
	cfg := testConfig()
	m, err := NewModel(kernels.NewCPU(2), cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	packed := randomInput(r, 1, 10, cfg.Vocab, []int{6, 4})
	packed.Targets, packed.LossMask = nil, nil
	if _, err := m.Forward(packed, 0); err != nil {
		t.Fatal(err)
	}
	got := make([][]float32, 10)
	for i := range got {
		got[i] = make([]float32, cfg.Vocab)
		m.Logits(0, i, got[i])
	}
	for _, doc := range []struct{ start, n int }{{0, 6}, {6, 4}} {
		alone := Input{B: 1, T: doc.n, Tokens: packed.Tokens[doc.start : doc.start+doc.n], Positions: packed.Positions[doc.start : doc.start+doc.n]}
		if _, err := m.Forward(alone, 0); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, cfg.Vocab)
		for i := 0; i < doc.n; i++ {
			m.Logits(0, i, want)
			for v := range want {
				if d := math.Abs(float64(want[v] - got[doc.start+i][v])); d > 1e-5 {
					t.Fatalf("doc at %d position %d vocab %d: packed %g alone %g", doc.start, i, v, got[doc.start+i][v], want[v])
				}
			}
		}
	}
	// Without the mask (one long document) the second document's logits
	// must differ, or the test proves nothing.
	cross := packed
	cross.Positions = make([]int32, 10)
	for i := range cross.Positions {
		cross.Positions[i] = int32(i)
	}
	if _, err := m.Forward(cross, 0); err != nil {
		t.Fatal(err)
	}
	l := make([]float32, cfg.Vocab)
	m.Logits(0, 8, l)
	same := true
	for v := range l {
		if math.Abs(float64(l[v]-got[8][v])) > 1e-5 {
			same = false
		}
	}
	if same {
		t.Fatal("logits without document masking equal the masked ones: test is vacuous")
	}
}

// BenchmarkTrainStep times one training step of the small-16m model at
// B8 T256 (the llm.c comparison shape); "MB/s" reads as millions of
// tokens/s. Run with -benchtime 2x: a step takes about a second.
func BenchmarkTrainStep(b *testing.B) {
	be := kernels.NewCPU(0)
	cfg := Presets()["small-16m"]
	run, err := NewBenchRun(be, cfg, 8, 256)
	if err != nil {
		b.Fatal(err)
	}
	if err := run.Step(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(8 * 256))
	for b.Loop() {
		if err := run.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(8*256*b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(8*256*b.N)/b.Elapsed().Seconds()*cfg.FlopsPerToken(256)/1e9, "GFLOP/s")
}

// FuzzParseConfig: any input either fails with an error or yields a config
// whose parameter layout is consistent.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96}`))
	f.Add([]byte(`{"hidden_size": 63, "num_attention_heads": 4}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.json")
		if err != nil {
			return
		}
		if c.Dim%c.Heads != 0 || c.Heads%c.KVHeads != 0 || c.HeadDim()%2 != 0 {
			t.Fatalf("invalid config accepted: %+v", c)
		}
		if c.Vocab < 1<<16 && c.Dim < 1<<10 && c.Layers < 64 && c.FFN < 1<<12 {
			ts := c.tensors()
			last := ts[len(ts)-1]
			if int64(last.Off+last.Size()) != c.NumParams() {
				t.Fatalf("layout %d floats, NumParams %d", last.Off+last.Size(), c.NumParams())
			}
		}
	})
}
