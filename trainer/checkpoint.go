package trainer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kilnlm/kiln/kernels"
)

// CheckpointFormat is the version of the checkpoint layout.
const CheckpointFormat = 1

// TensorInfo locates one tensor in params.bin (and the moment files).
type TensorInfo struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Offset int    `json:"offset"` // in float32 elements
}

// CheckpointState is checkpoints/step-NNNNNNN/state.json. The binary files
// beside it (params.bin, adam_m.bin, adam_v.bin) are little-endian float32
// in the tensor order listed, whatever backend wrote them.
type CheckpointState struct {
	Format  int             `json:"format"`
	Step    int             `json:"step"`
	Backend string          `json:"backend"`
	Model   Config          `json:"model"`
	Options Options         `json:"options"`
	Lineage Lineage         `json:"lineage"`
	Data    json.RawMessage `json:"data_state"`
	// RNG: the only randomness after initialisation is sampling, drawn from
	// PCG(seed, step) streams, so the seed and step are its full state.
	RNG      map[string]uint64  `json:"rng"`
	LossMean float64            `json:"spike_loss_mean"`
	LossVar  float64            `json:"spike_loss_var"`
	Seen     int                `json:"spike_seen"`
	Skip     []int              `json:"skip_steps,omitempty"`
	Tensors  []TensorInfo       `json:"tensors"`
	SHA256   map[string]string  `json:"sha256"`
	EvalLoss map[string]float64 `json:"eval_loss,omitempty"`
}

func ckptName(step int) string { return fmt.Sprintf("step-%07d", step) }

// Checkpoint evaluates held-out loss per source, writes samples, and saves
// the full training state atomically (temporary directory, then rename;
// then the "latest" pointer, also by rename). It returns the eval losses.
func (t *Trainer) Checkpoint() (map[string]float64, error) {
	ev, err := t.Evaluate()
	if err != nil {
		return nil, err
	}
	for _, src := range sortedKeys(ev) {
		fmt.Fprintf(t.log, "  eval %-10s loss %.4f\n", src, ev[src])
	}
	if err := t.writeSamples(); err != nil {
		return nil, err
	}
	ds, err := t.data.State()
	if err != nil {
		return nil, fmt.Errorf("checkpoint step %d: data state: %w", t.step, err)
	}
	st := CheckpointState{Format: CheckpointFormat, Step: t.step, Backend: t.be.Name(), Model: t.Model.Cfg,
		Options: t.Opt, Lineage: t.Lineage, Data: ds, RNG: map[string]uint64{"seed": t.Opt.Seed, "sample_stream": uint64(t.step)},
		LossMean: t.lossMean, LossVar: t.lossVar, Seen: t.seen, SHA256: map[string]string{}, EvalLoss: ev}
	for s := range t.skip {
		st.Skip = append(st.Skip, s)
	}
	sort.Ints(st.Skip)
	for _, s := range t.Model.specs {
		st.Tensors = append(st.Tensors, TensorInfo{s.Name, s.Shape, s.Off})
	}
	root := filepath.Join(t.dir, "checkpoints")
	final := filepath.Join(root, ckptName(t.step))
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	n := t.Model.NumParams()
	host := make([]float32, n)
	for _, f := range []struct {
		name string
		buf  kernels.Buffer
	}{{"params.bin", t.Model.Params}, {"adam_m.bin", t.m}, {"adam_v.bin", t.v}} {
		t.be.Download(host, f.buf)
		sum, err := writeFloats(filepath.Join(tmp, f.name), host)
		if err != nil {
			return nil, fmt.Errorf("checkpoint step %d: %w", t.step, err)
		}
		st.SHA256[f.name] = sum
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, "state.json"), js); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("checkpoint step %d: %w", t.step, err)
	}
	if err := writeAtomic(filepath.Join(root, "latest"), []byte(ckptName(t.step)+"\n")); err != nil {
		return nil, err
	}
	fmt.Fprintf(t.log, "  checkpoint %s\n", final)
	return ev, nil
}

