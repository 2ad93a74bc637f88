package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/kilnlm/kiln/kernels"
	"github.com/kilnlm/kiln/mixer"
)

// Data yields micro-batches and an opaque, JSON-serialisable state from
// which a fresh Data resumes exactly (the mixer's loader, or a test source).
type Data interface {
	Next(ctx context.Context) (*mixer.Batch, error)
	State() (json.RawMessage, error)
}

// Tokenizer is what samples need: the tokenize package's tokenizer, or
// ByteTokenizer.
type Tokenizer interface {
	Encode(text string) []int32
	Decode(ids []int32) string
}

// Options configure a run. They are saved in every checkpoint.
type Options struct {
	Seed      uint64 `json:"seed"`
	Steps     int    `json:"steps"`
	GradAccum int    `json:"grad_accum"` // micro-batches per optimizer step
	MicroRows int    `json:"micro_rows"` // rows per micro-batch (the loader's; kept for resume)
	// HeldOutDocs is how many documents per source were held out for
	// evaluation (the loader's view of each source depends on it).
	HeldOutDocs int      `json:"held_out_docs"`
	Schedule    Schedule `json:"schedule"`
	WeightDecay float64  `json:"weight_decay"`
	Beta1       float64  `json:"beta1"`
	Beta2       float64  `json:"beta2"`
	Eps         float64  `json:"eps"`
	Clip        float64  `json:"grad_clip"` // 0: no clipping
	// CheckpointEvery writes a checkpoint (with evals and samples) every
	// this many steps and at the end (0: only at the end).
	CheckpointEvery int `json:"checkpoint_every"`
	// SpikeZ is the loss z-score (against an exponential running mean and
	// variance) that counts as a spike; SpikeAction is warn, skip (the
	// update is not applied) or rollback (reload the last checkpoint and
	// skip the spiking step's batches). SpikeWarmup steps are never spikes.
	SpikeZ      float64 `json:"spike_z"`
	SpikeAction string  `json:"spike_action"`
	SpikeWarmup int     `json:"spike_warmup"`
	// PeakFLOPS is the machine's measured fp32 peak, for MFU (0: MFU not
	// reported).
	PeakFLOPS float64 `json:"peak_flops"`
	// SampleTokens is how many tokens each vibe-test sample generates.
	SampleTokens int      `json:"sample_tokens"`
	Prompts      []string `json:"prompts"`
	Temperature  float64  `json:"temperature"`
}

// DefaultOptions are the SmolLM3-like defaults scaled for small runs.
func DefaultOptions() Options {
	return Options{
		Seed: 1, Steps: 100, GradAccum: 1,
		Schedule:    Schedule{Kind: "wsd", LR: 3e-3, MinLR: 3e-4, Warmup: 10, Total: 100, DecayFrac: 0.2},
		WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1.0,
		CheckpointEvery: 50, SpikeZ: 6, SpikeAction: "warn", SpikeWarmup: 20,
		SampleTokens: 32, Temperature: 0.8,
		Prompts: []string{"The ", "def main(", "Question: What is 2 + 3?\nAnswer:"},
	}
}

// Lineage records where the training data came from.
type Lineage struct {
	MixtureFile string            `json:"mixture_file,omitempty"`
	MixtureHash string            `json:"mixture_hash,omitempty"`
	MixtureVars map[string]string `json:"mixture_vars,omitempty"` // ${name} overrides used
	Shards      map[string]string `json:"shards,omitempty"`       // source -> manifest version id
	Note        string            `json:"note,omitempty"`
	// Remixes lists the mixtures this run trained under before the current
	// one, oldest first, with the step each was left at.
	Remixes []Remix `json:"remixes,omitempty"`
}

// Remix records a mixture a run left mid-way for another one.
type Remix struct {
	Step        int               `json:"step"` // the last step trained under this mixture
	MixtureFile string            `json:"mixture_file"`
	MixtureHash string            `json:"mixture_hash"`
	Shards      map[string]string `json:"shards,omitempty"`
}

// Trainer owns a model, its optimizer state and the run directory.
type Trainer struct {
	Model   *Model
	Opt     Options
	Lineage Lineage
	be      kernels.Backend
	m, v    kernels.Buffer // AdamW moments, one allocation each
	stopAt  int
	step    int
	data    Data
	evals   map[string][]Input
	tok     Tokenizer
	dir     string
	metrics io.WriteCloser
	log     io.Writer
	// spike detector state (checkpointed)
	lossMean, lossVar float64
	seen              int
	skip              map[int]bool
	// reopen rebuilds Data from a checkpointed state (rollback).
	reopen func(json.RawMessage) (Data, error)
}

