// Package kernels holds the numeric kernels of the trainer: matmul,
// attention, RMSNorm, RoPE, SwiGLU, cross-entropy and AdamW, on CPU, and the
// backend interface a CUDA implementation plugs into.
package kernels