func writeFloats(path string, x []float32) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	var b [4]byte
	for _, v := range x {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("sync %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

func readFloats(path string, dst []float32, wantSum string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) != 4*len(dst) {
		return fmt.Errorf("%s: %d bytes, want %d (%d floats)", path, len(data), 4*len(dst), len(dst))
	}
	if wantSum != "" {
		s := sha256.Sum256(data)
		if hex.EncodeToString(s[:]) != wantSum {
			return fmt.Errorf("%s: sha256 mismatch (corrupt checkpoint)", path)
		}
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LatestCheckpoint returns the directory of the run's latest checkpoint.
func LatestCheckpoint(runDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "checkpoints", "latest"))
	if err != nil {
		return "", fmt.Errorf("run %s has no checkpoint: %w", runDir, err)
	}
	return filepath.Join(runDir, "checkpoints", strings.TrimSpace(string(b))), nil
}

// ReadCheckpointState reads state.json of a checkpoint directory.
func ReadCheckpointState(dir string) (*CheckpointState, error) {
	path := filepath.Join(dir, "state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCheckpointState(b, path)
}

// ParseCheckpointState decodes and checks a state.json.
func ParseCheckpointState(b []byte, file string) (*CheckpointState, error) {
	var st CheckpointState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if st.Format != CheckpointFormat {
		return nil, fmt.Errorf("%s: format %d, this kiln reads %d", file, st.Format, CheckpointFormat)
	}
	if err := st.Model.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if st.Step < 0 {
		return nil, fmt.Errorf("%s: negative step %d", file, st.Step)
	}
	return &st, nil
}

// LoadParams reads a checkpoint's parameters into host memory.
func LoadParams(dir string, st *CheckpointState) ([]float32, error) {
	n := st.Model.NumParams()
	path := filepath.Join(dir, "params.bin")
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() != 4*n { // check before allocating what state.json claims
		return nil, fmt.Errorf("%s: %d bytes, the model in state.json needs %d", path, fi.Size(), 4*n)
	}
	p := make([]float32, n)
	return p, readFloats(path, p, st.SHA256["params.bin"])
}

// load restores parameters, moments and counters from a checkpoint.
func (t *Trainer) load(dir string, st *CheckpointState) error {
	n := t.Model.NumParams()
	if int64(n) != st.Model.NumParams() {
		return fmt.Errorf("checkpoint %s: %d parameters, model has %d", dir, st.Model.NumParams(), n)
	}
	host := make([]float32, n)
	for _, f := range []struct {
		name string
		buf  kernels.Buffer
	}{{"params.bin", t.Model.Params}, {"adam_m.bin", t.m}, {"adam_v.bin", t.v}} {
		if err := readFloats(filepath.Join(dir, f.name), host, st.SHA256[f.name]); err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		t.be.Upload(f.buf, host)
	}
	t.step, t.lossMean, t.lossVar, t.seen = st.Step, st.LossMean, st.LossVar, st.Seen
	for _, s := range st.Skip {
		t.skip[s] = true
	}
	return nil
}

// Resume reopens a run from its latest checkpoint. rc.Model and
// rc.Options are taken from the checkpoint except Options.Steps when
// rc.Options.Steps is larger (train further); rc.Reopen rebuilds the data
// from the saved data state.
func Resume(rc RunConfig) (*Trainer, error) {
	dir, err := LatestCheckpoint(rc.Dir)
	if err != nil {
		return nil, err
	}
	st, err := ReadCheckpointState(dir)
	if err != nil {
		return nil, err
	}
	steps := rc.Options.Steps
	next := rc.Lineage
	rc.Model, rc.Options, rc.Lineage = st.Model, st.Options, st.Lineage
	if next.MixtureHash != "" && next.MixtureHash != st.Lineage.MixtureHash {
		// A remix: the run continues under a new mixture; the old one is
		// kept in the lineage with the step it ended at.
		prev := st.Lineage
		next.Remixes = append(append([]Remix(nil), prev.Remixes...),
			Remix{Step: st.Step, MixtureFile: prev.MixtureFile, MixtureHash: prev.MixtureHash, Shards: prev.Shards})
		rc.Lineage = next
	}
	if steps > rc.Options.Steps {
		rc.Options.Steps = steps
	}
	if rc.Reopen == nil {
		return nil, fmt.Errorf("resume %s: no way to reopen the data", dir)
	}
	if rc.Data, err = rc.Reopen(st.Data); err != nil {
		return nil, fmt.Errorf("resume %s: data: %w", dir, err)
	}
	// Keep the metrics of steps up to the checkpoint only.
	mpath := filepath.Join(rc.Dir, "metrics.jsonl")
	old, _ := os.ReadFile(mpath)
	t, err := New(rc)
	if err != nil {
		return nil, err
	}
	if err := t.load(dir, st); err != nil {
		return nil, err
	}
	for _, line := range bytes.Split(old, []byte("\n")) {
		var m struct{ Step int }
		if len(line) == 0 || json.Unmarshal(line, &m) != nil || m.Step > st.Step {
			continue
		}
		t.metrics.Write(append(line, '\n'))
	}
	fmt.Fprintf(t.log, "resumed from %s (step %d)\n", dir, st.Step)
	return t, nil
}

// rollback reloads the latest checkpoint and marks spikeStep's batches to
// be consumed without an update when they come round again.
func (t *Trainer) rollback(spikeStep int) error {
	dir, err := LatestCheckpoint(t.dir)
	if err != nil {
		return fmt.Errorf("rollback at step %d: %w", spikeStep, err)
	}
	st, err := ReadCheckpointState(dir)
	if err != nil {
		return err
	}
	if t.reopen == nil {
		return fmt.Errorf("rollback at step %d: data cannot be reopened", spikeStep)
	}
	d, err := t.reopen(st.Data)
	if err != nil {
		return fmt.Errorf("rollback at step %d: %w", spikeStep, err)
	}
	if err := t.load(dir, st); err != nil {
		return err
	}
	if c, ok := t.data.(io.Closer); ok {
		c.Close()
	}
	t.data = d
	t.skip[spikeStep] = true
	return nil
}

// Evaluate returns the mean masked loss of each source's held-out batches.
func (t *Trainer) Evaluate() (map[string]float64, error) {
	out := map[string]float64{}
	for _, src := range sortedKeys(t.evals) {
		var sum, n float64
		for _, in := range t.evals[src] {
			l, err := t.Model.Forward(in, 0)
			if err != nil {
				return nil, fmt.Errorf("eval %s: %w", src, err)
			}
			for i, v := range l {
				if in.LossMask[i] != 0 {
					sum += float64(v)
					n++
				}
			}
		}
		if n > 0 {
			out[src] = sum / n
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// Sample is one vibe-test generation.
type Sample struct {
	Step   int    `json:"step"`
	Prompt string `json:"prompt"`
	Mode   string `json:"mode"` // greedy or sampled
	Text   string `json:"text"`
}

// Generate continues prompt by n tokens, greedily (temperature 0) or by
// sampling from r. The context is one fixed-length row, so every token
// reuses the same activations; causal masking makes the padding after the
// cursor irrelevant.
func (t *Trainer) Generate(prompt []int32, n int, temperature float64, r *rand.Rand) ([]int32, error) {
	m := t.Model
	T := min(len(prompt)+n, m.Cfg.MaxSeq)
	if len(prompt) == 0 || len(prompt) >= T {
		return nil, fmt.Errorf("generate: prompt of %d tokens does not fit a context of %d", len(prompt), T)
	}
	toks := make([]int32, T)
	pos := make([]int32, T)
	for i := range pos {
		pos[i] = int32(i)
	}
	copy(toks, prompt)
	logits := make([]float32, m.Cfg.Vocab)
	cur := len(prompt)
	for ; cur < T; cur++ {
		if _, err := m.Forward(Input{B: 1, T: T, Tokens: toks, Positions: pos}, 0); err != nil {
			return nil, err
		}
		m.Logits(0, cur-1, logits)
		toks[cur] = pick(logits, temperature, r)
	}
	return toks[len(prompt):], nil
}

func pick(logits []float32, temperature float64, r *rand.Rand) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if temperature <= 0 || r == nil {
		return int32(best)
	}
	var sum float64
	p := make([]float64, len(logits))
	for i, v := range logits {
		p[i] = math.Exp(float64(v-logits[best]) / temperature)
		sum += p[i]
	}
	u := r.Float64() * sum
	for i, v := range p {
		u -= v
		if u <= 0 {
			return int32(i)
		}
	}
	return int32(best)
}

// writeSamples generates greedy and sampled continuations of every prompt,
// prints them and writes samples/step-NNNNNNN.jsonl.
func (t *Trainer) writeSamples() error {
	if t.tok == nil || len(t.Opt.Prompts) == 0 || t.Opt.SampleTokens <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(t.Opt.Seed, uint64(t.step)))
	var buf bytes.Buffer
	for _, p := range t.Opt.Prompts {
		ids := t.tok.Encode(p)
		if len(ids) == 0 {
			continue
		}
		for _, mode := range []string{"greedy", "sampled"} {
			temp := 0.0
			if mode == "sampled" {
				temp = t.Opt.Temperature
			}
			out, err := t.Generate(ids, t.Opt.SampleTokens, temp, r)
			if err != nil {
				return fmt.Errorf("sample at step %d: %w", t.step, err)
			}
			s := Sample{Step: t.step, Prompt: p, Mode: mode, Text: t.tok.Decode(out)}
			fmt.Fprintf(t.log, "  sample %-7s %q -> %q\n", mode, p, s.Text)
			js, _ := json.Marshal(s)
			buf.Write(append(js, '\n'))
		}
	}
	return writeAtomic(filepath.Join(t.dir, "samples", ckptName(t.step)+".jsonl"), buf.Bytes())
}

// ByteTokenizer maps bytes to ids 0..255: the fallback for runs on raw text
// when no trained tokenizer is at hand.
type ByteTokenizer struct{}

// Encode implements Tokenizer.
func (ByteTokenizer) Encode(s string) []int32 {
	ids := make([]int32, len(s))
	for i := 0; i < len(s); i++ {
		ids[i] = int32(s[i])
	}
	return ids
}

// Decode implements Tokenizer.
func (ByteTokenizer) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}
