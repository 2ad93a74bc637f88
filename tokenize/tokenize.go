// Package tokenize loads and trains byte-level BPE tokenizers compatible with
// Hugging Face tokenizer.json, and writes and reads Kiln's packed,
// document-aware token shards.
package tokenize

import "github.com/kilnlm/kiln/pipeline"

// Register adds the tokenizer output step to r.
func Register(r *pipeline.Registry) {}
