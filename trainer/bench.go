package trainer

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kilnlm/kiln/kernels"
)

// BenchResult is one training-throughput measurement.
type BenchResult struct {
	Model      string  `json:"model"`
	Params     int     `json:"params"`
	B          int     `json:"batch"`
	T          int     `json:"seq_len"`
	Steps      int     `json:"steps"`
	StepS      float64 `json:"step_s"`
	TokensPerS float64 `json:"tokens_per_s"`
	GFLOPS     float64 `json:"gflops"`
	MFU        float64 `json:"mfu"`
}

// BenchRun is a model and a fixed random batch for timing training steps.
type BenchRun struct {
	m        *Model
	in       Input
	mom, vel kernels.Buffer
	be       kernels.Backend
	n        int
}

// NewBenchRun builds cfg on be with a random batch of B rows of T tokens
// (one document per row).
func NewBenchRun(be kernels.Backend, cfg Config, B, T int) (*BenchRun, error) {
	m, err := NewModel(be, cfg, 1)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	in := Input{B: B, T: T}
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			in.Tokens = append(in.Tokens, int32(r.IntN(cfg.Vocab)))
			in.Targets = append(in.Targets, int32(r.IntN(cfg.Vocab)))
			in.Positions = append(in.Positions, int32(t))
			in.LossMask = append(in.LossMask, 1)
		}
	}
	return &BenchRun{m: m, in: in, mom: be.Alloc(m.NumParams()), vel: be.Alloc(m.NumParams()), be: be}, nil
}

// Step runs one training step: forward, backward, grad norm, AdamW.
func (r *BenchRun) Step() error {
	m, be, in := r.m, r.be, r.in
	r.n++
	m.ZeroGrad()
	if _, err := m.Forward(in, 1/float32(in.B*in.T)); err != nil {
		return err
	}
	m.Backward()
	be.SumSquares(m.Grads)
	be.AdamW(m.Params, m.Grads, r.mom, r.vel, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1, r.n)
	return be.Sync()
}

// Bench times full training steps (forward, backward, AdamW) of cfg on
// random tokens in rows of T (one document per row), after one warm-up step.
func Bench(be kernels.Backend, cfg Config, B, T, steps int, peak float64) (BenchResult, error) {
	run, err := NewBenchRun(be, cfg, B, T)
	if err != nil {
		return BenchResult{}, err
	}
	if err := run.Step(); err != nil {
		return BenchResult{}, err
	}
	start := time.Now()
	for i := 1; i <= steps; i++ {
		if err := run.Step(); err != nil {
			return BenchResult{}, err
		}
	}
	el := time.Since(start).Seconds() / float64(steps)
	res := BenchResult{Model: cfg.Name, Params: run.m.NumParams(), B: B, T: T, Steps: steps, StepS: el,
		TokensPerS: float64(B*T) / el}
	res.GFLOPS = res.TokensPerS * cfg.FlopsPerToken(T) / 1e9
	if peak > 0 {
		res.MFU = res.GFLOPS * 1e9 / peak
	}
	return res, nil
}

// String formats a result as one line.
func (r BenchResult) String() string {
	return fmt.Sprintf("%s (%.1fM params) B%d T%d: %.3f s/step, %.0f tokens/s, %.1f GFLOP/s, MFU %.1f%%",
		r.Model, float64(r.Params)/1e6, r.B, r.T, r.StepS, r.TokensPerS, r.GFLOPS, 100*r.MFU)
}
