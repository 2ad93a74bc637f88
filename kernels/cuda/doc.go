// Package cuda is Kiln's GPU backend: it loads the CUDA driver, NVRTC and
// cuBLASLt at run time with dlopen (so Kiln builds and runs without CUDA
// installed), compiles the CUDA C kernels embedded in the binary for the GPU
// in hand, caches the cubin on disk, and runs the trainer's kernels
// (embedding, RMSNorm, RoPE, SwiGLU, fused cross-entropy, AdamW, varlen
// causal attention with document masking) and its bf16 matmuls.
//
// Without a GPU every entry point returns an error wrapping ErrNoDriver.
// See docs/gpu.md for the design and docs/perf/gpu.md for measurements.
package cuda