// Config bundles everything New needs.
type RunConfig struct {
	Dir       string
	Model     Config
	Options   Options
	Lineage   Lineage
	Backend   kernels.Backend
	Data      Data
	Reopen    func(state json.RawMessage) (Data, error)
	Evals     map[string][]Input // held-out batches per source
	Tokenizer Tokenizer
	Log       io.Writer
	// StopAt, when positive and below Options.Steps, ends Run after that
	// step with a checkpoint, leaving the schedule as planned for Steps:
	// the point where a curriculum is remixed.
	StopAt int
}

// New starts a run: a fresh model initialised from the seed, checked for
// identically initialised tensors.
func New(rc RunConfig) (*Trainer, error) {
	if err := rc.Options.Schedule.Validate(); err != nil {
		return nil, err
	}
	if rc.Options.GradAccum < 1 {
		return nil, fmt.Errorf("grad_accum %d: must be >= 1", rc.Options.GradAccum)
	}
	switch rc.Options.SpikeAction {
	case "warn", "skip", "rollback":
	default:
		return nil, fmt.Errorf("spike action %q: want warn, skip or rollback", rc.Options.SpikeAction)
	}
	m, err := NewModel(rc.Backend, rc.Model, rc.Options.Seed)
	if err != nil {
		return nil, err
	}
	if err := CheckDistinctInit(m); err != nil {
		return nil, err
	}
	t := &Trainer{Model: m, Opt: rc.Options, Lineage: rc.Lineage, be: rc.Backend, data: rc.Data, stopAt: rc.StopAt,
		evals: rc.Evals, tok: rc.Tokenizer, dir: rc.Dir, log: rc.Log, reopen: rc.Reopen, skip: map[int]bool{}}
	if t.log == nil {
		t.log = io.Discard
	}
	t.m, t.v = rc.Backend.Alloc(m.NumParams()), rc.Backend.Alloc(m.NumParams())
	if err := os.MkdirAll(filepath.Join(rc.Dir, "checkpoints"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(rc.Dir, "samples"), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(rc.Dir, "metrics.jsonl"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	t.metrics = f
	fmt.Fprintf(t.log, "model %s: %d parameters (%.2fM), %d layers, dim %d, heads %d/%d kv, ffn %d, vocab %d\n",
		m.Cfg.Name, m.NumParams(), float64(m.NumParams())/1e6, m.Cfg.Layers, m.Cfg.Dim, m.Cfg.Heads, m.Cfg.KVHeads, m.Cfg.FFN, m.Cfg.Vocab)
	return t, nil
}

// Step is the number of optimizer steps taken.
func (t *Trainer) Step() int { return t.step }

// Close flushes the metrics file and stops the data loader.
func (t *Trainer) Close() error {
	if c, ok := t.data.(io.Closer); ok {
		c.Close()
	}
	return t.metrics.Close()
}

// CheckDistinctInit fails when two parameter tensors of the same shape
// (other than norms, which start at 1) hold identical values: the
// tensor-parallel initialisation bug where every shard or layer got the
// same random numbers.
func CheckDistinctInit(m *Model) error {
	host := m.HostParams()
	seen := map[uint64]string{}
	for _, s := range m.specs {
		if s.Norm {
			continue
		}
		x := host[s.Off : s.Off+s.Size()]
		h := uint64(14695981039346656037)
		for _, v := range x {
			h ^= uint64(math.Float32bits(v))
			h *= 1099511628211
		}
		h ^= uint64(len(x)) << 40
		if prev, ok := seen[h]; ok {
			return fmt.Errorf("init check: %s and %s are initialised identically (broken per-layer/per-shard seeding)", prev, s.Name)
		}
		seen[h] = s.Name
		// Within a tensor, identical rows are the same bug at shard level.
		if len(s.Shape) == 2 && s.Shape[0] > 1 {
			c := s.Shape[1]
			if equalF32(x[:c], x[c:2*c]) {
				return fmt.Errorf("init check: %s rows 0 and 1 are identical", s.Name)
			}
		}
	}
	return nil
}

func equalF32(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ToInput converts a mixer batch into the model's input.
func ToInput(b *mixer.Batch) Input {
	return Input{B: b.Rows, T: b.SeqLen, Tokens: b.Inputs, Targets: b.Targets, Positions: b.Positions, LossMask: b.LossMask}
}

// StepMetrics is one line of metrics.jsonl.
type StepMetrics struct {
	Step       int                `json:"step"`
	Loss       float64            `json:"loss"`
	SourceLoss map[string]float64 `json:"source_loss,omitempty"`
	LR         float64            `json:"lr"`
	GradNorm   float64            `json:"grad_norm"`
	Tokens     int                `json:"tokens"`
	TokensPerS float64            `json:"tokens_per_s"`
	MFU        float64            `json:"mfu,omitempty"`
	DataWait   float64            `json:"data_wait_frac"`
	StepTime   float64            `json:"step_s"`
	SpikeZ     float64            `json:"spike_z,omitempty"`
	Event      string             `json:"event,omitempty"`
	EvalLoss   map[string]float64 `json:"eval_loss,omitempty"`
}

// ErrNonFinite is wrapped by errors that stop a run on NaN/Inf.
var ErrNonFinite = errors.New("non-finite value")

// TrainStep runs one optimizer step: GradAccum micro-batches, clipping,
// AdamW. It returns the step's metrics.
func (t *Trainer) TrainStep(ctx context.Context) (StepMetrics, error) {
	start := time.Now()
	var wait time.Duration
	m := t.Model
	m.ZeroGrad()
	var lossSum, count float64
	srcSum, srcCnt := map[string]float64{}, map[string]float64{}
	tokens := 0
	var sources []string
	// The loader says how many micro-batches make this step (its rows per
	// step change with the stage's sequence length, at a stage switch or a
	// remix, to keep tokens per step constant); data without that notion
	// uses GradAccum.
	micros := t.Opt.GradAccum
	for micro := 0; micro < micros; micro++ {
		w := time.Now()
		b, err := t.data.Next(ctx)
		wait += time.Since(w)
		if err != nil {
			return StepMetrics{}, fmt.Errorf("step %d micro-batch %d: %w", t.step+1, micro, err)
		}
		if micro == 0 && b.Micros > 0 {
			micros = b.Micros
		}
		if b.Micros > 0 && b.Micro != micro {
			return StepMetrics{}, fmt.Errorf("step %d: loader gave micro-batch %d of %d, want %d (loader and trainer out of step)", t.step+1, b.Micro, b.Micros, micro)
		}
		in := ToInput(b)
		var masked float64
		for _, v := range in.LossMask {
			masked += float64(v)
		}
		if masked == 0 {
			masked = 1
		}
		scale := float32(1 / (masked * float64(micros)))
		losses, err := m.Forward(in, scale)
		if err != nil {
			return StepMetrics{}, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		var mb float64
		for i, l := range losses {
			if in.LossMask[i] == 0 {
				continue
			}
			mb += float64(l)
			if len(b.SourceOf) == len(losses) && int(b.SourceOf[i]) < len(b.Sources) {
				s := b.Sources[b.SourceOf[i]]
				srcSum[s] += float64(l)
				srcCnt[s]++
			}
		}
		if math.IsNaN(mb) || math.IsInf(mb, 0) {
			return StepMetrics{}, fmt.Errorf("step %d micro-batch %d: loss is %v%s (batch sources %v): %w",
				t.step+1, micro, mb, t.nonFiniteParam(), b.Sources, ErrNonFinite)
		}
		lossSum += mb
		count += masked
		sources = append(sources, b.Sources...)
		tokens += in.B * in.T
		m.Backward()
	}
	loss := lossSum / count
	// Gradient norm, per tensor so a NaN names its tensor.
	var sq float64
	for _, s := range m.specs {
		v := t.be.SumSquares(t.be.View(m.Grads, s.Off, s.Size()))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return StepMetrics{}, fmt.Errorf("step %d: gradient of %s is %v (batch sources %v): %w", t.step+1, s.Name, v, sources, ErrNonFinite)
		}
		sq += v
	}
	norm := math.Sqrt(sq)
	met := StepMetrics{Step: t.step + 1, Loss: loss, GradNorm: norm, Tokens: tokens, LR: t.Opt.Schedule.At(t.step)}
	if len(srcSum) > 0 {
		met.SourceLoss = map[string]float64{}
		for s, v := range srcSum {
			met.SourceLoss[s] = v / srcCnt[s]
		}
	}
	// Loss-spike detection against an exponential running mean/variance.
	apply := !t.skip[t.step+1]
	if !apply {
		met.Event = "skipped (rolled back here before)"
	}
	if t.seen >= t.Opt.SpikeWarmup && t.Opt.SpikeZ > 0 && t.lossVar > 0 {
		z := (loss - t.lossMean) / math.Sqrt(t.lossVar)
		met.SpikeZ = z
		if z > t.Opt.SpikeZ && apply {
			switch t.Opt.SpikeAction {
			case "warn":
				met.Event = "spike: warn"
				fmt.Fprintf(t.log, "step %d: loss spike, z=%.1f (loss %.4f, mean %.4f)\n", t.step+1, z, loss, t.lossMean)
			case "skip":
				met.Event = "spike: update skipped"
				apply = false
			case "rollback":
				met.Event = "spike: rollback"
				if err := t.rollback(t.step + 1); err != nil {
					return met, err
				}
				met.StepTime = time.Since(start).Seconds()
				return met, nil
			}
		}
	}
	if apply && met.Event == "" || met.Event == "spike: warn" {
		const a = 0.05 // EMA weight: ~20-step memory
		if t.seen == 0 {
			t.lossMean, t.lossVar = loss, 0
		} else {
			d := loss - t.lossMean
			t.lossMean += a * d
			t.lossVar = (1 - a) * (t.lossVar + a*d*d)
		}
		t.seen++
	}
	if apply {
		clip := float32(1)
		if t.Opt.Clip > 0 && norm > t.Opt.Clip {
			clip = float32(t.Opt.Clip / norm)
		}
		lr := float32(met.LR)
		for _, s := range m.specs {
			wd := float32(0)
			if s.Decay {
				wd = float32(t.Opt.WeightDecay)
			}
			v := func(b kernels.Buffer) kernels.Buffer { return t.be.View(b, s.Off, s.Size()) }
			t.be.AdamW(v(m.Params), v(m.Grads), v(t.m), v(t.v), lr, float32(t.Opt.Beta1), float32(t.Opt.Beta2),
				float32(t.Opt.Eps), wd, clip, t.step+1)
		}
	}
	if err := t.be.Sync(); err != nil {
		return met, fmt.Errorf("step %d: backend: %w", t.step+1, err)
	}
	t.step++
	el := time.Since(start).Seconds()
	met.StepTime = el
	met.TokensPerS = float64(tokens) / el
	met.DataWait = wait.Seconds() / el
	if t.Opt.PeakFLOPS > 0 {
		met.MFU = met.TokensPerS * m.Cfg.FlopsPerToken(t.seqLen()) / t.Opt.PeakFLOPS
	}
	return met, nil
}

// nonFiniteParam names the first parameter tensor holding a NaN or Inf.
func (t *Trainer) nonFiniteParam() string {
	for _, s := range t.Model.specs {
		v := t.be.SumSquares(t.be.View(t.Model.Params, s.Off, s.Size()))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("; parameter %s is non-finite", s.Name)
		}
	}
	return "; all parameters finite (activation overflow)"
}

func (t *Trainer) seqLen() int {
	if t.Model.act != nil {
		return t.Model.act.T
	}
	return 0
}

func (t *Trainer) writeMetrics(met StepMetrics) error {
	line, err := json.Marshal(met)
	if err != nil {
		return err
	}
	_, err = t.metrics.Write(append(line, '\n'))
	return err
}

// Run trains until Opt.Steps, checkpointing (with evals and samples) every
// CheckpointEvery steps and at the end.
func (t *Trainer) Run(ctx context.Context) error {
	saved := t.step
	limit := t.Opt.Steps
	if t.stopAt > 0 && t.stopAt < limit {
		limit = t.stopAt
	}
	for t.step < limit {
		if err := ctx.Err(); err != nil {
			// Interrupted between steps: save so --resume loses nothing.
			if t.step > saved {
				if _, cerr := t.Checkpoint(); cerr != nil {
					return fmt.Errorf("%w (and the interrupt checkpoint failed: %v)", err, cerr)
				}
			}
			return err
		}
		met, err := t.TrainStep(ctx)
		if err != nil {
			if errors.Is(err, ErrNonFinite) {
				// Leave the alarm in metrics.jsonl for the report; the
				// values themselves are not JSON numbers.
				if merr := t.writeMetrics(StepMetrics{Step: t.step + 1, Event: "non-finite: " + err.Error()}); merr != nil {
					return fmt.Errorf("%w (and writing the alarm failed: %v)", err, merr)
				}
			}
			return err
		}
		if met.Event == "spike: rollback" {
			fmt.Fprintf(t.log, "step %d: loss spike z=%.1f: rolled back to step %d\n", met.Step, met.SpikeZ, t.step)
			if err := t.writeMetrics(met); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(t.log, "step %5d/%d  loss %.4f  lr %.2e  |g| %.3f  %.0f tok/s  mfu %.1f%%  data %.1f%%\n",
			met.Step, t.Opt.Steps, met.Loss, met.LR, met.GradNorm, met.TokensPerS, 100*met.MFU, 100*met.DataWait)
		if t.step%max(1, t.Opt.CheckpointEvery) == 0 && t.Opt.CheckpointEvery > 0 || t.step == limit {
			ev, err := t.Checkpoint()
			if err != nil {
				return err
			}
			met.EvalLoss = ev
			saved = t.step
		}
		if err := t.writeMetrics(met); err != nil {
			return err
		}
	}
	return nil
}
