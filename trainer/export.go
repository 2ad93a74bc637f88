package trainer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Export writes a checkpoint as a Hugging Face model directory:
// model.safetensors (F32, Hugging Face Llama tensor names, the tied
// embedding stored once as model.embed_tokens.weight), config.json
// (SmolLM3ForCausalLM when the model has NoPE layers, else
// LlamaForCausalLM) and, when tokenizerPath is set, a copy of
// tokenizer.json.
func Export(ckptDir, outDir, tokenizerPath string) error {
	st, err := ReadCheckpointState(ckptDir)
	if err != nil {
		return err
	}
	params, err := LoadParams(ckptDir, st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := writeSafetensors(filepath.Join(outDir, "model.safetensors"), st.Tensors, params,
		map[string]string{"format": "pt", "kiln_step": fmt.Sprint(st.Step)}); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(HFConfig(st.Model), "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(outDir, "config.json"), cfg); err != nil {
		return err
	}
	if tokenizerPath != "" {
		b, err := os.ReadFile(tokenizerPath)
		if err != nil {
			return fmt.Errorf("export: tokenizer: %w", err)
		}
		if err := writeAtomic(filepath.Join(outDir, "tokenizer.json"), b); err != nil {
			return err
		}
	}
	return nil
}

// HFConfig is the transformers config.json for cfg.
func HFConfig(c Config) map[string]any {
	m := map[string]any{
		"vocab_size": c.Vocab, "hidden_size": c.Dim, "intermediate_size": c.FFN,
		"num_hidden_layers": c.Layers, "num_attention_heads": c.Heads, "num_key_value_heads": c.KVHeads,
		"head_dim": c.HeadDim(), "hidden_act": "silu", "max_position_embeddings": c.MaxSeq,
		"rms_norm_eps": c.NormEps, "rope_theta": c.RopeBase, "tie_word_embeddings": true,
		"attention_bias": false, "mlp_bias": false, "torch_dtype": "float32", "initializer_range": c.InitStd,
	}
	if c.NoPEEvery > 0 {
		m["architectures"] = []string{"SmolLM3ForCausalLM"}
		m["model_type"] = "smollm3"
		m["no_rope_layer_interval"] = c.NoPEEvery
		layers := make([]int, c.Layers) // 1 = this layer uses RoPE
		for l := range layers {
			if c.UsesRoPE(l) {
				layers[l] = 1
			}
		}
		m["no_rope_layers"] = layers
	} else {
		m["architectures"] = []string{"LlamaForCausalLM"}
		m["model_type"] = "llama"
	}
	return m
}

// writeSafetensors writes the safetensors layout: an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte
// range in the data section (padded with spaces to 8 bytes), then the data.
func writeSafetensors(path string, tensors []TensorInfo, params []float32, meta map[string]string) error {
	header := map[string]any{"__metadata__": meta}
	off := 0
	for _, t := range tensors {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		header[t.Name] = map[string]any{"dtype": "F32", "shape": t.Shape, "data_offsets": []int{off, off + 4*n}}
		off += 4 * n
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(len(h)))
	w.Write(b[:])
	w.Write(h)
	for _, t := range tensors {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		for _, v := range params[t.Offset : t.Offset+n] {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(v))
			w.Write(b[:4])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
