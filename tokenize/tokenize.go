// Package tokenize loads and trains byte-level BPE tokenizers compatible with
// Hugging Face tokenizer.json, encodes text to exactly the ids Hugging Face
// tokenizers produces (hand-written scanners stand in for the pre-tokenizer
// regexes RE2 cannot express), and provides the "tokenize" pipeline output
// that packs documents into Kiln's document-aware token shards
// (subpackage shard).
package tokenize
