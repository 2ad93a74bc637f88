// Package trainer trains SmolLM3-style decoder-only language models on
// batches from the mixer, with checkpoints, evaluation, vibe samples and
// health checks, over a pluggable compute backend.
package trainer
