package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Config is a SmolLM3-family decoder-only transformer: tied embeddings,
// RMSNorm pre-norm, grouped-query attention, RoPE with NoPE on every k-th
// layer, SwiGLU MLP, no biases.
type Config struct {
	Name     string  `json:"name"`
	Vocab    int     `json:"vocab_size"`
	Dim      int     `json:"hidden_size"`
	Layers   int     `json:"num_hidden_layers"`
	Heads    int     `json:"num_attention_heads"`
	KVHeads  int     `json:"num_key_value_heads"`
	FFN      int     `json:"intermediate_size"`
	RopeBase float32 `json:"rope_theta"`
	// NoPEEvery: layer i (0-based) skips RoPE when (i+1) % NoPEEvery == 0,
	// SmolLM3's "every 4th layer" (0 = RoPE everywhere).
	NoPEEvery int     `json:"nope_every"`
	MaxSeq    int     `json:"max_position_embeddings"`
	NormEps   float32 `json:"rms_norm_eps"`
	InitStd   float32 `json:"initializer_range"`
}

// HeadDim is Dim / Heads.
func (c Config) HeadDim() int { return c.Dim / c.Heads }

// UsesRoPE reports whether layer l applies rotary embeddings.
func (c Config) UsesRoPE(l int) bool { return c.NoPEEvery <= 0 || (l+1)%c.NoPEEvery != 0 }

// Validate checks the shape constraints the kernels rely on.
func (c Config) Validate() error {
	switch {
	case c.Vocab <= 0 || c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.FFN <= 0:
		return fmt.Errorf("config %q: vocab, dim, layers, heads, kv heads and ffn must be positive", c.Name)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("config %q: hidden_size %d not divisible by %d heads", c.Name, c.Dim, c.Heads)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("config %q: %d heads not divisible by %d kv heads", c.Name, c.Heads, c.KVHeads)
	case c.HeadDim()%2 != 0:
		return fmt.Errorf("config %q: head dim %d must be even for RoPE", c.Name, c.HeadDim())
	case c.RopeBase <= 0:
		return fmt.Errorf("config %q: rope_theta must be positive", c.Name)
	}
	return nil
}

// NumParams is the number of parameters (the tied embedding counted once).
func (c Config) NumParams() int64 {
	var n int64
	for _, t := range c.tensors() {
		n += int64(t.Size())
	}
	return n
}

// FlopsPerToken is the training FLOPs per token (forward + backward): 6 per
// parameter used in a matmul (the tied embedding as the output layer) plus
// causal attention, 6*L*T*H*D for sequence length T.
func (c Config) FlopsPerToken(T int) float64 {
	matmul := c.NumParams() - int64(c.Layers*2*c.Dim+c.Dim) // norms are not matmuls
	return 6*float64(matmul) + 6*float64(c.Layers*T*c.Heads*c.HeadDim())
}

