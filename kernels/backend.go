package kernels

// Backend is the compute device the trainer runs on. The model code in
// package trainer only ever talks to a Backend, so a CUDA implementation
// (kernels/cuda) slots in without touching it, and checkpoints move between
// backends because parameters are always downloaded as plain float32.
//
// Conventions, shared by every op (llm.c style):
//
//   - Tensors are row-major. N is the number of token positions in a
//     micro-batch (N = B*T), C the model width, V the vocabulary, H the
//     query heads, KV the key/value heads, D the head dimension, F the
//     SwiGLU hidden width.
//   - Float buffers come from Alloc, int32 buffers from AllocInt32; View
//     gives a sub-range that shares memory (parameters, gradients and
//     activations are each one allocation, carved into views).
//   - "out" is overwritten; "+=" means the op accumulates into it (gradients
//     of shared tensors: the residual stream, tied embeddings).
//   - Every op is deterministic: the same inputs give the same bits, for any
//     number of CPU threads or GPU blocks (reductions run in a fixed order).
//   - Ops are asynchronous on devices that queue work; Download, SumSquares
//     and Sync wait for queued work.
//
// Additions to this interface are allowed; changes are not (the CUDA backend
// implements it in parallel).
type Backend interface {
	// Name is "cpu" or "cuda".
	Name() string
	// Threads is the degree of parallelism (CPU cores used; 0 if not CPU).
	Threads() int

	// Alloc returns a zeroed float32 buffer of n elements.
	Alloc(n int) Buffer
	// AllocInt32 returns a zeroed int32 buffer of n elements.
	AllocInt32(n int) Buffer
	// View returns elements [off, off+n) of b, sharing its memory.
	View(b Buffer, off, n int) Buffer
	// Free releases a buffer from Alloc or AllocInt32 (not a View).
	Free(b Buffer)
	// Upload copies len(src) floats into dst[0:len(src)].
	Upload(dst Buffer, src []float32)
	// UploadInt32 copies len(src) int32s into dst[0:len(src)].
	UploadInt32(dst Buffer, src []int32)
	// Download copies src[0:len(dst)] into dst, waiting for queued work.
	Download(dst []float32, src Buffer)
	// Sync waits for all queued work and reports a device error, if any.
	Sync() error

	// Zero sets x to 0.
	Zero(x Buffer)
	// Copy: dst = src (same length).
	Copy(dst, src Buffer)
	// Add: dst += src (same length). The residual connection.
	Add(dst, src Buffer)
	// Scale: x *= s.
	Scale(x Buffer, s float32)
	// SumSquares returns sum(x^2) in float64, reduced in a fixed order. It
	// is NaN or Inf when x holds a NaN or Inf (the health check uses that).
	SumSquares(x Buffer) float64

	// Matmul computes out[M,N] (+)= op(a)[M,K] @ op(b)[K,N].
	//   a is [M,K] row-major, or [K,M] when transA (op(a) = a^T).
	//   b is [K,N] row-major, or [N,K] when transB (op(b) = b^T).
	//   accumulate adds into out instead of overwriting it.
	// A linear layer y = x W^T with W [OC,C] is Matmul(y, x, W, N, OC, C,
	// false, true, false); its backward is dx += dy W (false,false,true)
	// and dW += dy^T x (true,false,true).
	Matmul(out, a, b Buffer, M, N, K int, transA, transB, accumulate bool)

	// Embedding: out[N,C] = table[tokens[n], :]. tokens is int32 [N],
	// table [V,C].
	Embedding(out, tokens, table Buffer, N, C int)
	// EmbeddingBackward: dtable[tokens[n], :] += dout[n, :] for every n, in
	// increasing n (deterministic).
	EmbeddingBackward(dtable, tokens, dout Buffer, N, C int)

	// RMSNorm: out[N,C] = x / sqrt(mean(x^2) + eps) * w, w [C]; rstd[N]
	// receives 1/sqrt(mean(x^2)+eps) for the backward pass.
	RMSNorm(out, rstd, x, w Buffer, N, C int, eps float32)
	// RMSNormBackward: dx[N,C] += d/dx, dw[C] += d/dw, given dout[N,C], x,
	// w and rstd from the forward pass.
	RMSNormBackward(dx, dw, dout, x, w, rstd Buffer, N, C int)

	// RoPE rotates x[N,H,D] in place by angle pos[n] * base^(-2i/D) on the
	// pairs (i, i+D/2), i < D/2 (the "rotate_half" layout Hugging Face Llama
	// uses). pos is int32 [N] and restarts at 0 at every document. Layers
	// without position encoding (NoPE) simply do not call it.
	RoPE(x, pos Buffer, N, H, D int, base float32)
	// RoPEBackward applies the inverse rotation to dx[N,H,D] in place
	// (the gradient of a rotation is the opposite rotation).
	RoPEBackward(dx, pos Buffer, N, H, D int, base float32)

	// SwiGLU: out[N,F] = silu(gate) * up, gate and up [N,F].
	SwiGLU(out, gate, up Buffer, N, F int)
	// SwiGLUBackward: dgate[N,F], dup[N,F] (overwritten) from dout[N,F].
	SwiGLUBackward(dgate, dup, dout, gate, up Buffer, N, F int)

	// Attention is causal grouped-query attention over B packed rows of T
	// tokens with document masking: query t of a row attends to key s iff
	// s <= t and s >= t - pos[t] (pos restarts at 0 at each document start,
	// so t - pos[t] is where the query's document begins; a document cut
	// at the row start is clamped to 0). q [N,H,D], k and v [N,KV,D] with
	// H % KV == 0 (query head h reads KV head h / (H/KV)); out [N,H,D];
	// lse [N,H] receives the log-sum-exp of the scaled scores for the
	// backward pass. Scores are scaled by 1/sqrt(D). N = B*T.
	Attention(out, lse, q, k, v, pos Buffer, B, T, H, KV, D int)
	// AttentionBackward: dq [N,H,D], dk and dv [N,KV,D] (overwritten) from
	// dout [N,H,D] and the forward's q, k, v, out, lse.
	AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, pos Buffer, B, T, H, KV, D int)

	// CrossEntropy: losses[N] = -log softmax(logits[n,:])[targets[n]] for
	// logits [N,V], targets int32 [N]. When dlogits is non-nil it receives
	// (softmax - onehot) * mask[n] * gradScale ([N,V]; it may be the same
	// buffer as logits, which is then overwritten). mask is float [N]
	// (1 = counts in the loss, 0 = cross-document or padding); losses are
	// written unmasked so callers can also average per source.
	CrossEntropy(losses, dlogits, logits, targets, mask Buffer, N, V int, gradScale float32)

	// AdamW updates param, m and v (all [n]) in place from grad [n]:
	//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
	//   p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p)
	// with mhat = m/(1-b1^t), vhat = v/(1-b2^t); t is the 1-based step.
	// gradScale multiplies g first (gradient clipping / accumulation).
	AdamW(param, grad, m, v Buffer, lr, b1, b2, eps, wd, gradScale float32, t int)
}

// Buffer is an opaque range of device memory: float32 or int32 elements.
type Buffer interface {
	// Len is the number of elements.
	Len() int
}