// Presets are the named model shapes. Vocabulary defaults follow the
// tokenizer each family uses; `--vocab` overrides it for other tokenizers.
func Presets() map[string]Config {
	return map[string]Config{
		// tiny: the demo, a few seconds a step on 2 cores.
		"tiny": {Name: "tiny", Vocab: 49152, Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 192,
			RopeBase: 10000, NoPEEvery: 4, MaxSeq: 2048, NormEps: 1e-5, InitStd: 0.02},
		// small-16m: the CPU benchmark, matched to llm.c's GPT-2 L4 C256
		// V50257 (SwiGLU width 688 gives the same MLP parameters as 4C GELU).
		"small-16m": {Name: "small-16m", Vocab: 50257, Dim: 256, Layers: 4, Heads: 4, KVHeads: 4, FFN: 688,
			RopeBase: 10000, NoPEEvery: 4, MaxSeq: 1024, NormEps: 1e-5, InitStd: 0.02},
		"smollm2-135m": {Name: "smollm2-135m", Vocab: 49152, Dim: 576, Layers: 30, Heads: 9, KVHeads: 3, FFN: 1536,
			RopeBase: 100000, NoPEEvery: 0, MaxSeq: 8192, NormEps: 1e-5, InitStd: 0.041666668},
		// gpt2-124m: GPT-2 small's width and depth with Llama blocks, for
		// comparison with llm.c's GPU trainer.
		"gpt2-124m": {Name: "gpt2-124m", Vocab: 50257, Dim: 768, Layers: 12, Heads: 12, KVHeads: 12, FFN: 2048,
			RopeBase: 10000, NoPEEvery: 0, MaxSeq: 1024, NormEps: 1e-5, InitStd: 0.02},
		"smollm3-3b": {Name: "smollm3-3b", Vocab: 128256, Dim: 2048, Layers: 36, Heads: 16, KVHeads: 4, FFN: 11008,
			RopeBase: 50000, NoPEEvery: 4, MaxSeq: 65536, NormEps: 1e-6, InitStd: 0.02},
	}
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	var n []string
	for k := range Presets() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LoadConfig resolves a preset name or reads a JSON config file.
func LoadConfig(nameOrPath string) (Config, error) {
	if c, ok := Presets()[nameOrPath]; ok {
		return c, nil
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return Config{}, fmt.Errorf("model config %q is neither a preset %v nor a readable file: %w", nameOrPath, PresetNames(), err)
	}
	return ParseConfig(data, nameOrPath)
}

// ParseConfig reads a JSON model config (Hugging Face field names; unset
// fields take Llama defaults) and validates it; file names errors.
func ParseConfig(data []byte, file string) (Config, error) {
	c := Config{RopeBase: 10000, NormEps: 1e-5, InitStd: 0.02, MaxSeq: 2048}
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("model config %s: %w", file, err)
	}
	if c.Name == "" {
		c.Name = file
	}
	if c.MaxSeq <= 0 || c.NormEps <= 0 || c.NoPEEvery < 0 {
		return Config{}, fmt.Errorf("model config %s: max_position_embeddings, rms_norm_eps must be positive and nope_every >= 0", file)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("model config %s: %w", file, err)
	}
	return c, nil
}

// tensorSpec is one parameter tensor in the flat parameter buffer.
type tensorSpec struct {
	Name  string // Hugging Face Llama name
	Shape []int
	Off   int
	Decay bool // weight decay applies (matrices, not embeddings or norms)
	Norm  bool // initialised to 1
	Out   bool // output projection: init scaled by 1/sqrt(2L)
}

// Size is the element count.
func (t tensorSpec) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// tensors lays out every parameter in one flat buffer, in a fixed order.
func (c Config) tensors() []tensorSpec {
	var ts []tensorSpec
	off := 0
	add := func(name string, decay, norm, out bool, shape ...int) {
		t := tensorSpec{Name: name, Shape: shape, Off: off, Decay: decay, Norm: norm, Out: out}
		off += t.Size()
		ts = append(ts, t)
	}
	D := c.HeadDim()
	add("model.embed_tokens.weight", false, false, false, c.Vocab, c.Dim)
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", false, true, false, c.Dim)
		add(p+"self_attn.q_proj.weight", true, false, false, c.Heads*D, c.Dim)
		add(p+"self_attn.k_proj.weight", true, false, false, c.KVHeads*D, c.Dim)
		add(p+"self_attn.v_proj.weight", true, false, false, c.KVHeads*D, c.Dim)
		add(p+"self_attn.o_proj.weight", true, false, true, c.Dim, c.Heads*D)
		add(p+"post_attention_layernorm.weight", false, true, false, c.Dim)
		add(p+"mlp.gate_proj.weight", true, false, false, c.FFN, c.Dim)
		add(p+"mlp.up_proj.weight", true, false, false, c.FFN, c.Dim)
		add(p+"mlp.down_proj.weight", true, false, true, c.Dim, c.FFN)
	}
	add("model.norm.weight", false, true, false, c.Dim)
	return ts
}
