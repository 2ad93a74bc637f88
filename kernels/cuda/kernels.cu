// Kiln's CUDA kernels. This file is embedded in the kiln binary and compiled
// at run time with NVRTC for the GPU in hand (sm_90a on Hopper); it includes
// no headers so that NVRTC needs none. Conventions:
//   - activations and master weights are fp32; matmul operands are bf16
//     (stored as unsigned short, round-to-nearest-even), produced by the
//     kernels that feed a matmul;
//   - a token-major matrix [N, W] has row stride ld (elements), so a head or a
//     fused q|k|v block is addressed as base + row*ld + head*D + d;
//   - documents in a packed batch are given per token by seg_start (index of
//     the first token of its document) and seg_end (one past its last).

typedef unsigned short bf16;
typedef long long i64;

#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float bf2f(bf16 x) { return __uint_as_float(((unsigned)x) << 16); }
__device__ __forceinline__ bf16 f2bf(float f) {
	unsigned u = __float_as_uint(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)0x7fc0; // NaN stays NaN
	u += 0x7fffu + ((u >> 16) & 1u);
	return (bf16)(u >> 16);
}

__device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

// block_sum reduces over a block of up to 1024 threads; every thread gets it.
__device__ float block_sum(float v, float* sh) {
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0) sh[w] = v;
	__syncthreads();
	float t = 0.f;
	for (int k = 0; k < nw; k++) t += sh[k]; // fixed order: deterministic
	return t;
}

// ---------------------------------------------------------------- casts

extern "C" __global__ void k_f32_to_bf16(const float* __restrict__ in, bf16* __restrict__ out, i64 n) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
		out[i] = f2bf(in[i]);
}

extern "C" __global__ void k_bf16_to_f32(const bf16* __restrict__ in, float* __restrict__ out, i64 n) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
		out[i] = bf2f(in[i]);
}

// k_add: y += x.
extern "C" __global__ void k_add(float* __restrict__ y, const float* __restrict__ x, i64 n) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
		y[i] += x[i];
}

// k_sumsq writes one partial sum of squares per block (fixed grid: the
// host adds the partials in order, so the result is deterministic).
extern "C" __global__ void k_sumsq(const float* __restrict__ x, i64 n, float* __restrict__ part) {
	__shared__ float sh[32];
	float s = 0.f;
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
		float v = x[i];
		s += v * v;
	}
	s = block_sum(s, sh);
	if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// ---------------------------------------------------------------- embedding

// out[t,:] = wte[ids[t],:]; out [N,C].
extern "C" __global__ void k_embed_fwd(const int* __restrict__ ids, const float* __restrict__ wte,
		float* __restrict__ out, int N, int C) {
	i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (i64)N * C) return;
	int t = (int)(i / C), c = (int)(i % C);
	out[i] = wte[(i64)ids[t] * C + c];
}

// dwte[uniq[u],:] += sum over k in [offs[u],offs[u+1]) of dout[pos[k],:].
// The host groups token positions by id (sorted), so each row is summed by
// one thread in a fixed order: deterministic and free of atomics.
extern "C" __global__ void k_embed_bwd(const int* __restrict__ uniq, const int* __restrict__ offs,
		const int* __restrict__ pos, const float* __restrict__ dout, float* __restrict__ dwte, int C) {
	int u = blockIdx.x;
	int c = blockIdx.y * blockDim.x + threadIdx.x;
	if (c >= C) return;
	float s = 0.f;
	for (int k = offs[u]; k < offs[u + 1]; k++) s += dout[(i64)pos[k] * C + c];
	dwte[(i64)uniq[u] * C + c] += s;
}

// ---------------------------------------------------------------- RMSNorm

// One warp per row: y = x * rstd * w, rstd = 1/sqrt(mean(x^2)+eps).
// Writes y (fp32) and/or yb (bf16) when non-null, and rstd for backward.
extern "C" __global__ void k_rmsnorm_fwd(const float* __restrict__ x, const float* __restrict__ w,
		float* __restrict__ y, bf16* __restrict__ yb, float* __restrict__ rstd, int N, int C, float eps) {
	int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	int lane = threadIdx.x & 31;
	if (row >= N) return;
	const float* xr = x + (i64)row * C;
	float ss = 0.f;
	for (int c = lane; c < C; c += 32) {
		float v = xr[c];
		ss += v * v;
	}
	ss = warp_sum(ss);
	float r = 1.0f / sqrtf(ss / (float)C + eps);
	if (lane == 0 && rstd) rstd[row] = r;
	for (int c = lane; c < C; c += 32) {
		float v = xr[c] * r * w[c];
		if (y) y[(i64)row * C + c] = v;
		if (yb) yb[(i64)row * C + c] = f2bf(v);
	}
}

// dx += rstd*w*dy - x * rstd^3/C * sum(dy*w*x). One warp per row.
extern "C" __global__ void k_rmsnorm_bwd(const float* __restrict__ x, const float* __restrict__ w,
		const float* __restrict__ rstd, const float* __restrict__ dy, float* __restrict__ dx, int N, int C) {
	int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	int lane = threadIdx.x & 31;
	if (row >= N) return;
	const float* xr = x + (i64)row * C;
	const float* dyr = dy + (i64)row * C;
	float s = 0.f;
	for (int c = lane; c < C; c += 32) s += dyr[c] * w[c] * xr[c];
	s = warp_sum(s);
	float r = rstd[row];
	float k = s * r * r * r / (float)C;
	float* dxr = dx + (i64)row * C;
	for (int c = lane; c < C; c += 32) dxr[c] += r * w[c] * dyr[c] - xr[c] * k;
}

// Partial dw sums: part[blockIdx.y, c] = sum over rows of a chunk of
// dy*x*rstd; block (32,8).
extern "C" __global__ void k_rmsnorm_dw(const float* __restrict__ x, const float* __restrict__ rstd,
		const float* __restrict__ dy, float* __restrict__ part, int N, int C, int rowsPer) {
	__shared__ float sh[8][33];
	int c = blockIdx.x * 32 + threadIdx.x;
	int r0 = blockIdx.y * rowsPer;
	int r1 = min(N, r0 + rowsPer);
	float s = 0.f;
	if (c < C)
		for (int r = r0 + threadIdx.y; r < r1; r += 8) s += dy[(i64)r * C + c] * x[(i64)r * C + c] * rstd[r];
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y == 0 && c < C) {
		float t = 0.f;
		for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
		part[(i64)blockIdx.y * C + c] = t;
	}
}

// out[c] += sum over rows r of part[r,c], in row order.
extern "C" __global__ void k_colsum_acc(const float* __restrict__ part, int rows, int C, float* __restrict__ out) {
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C) return;
	float s = 0.f;
	for (int r = 0; r < rows; r++) s += part[(i64)r * C + c];
	out[c] += s;
}

// ---------------------------------------------------------------- RoPE

// Rotates heads [0,H) of x (row stride ld, head dim D) in place by
// pos[t]*theta^(-2j/D). interleaved=0 pairs (j, j+D/2) (Llama/SmolLM
// rotate_half); interleaved=1 pairs (2j, 2j+1). inverse=1 rotates back,
// which is the backward pass of the rotation.
extern "C" __global__ void k_rope(float* __restrict__ x, const int* __restrict__ pos, int N, int H, int D,
		int ld, float theta, int inverse, int interleaved) {
	int half = D / 2;
	i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (i64)N * H * half) return;
	int j = (int)(i % half);
	i64 th = i / half;
	int h = (int)(th % H);
	int t = (int)(th / H);
	double inv = pow((double)theta, -2.0 * (double)j / (double)D);
	float ang = (float)((double)pos[t] * inv);
	float sn, cs;
	sincosf(ang, &sn, &cs);
	if (inverse) sn = -sn;
	float* p = x + (i64)t * ld + (i64)h * D;
	int a = interleaved ? 2 * j : j;
	int b = interleaved ? 2 * j + 1 : j + half;
	float x0 = p[a], x1 = p[b];
	p[a] = x0 * cs - x1 * sn;
	p[b] = x0 * sn + x1 * cs;
}

// ---------------------------------------------------------------- SwiGLU

// h = silu(g) * u, g and u token-major with row stride ld (so a fused
// [N, 2F] gate|up matmul output passes u = g + F, ld = 2F). Writes h (fp32)
// and/or hb (bf16), each [N, F], when non-null.
extern "C" __global__ void k_swiglu_fwd(const float* __restrict__ g, const float* __restrict__ u, int ld,
		float* __restrict__ h, bf16* __restrict__ hb, int N, int F) {
	i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (i64)N * F) return;
	int t = (int)(i / F), f = (int)(i % F);
	float gv = g[(i64)t * ld + f], uv = u[(i64)t * ld + f];
	float v = gv / (1.0f + expf(-gv)) * uv;
	if (h) h[i] = v;
	if (hb) hb[i] = f2bf(v);
}

// dg = dh*u*silu'(g), du = dh*silu(g), written in the same strided layout
// as g/u, as fp32 (dg/du) and/or bf16 (dgb/dub) when non-null.
extern "C" __global__ void k_swiglu_bwd(const float* __restrict__ g, const float* __restrict__ u, int ld,
		const float* __restrict__ dh, float* __restrict__ dg, float* __restrict__ du,
		bf16* __restrict__ dgb, bf16* __restrict__ dub, int N, int F) {
	i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (i64)N * F) return;
	int t = (int)(i / F), f = (int)(i % F);
	i64 o = (i64)t * ld + f;
	float gv = g[o], uv = u[o], d = dh[i];
	float s = 1.0f / (1.0f + expf(-gv));
	float silu = gv * s;
	float vg = d * uv * s * (1.0f + gv * (1.0f - s));
	float vu = d * silu;
	if (dg) dg[o] = vg;
	if (du) du[o] = vu;
	if (dgb) dgb[o] = f2bf(vg);
	if (dub) dub[o] = f2bf(vu);
}

// ---------------------------------------------------------------- cross-entropy

// One block per row of bf16 logits [N,V]: loss[row] = logsumexp - logit[target]
// (0 where target < 0, the loss mask), and the row is overwritten with
// dloss/dlogits = (softmax - onehot) * scale, in bf16, ready for the
// backward matmuls. Logits are read as fp32 and reduced in fp32.
extern "C" __global__ void k_xent(bf16* __restrict__ logits, const int* __restrict__ targets,
		float* __restrict__ losses, int V, float scale) {
	__shared__ float shm[32], shs[32];
	int row = blockIdx.x;
	bf16* lr = logits + (i64)row * V;
	int tgt = targets[row];
	float m = NEG_INF, s = 0.f;
	for (int v = threadIdx.x; v < V; v += blockDim.x) {
		float x = bf2f(lr[v]);
		if (x > m) {
			s = s * expf(m - x) + 1.0f;
			m = x;
		} else {
			s += expf(x - m);
		}
	}
	// combine (m, s) across the warp, then across warps
	for (int o = 16; o > 0; o >>= 1) {
		float m2 = __shfl_xor_sync(0xffffffffu, m, o);
		float s2 = __shfl_xor_sync(0xffffffffu, s, o);
		float M = fmaxf(m, m2);
		s = (s > 0.f ? s * expf(m - M) : 0.f) + (s2 > 0.f ? s2 * expf(m2 - M) : 0.f);
		m = M;
	}
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
	if (lane == 0) {
		shm[w] = m;
		shs[w] = s;
	}
	__syncthreads();
	float M = NEG_INF;
	for (int k = 0; k < nw; k++) M = fmaxf(M, shm[k]);
	float S = 0.f;
	for (int k = 0; k < nw; k++) S += shs[k] > 0.f ? shs[k] * expf(shm[k] - M) : 0.f;
	float lse = M + logf(S);
	float tl = tgt >= 0 ? bf2f(lr[tgt]) : 0.f;
	__syncthreads(); // every thread has read lr[tgt] before it is overwritten
	if (threadIdx.x == 0) losses[row] = tgt >= 0 ? lse - tl : 0.f;
	for (int v = threadIdx.x; v < V; v += blockDim.x) {
		float gv = 0.f;
		if (tgt >= 0) gv = (expf(bf2f(lr[v]) - lse) - (v == tgt ? 1.0f : 0.0f)) * scale;
		lr[v] = f2bf(gv);
	}
}

// k_scale: x *= s.
extern "C" __global__ void k_scale(float* __restrict__ x, float s, i64 n) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
		x[i] *= s;
}

// k_xent_f32 is the Backend's cross-entropy over fp32 logits [N,V]:
// losses[row] = lse - logit[target] (unmasked), and when dlogits is
// non-null, dlogits = (softmax - onehot) * mask[row] * gscale. dlogits may
// alias logits: each row is read fully before any of it is written.
extern "C" __global__ void k_xent_f32(const float* logits, float* dlogits, const int* __restrict__ targets,
		const float* __restrict__ mask, float* __restrict__ losses, int V, float gscale) {
	__shared__ float shm[32], shs[32];
	int row = blockIdx.x;
	const float* lr = logits + (i64)row * V;
	int tgt = targets[row];
	float m = NEG_INF, s = 0.f;
	for (int v = threadIdx.x; v < V; v += blockDim.x) {
		float x = lr[v];
		if (x > m) {
			s = s * expf(m - x) + 1.0f;
			m = x;
		} else {
			s += expf(x - m);
		}
	}
	for (int o = 16; o > 0; o >>= 1) {
		float m2 = __shfl_xor_sync(0xffffffffu, m, o);
		float s2 = __shfl_xor_sync(0xffffffffu, s, o);
		float M = fmaxf(m, m2);
		s = (s > 0.f ? s * expf(m - M) : 0.f) + (s2 > 0.f ? s2 * expf(m2 - M) : 0.f);
		m = M;
	}
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
	if (lane == 0) {
		shm[w] = m;
		shs[w] = s;
	}
	__syncthreads();
	float M = NEG_INF;
	for (int k = 0; k < nw; k++) M = fmaxf(M, shm[k]);
	float S = 0.f;
	for (int k = 0; k < nw; k++) S += shs[k] > 0.f ? shs[k] * expf(shm[k] - M) : 0.f;
	float lse = M + logf(S);
	float tl = lr[tgt];
	__syncthreads(); // lr[tgt] is read by all before any write through dlogits
	if (threadIdx.x == 0) losses[row] = lse - tl;
	if (!dlogits) return;
	float g = mask[row] * gscale;
	float* dr = dlogits + (i64)row * V;
	for (int v = threadIdx.x; v < V; v += blockDim.x) {
		float p = expf(lr[v] - lse);
		dr[v] = (p - (v == tgt ? 1.0f : 0.0f)) * g;
	}
}

// Document bounds from positions, as the Backend defines them: token t of a
// row of T attends back to max(row start, t - pos[t]).
extern "C" __global__ void k_seg_start(const int* __restrict__ pos, int N, int T, int* __restrict__ ss) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= N) return;
	int t = i % T;
	ss[i] = i - t + max(0, t - pos[i]);
}

// The last token of each document writes its exclusive end into every
// token of the document.
extern "C" __global__ void k_seg_end(const int* __restrict__ ss, int N, int T, int* __restrict__ se) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= N) return;
	bool last = (i + 1) % T == 0 || i + 1 == N || ss[i + 1] != ss[i];
	if (!last) return;
	for (int j = ss[i]; j <= i; j++) se[j] = i + 1;
}

// ---------------------------------------------------------------- AdamW

// Decoupled weight decay (Loshchilov & Hutter, as torch.optim.AdamW):
// p -= lr * (mhat/(sqrt(vhat)+eps) + wd*p). g is scaled by gscale (gradient
// clipping) first; bc1/bc2 are 1-beta^t. pb, when non-null, receives the
// bf16 copy of the new weights that the matmuls read.
extern "C" __global__ void k_adamw(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
		float* __restrict__ v, bf16* __restrict__ pb, i64 n, float lr, float b1, float b2, float eps,
		float wd, float bc1, float bc2, float gscale) {
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
		float gi = g[i] * gscale;
		float mi = b1 * m[i] + (1.0f - b1) * gi;
		float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		float pi = p[i];
		pi -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * pi);
		p[i] = pi;
		if (pb) pb[i] = f2bf(pi);
	}
}

// ---------------------------------------------------------------- attention

// Causal attention with document masking over a packed token stream, GQA
// (query head h reads kv head h/(Hq/Hkv)). Query i attends keys j with
// seg_start[i] <= j <= i. Flash-style: one thread owns one query row and
// streams key/value tiles through shared memory with an online softmax, so
// no N x N matrix is ever stored. fp32 arithmetic throughout.
#define ATT_BR 64
#define ATT_BC 64
#define ATT_G 8

template <int D>
__device__ __forceinline__ void attn_fwd(const float* __restrict__ q, const float* __restrict__ k,
		const float* __restrict__ v, float* __restrict__ o, bf16* __restrict__ ob, float* __restrict__ lse,
		const int* __restrict__ seg_start, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ float ks[ATT_BC][D];
	__shared__ float vs[ATT_BC][D];
	int h = blockIdx.y;
	int g = h / (Hq / Hkv);
	int q0 = blockIdx.x * ATT_BR;
	int i = q0 + threadIdx.x;
	bool valid = i < N;
	float qr[D], acc[D];
	int ss = valid ? seg_start[i] : 0;
#pragma unroll
	for (int d = 0; d < D; d++) {
		qr[d] = valid ? q[(i64)i * ldq + (i64)h * D + d] * scale : 0.f;
		acc[d] = 0.f;
	}
	float m = NEG_INF, l = 0.f;
	int kbeg = seg_start[q0]; // seg_start never decreases along the stream
	int kend = min(N, q0 + ATT_BR);
	for (int k0 = kbeg; k0 < kend; k0 += ATT_BC) {
		__syncthreads();
		for (int e = threadIdx.x; e < ATT_BC * D; e += blockDim.x) {
			int r = e / D, d = e % D, j = k0 + r;
			ks[r][d] = j < kend ? k[(i64)j * ldkv + (i64)g * D + d] : 0.f;
			vs[r][d] = j < kend ? v[(i64)j * ldkv + (i64)g * D + d] : 0.f;
		}
		__syncthreads();
		if (!valid) continue;
		int jlo = max(k0, ss), jhi = min(k0 + ATT_BC, i + 1);
		for (int j = jlo; j < jhi; j += ATT_G) {
			float s[ATT_G];
			float mt = m;
#pragma unroll
			for (int u = 0; u < ATT_G; u++) {
				int r = min(j + u - k0, ATT_BC - 1);
				float t = 0.f;
#pragma unroll
				for (int d = 0; d < D; d++) t += qr[d] * ks[r][d];
				s[u] = (j + u < jhi) ? t : NEG_INF;
				mt = fmaxf(mt, s[u]);
			}
			float c = expf(m - mt); // m = -inf on the first group: c = 0
			l *= c;
			float p[ATT_G];
#pragma unroll
			for (int u = 0; u < ATT_G; u++) {
				p[u] = (j + u < jhi) ? expf(s[u] - mt) : 0.f;
				l += p[u];
			}
#pragma unroll
			for (int d = 0; d < D; d++) {
				float a = acc[d] * c;
#pragma unroll
				for (int u = 0; u < ATT_G; u++) a += p[u] * vs[min(j + u - k0, ATT_BC - 1)][d];
				acc[d] = a;
			}
			m = mt;
		}
	}
	if (!valid) return;
	float inv = 1.0f / l;
#pragma unroll
	for (int d = 0; d < D; d++) {
		float val = acc[d] * inv;
		if (o) o[(i64)i * ldo + (i64)h * D + d] = val;
		if (ob) ob[(i64)i * ldo + (i64)h * D + d] = f2bf(val);
	}
	lse[(i64)i * Hq + h] = m + logf(l);
}

// delta[i,h] = sum_d dO[i,h,:] . O[i,h,:]
extern "C" __global__ void k_attn_delta(const float* __restrict__ o, const float* __restrict__ dout,
		float* __restrict__ delta, int N, int Hq, int D, int ldo) {
	i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	if (idx >= (i64)N * Hq) return;
	int i = (int)(idx / Hq), h = (int)(idx % Hq);
	const float* a = o + (i64)i * ldo + (i64)h * D;
	const float* b = dout + (i64)i * ldo + (i64)h * D;
	float s = 0.f;
	for (int d = 0; d < D; d++) s += a[d] * b[d];
	delta[idx] = s;
}

// dQ: one thread per query, streaming key/value tiles like the forward.
template <int D>
__device__ __forceinline__ void attn_bwd_dq(const float* __restrict__ q, const float* __restrict__ k,
		const float* __restrict__ v, const float* __restrict__ dout, const float* __restrict__ lse,
		const float* __restrict__ delta, float* __restrict__ dq, const int* __restrict__ seg_start,
		int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ float ks[ATT_BC][D];
	__shared__ float vs[ATT_BC][D];
	int h = blockIdx.y;
	int g = h / (Hq / Hkv);
	int q0 = blockIdx.x * ATT_BR;
	int i = q0 + threadIdx.x;
	bool valid = i < N;
	float qr[D], dor[D], acc[D];
	int ss = valid ? seg_start[i] : 0;
#pragma unroll
	for (int d = 0; d < D; d++) {
		qr[d] = valid ? q[(i64)i * ldq + (i64)h * D + d] * scale : 0.f;
		dor[d] = valid ? dout[(i64)i * ldo + (i64)h * D + d] : 0.f;
		acc[d] = 0.f;
	}
	float L = valid ? lse[(i64)i * Hq + h] : 0.f;
	float Dl = valid ? delta[(i64)i * Hq + h] : 0.f;
	int kbeg = seg_start[q0];
	int kend = min(N, q0 + ATT_BR);
	for (int k0 = kbeg; k0 < kend; k0 += ATT_BC) {
		__syncthreads();
		for (int e = threadIdx.x; e < ATT_BC * D; e += blockDim.x) {
			int r = e / D, d = e % D, j = k0 + r;
			ks[r][d] = j < kend ? k[(i64)j * ldkv + (i64)g * D + d] : 0.f;
			vs[r][d] = j < kend ? v[(i64)j * ldkv + (i64)g * D + d] : 0.f;
		}
		__syncthreads();
		if (!valid) continue;
		int jlo = max(k0, ss), jhi = min(k0 + ATT_BC, i + 1);
		for (int j = jlo; j < jhi; j++) {
			int r = j - k0;
			float s = 0.f, dp = 0.f;
#pragma unroll
			for (int d = 0; d < D; d++) {
				s += qr[d] * ks[r][d];
				dp += dor[d] * vs[r][d];
			}
			float ds = expf(s - L) * (dp - Dl);
#pragma unroll
			for (int d = 0; d < D; d++) acc[d] += ds * ks[r][d];
		}
	}
	if (!valid) return;
#pragma unroll
	for (int d = 0; d < D; d++) dq[(i64)i * ldq + (i64)h * D + d] = acc[d] * scale;
}

// dK, dV: one thread per key of kv head g, summing over the Hq/Hkv query
// heads that share it and over the queries of its document at or after it
// (deterministic: no atomics). The thread's own k and v rows live in padded
// shared memory; query and dO tiles stream through shared memory.
#define ATT_BQ 16
template <int D>
__device__ __forceinline__ void attn_bwd_dkv(const float* __restrict__ q, const float* __restrict__ k,
		const float* __restrict__ v, const float* __restrict__ dout, const float* __restrict__ lse,
		const float* __restrict__ delta, float* __restrict__ dk, float* __restrict__ dv,
		const int* __restrict__ seg_end, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ float kp[ATT_BR][D + 1];
	__shared__ float vp[ATT_BR][D + 1];
	__shared__ float qs[ATT_BQ][D];
	__shared__ float dos[ATT_BQ][D];
	__shared__ float ls[ATT_BQ], dls[ATT_BQ];
	int g = blockIdx.y;
	int rep = Hq / Hkv;
	int k0 = blockIdx.x * ATT_BR;
	int j = k0 + threadIdx.x;
	bool valid = j < N;
	int tid = threadIdx.x;
#pragma unroll
	for (int d = 0; d < D; d++) {
		kp[tid][d] = valid ? k[(i64)j * ldkv + (i64)g * D + d] : 0.f;
		vp[tid][d] = valid ? v[(i64)j * ldkv + (i64)g * D + d] : 0.f;
	}
	int se = valid ? seg_end[j] : 0;
	int qend = seg_end[min(N, k0 + ATT_BR) - 1]; // seg_end never decreases
	float dka[D], dva[D];
#pragma unroll
	for (int d = 0; d < D; d++) {
		dka[d] = 0.f;
		dva[d] = 0.f;
	}
	for (int hh = 0; hh < rep; hh++) {
		int h = g * rep + hh;
		for (int i0 = k0; i0 < qend; i0 += ATT_BQ) {
			__syncthreads();
			for (int e = tid; e < ATT_BQ * D; e += blockDim.x) {
				int r = e / D, d = e % D, i = i0 + r;
				qs[r][d] = i < qend ? q[(i64)i * ldq + (i64)h * D + d] * scale : 0.f;
				dos[r][d] = i < qend ? dout[(i64)i * ldo + (i64)h * D + d] : 0.f;
			}
			if (tid < ATT_BQ) {
				int i = i0 + tid;
				ls[tid] = i < qend ? lse[(i64)i * Hq + h] : 0.f;
				dls[tid] = i < qend ? delta[(i64)i * Hq + h] : 0.f;
			}
			__syncthreads();
			if (!valid) continue;
			int ilo = max(i0, j), ihi = min(i0 + ATT_BQ, se);
			for (int i = ilo; i < ihi; i++) {
				int r = i - i0;
				float s = 0.f, dp = 0.f;
#pragma unroll
				for (int d = 0; d < D; d++) {
					s += qs[r][d] * kp[tid][d];
					dp += dos[r][d] * vp[tid][d];
				}
				float p = expf(s - ls[r]);
				float ds = p * (dp - dls[r]);
#pragma unroll
				for (int d = 0; d < D; d++) {
					dva[d] += p * dos[r][d];
					dka[d] += ds * qs[r][d];
				}
			}
		}
	}
	if (!valid) return;
#pragma unroll
	for (int d = 0; d < D; d++) {
		dk[(i64)j * ldkv + (i64)g * D + d] = dka[d];
		dv[(i64)j * ldkv + (i64)g * D + d] = dva[d];
	}
}

#define ATT_INST(D)                                                                                          \
	extern "C" __global__ void __launch_bounds__(ATT_BR) k_attn_fwd_##D(const float* q, const float* k,   \
			const float* v, float* o, bf16* ob, float* lse, const int* seg_start, int N, int Hq, int Hkv,    \
			int ldq, int ldkv, int ldo, float scale) {                                                       \
		attn_fwd<D>(q, k, v, o, ob, lse, seg_start, N, Hq, Hkv, ldq, ldkv, ldo, scale);                     \
	}                                                                                                        \
	extern "C" __global__ void __launch_bounds__(ATT_BR) k_attn_bwd_dq_##D(const float* q, const float* k, \
			const float* v, const float* dout, const float* lse, const float* delta, float* dq,              \
			const int* seg_start, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {         \
		attn_bwd_dq<D>(q, k, v, dout, lse, delta, dq, seg_start, N, Hq, Hkv, ldq, ldkv, ldo, scale);        \
	}                                                                                                        \
	extern "C" __global__ void __launch_bounds__(ATT_BR) k_attn_bwd_dkv_##D(const float* q, const float* k, \
			const float* v, const float* dout, const float* lse, const float* delta, float* dk, float* dv,   \
			const int* seg_end, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {           \
		attn_bwd_dkv<D>(q, k, v, dout, lse, delta, dk, dv, seg_end, N, Hq, Hkv, ldq, ldkv, ldo, scale);     \
	}

// Head dims 16 and 32 serve tests and small models, 64 SmolLM2 and GPT-2.
// 128 (SmolLM3-3B) needs smaller tiles to fit shared memory: not yet built.
ATT_INST(16)
ATT_INST(32)
ATT_INST(64)

// ---------------------------------------------------------------- tensor-core attention
//
// The same document-masked causal GQA attention on the bf16 tensor cores
// (mma.sync m16n8k16, fp32 accumulation), head dim 64 only. A block of 4
// warps owns 64 rows (queries for the forward and dQ, keys for dK/dV); each
// warp owns 16. Operands are rounded to bf16 as tiles enter shared memory,
// stored row-major and, where an operand must be paired along its rows,
// transposed. Rows are padded to 72 bf16 so that the fragment loads of a
// warp hit 32 distinct banks. Fragment layouts follow the PTX ISA for
// m16n8k16: with g = lane/4 and t = lane%4, A registers hold (g,2t),
// (g+8,2t), (g,2t+8), (g+8,2t+8); B registers (k=2t,n=g), (k=2t+8,n=g);
// C/D (g,2t), (g,2t+1), (g+8,2t), (g+8,2t+1).

#define TC_D 64
#define TC_LD 72

typedef bf16 tile_t[64][TC_LD];
struct __attribute__((aligned(16))) f4 { float x, y, z, w; };
struct __attribute__((aligned(8))) f2 { float x, y; };
__device__ __forceinline__ f2 mkf2(float x, float y) {
	f2 r;
	r.x = x;
	r.y = y;
	return r;
}

__device__ __forceinline__ unsigned ldpair(const bf16* p) { return *(const unsigned*)p; }

__device__ __forceinline__ unsigned pack2(float lo, float hi) {
	return (unsigned)f2bf(lo) | ((unsigned)f2bf(hi) << 16);
}

__device__ __forceinline__ void mma16816(float c[4], const unsigned a[4], unsigned b0, unsigned b1) {
	asm volatile(
		"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
		: "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
		: "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// A fragment of rows [r0, r0+16), columns [c0, c0+16) of a row-major tile.
__device__ __forceinline__ void frag_a(const tile_t& s, int r0, int c0, unsigned a[4]) {
	int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	a[0] = ldpair(&s[r0 + g][c0 + 2 * t]);
	a[1] = ldpair(&s[r0 + g + 8][c0 + 2 * t]);
	a[2] = ldpair(&s[r0 + g][c0 + 2 * t + 8]);
	a[3] = ldpair(&s[r0 + g + 8][c0 + 2 * t + 8]);
}

// B fragment (k in [k0,k0+16), n in [n0,n0+8)) of B[k][n] stored as s[n][k].
__device__ __forceinline__ void frag_b(const tile_t& s, int n0, int k0, unsigned& b0, unsigned& b1) {
	int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	b0 = ldpair(&s[n0 + g][k0 + 2 * t]);
	b1 = ldpair(&s[n0 + g][k0 + 2 * t + 8]);
}

// A fragment for k-step kk from a 16x64 fp32 accumulator held as C frags.
__device__ __forceinline__ void c_to_a(const float c[8][4], int kk, unsigned a[4]) {
	a[0] = pack2(c[2 * kk][0], c[2 * kk][1]);
	a[1] = pack2(c[2 * kk][2], c[2 * kk][3]);
	a[2] = pack2(c[2 * kk + 1][0], c[2 * kk + 1][1]);
	a[3] = pack2(c[2 * kk + 1][2], c[2 * kk + 1][3]);
}

// acc (16 x 64) += A (16 x 64, as 4 k-step frags) * B, B[k][n] stored s[n][k].
__device__ __forceinline__ void mm_16x64x64(float acc[8][4], const unsigned a[4][4], const tile_t& s) {
#pragma unroll
	for (int nt = 0; nt < 8; nt++)
#pragma unroll
		for (int kk = 0; kk < 4; kk++) {
			unsigned b0, b1;
			frag_b(s, nt * 8, kk * 16, b0, b1);
			mma16816(acc[nt], a[kk], b0, b1);
		}
}

__device__ __forceinline__ void zero_acc(float c[8][4]) {
#pragma unroll
	for (int i = 0; i < 8; i++)
#pragma unroll
		for (int e = 0; e < 4; e++) c[i][e] = 0.f;
}

// Loads rows [r0, r0+64) (rows >= rend read as 0) of a token-major fp32
// matrix, columns [coff, coff+64), into s (row-major) and/or st (transposed).
__device__ __forceinline__ void load_tile(tile_t* s, tile_t* st, const float* __restrict__ src, int r0, int rend,
		i64 ld, i64 coff) {
	for (int e = threadIdx.x; e < 64 * 16; e += blockDim.x) {
		int r = e >> 4, d4 = (e & 15) * 4, i = r0 + r;
		f4 x;
		x.x = x.y = x.z = x.w = 0.f;
		if (i < rend) x = *(const f4*)(src + (i64)i * ld + coff + d4);
		bf16 b[4] = {f2bf(x.x), f2bf(x.y), f2bf(x.z), f2bf(x.w)};
		if (s) {
			*(unsigned*)&(*s)[r][d4] = (unsigned)b[0] | ((unsigned)b[1] << 16);
			*(unsigned*)&(*s)[r][d4 + 2] = (unsigned)b[2] | ((unsigned)b[3] << 16);
		}
		if (st) {
#pragma unroll
			for (int u = 0; u < 4; u++) (*st)[d4 + u][r] = b[u];
		}
	}
}

extern "C" __global__ void __launch_bounds__(128) k_attn_fwd_tc(const float* __restrict__ q,
		const float* __restrict__ k, const float* __restrict__ v, float* __restrict__ o, float* __restrict__ lse,
		const int* __restrict__ seg_start, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ __attribute__((aligned(16))) tile_t Qs, Ks, Vt;
	int h = blockIdx.y, gk = h / (Hq / Hkv);
	int q0 = blockIdx.x * 64;
	int w = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	load_tile(&Qs, 0, q, q0, N, ldq, (i64)h * TC_D);
	__syncthreads();
	unsigned qa[4][4];
#pragma unroll
	for (int kk = 0; kk < 4; kk++) frag_a(Qs, w * 16, kk * 16, qa[kk]);
	int i0 = q0 + w * 16 + g, i1 = i0 + 8; // this thread's two query rows
	int ss0 = i0 < N ? seg_start[i0] : 0x7fffffff, ss1 = i1 < N ? seg_start[i1] : 0x7fffffff;
	float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;
	float oacc[8][4];
	zero_acc(oacc);
	int kbeg = seg_start[q0], kend = min(N, q0 + 64);
	for (int k0 = kbeg; k0 < kend; k0 += 64) {
		__syncthreads();
		load_tile(&Ks, 0, k, k0, kend, ldkv, (i64)gk * TC_D);
		load_tile(0, &Vt, v, k0, kend, ldkv, (i64)gk * TC_D);
		__syncthreads();
		float s[8][4];
		zero_acc(s);
		mm_16x64x64(s, qa, Ks);
		float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int j = k0 + nt * 8 + 2 * t + (e & 1);
				int i = e < 2 ? i0 : i1, ss = e < 2 ? ss0 : ss1;
				float x = (j <= i && j >= ss) ? s[nt][e] * scale : NEG_INF;
				s[nt][e] = x;
				if (e < 2) mx0 = fmaxf(mx0, x); else mx1 = fmaxf(mx1, x);
			}
		mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
		mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
		mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
		mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
		float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
		// A row with nothing visible yet keeps m = -inf; use 0 as its base so
		// exp() sees -inf - 0 (= 0), never -inf - -inf.
		float b0 = n0 == NEG_INF ? 0.f : n0, b1 = n1 == NEG_INF ? 0.f : n1;
		float al0 = expf(m0 - b0), al1 = expf(m1 - b1);
		m0 = n0;
		m1 = n1;
		l0 *= al0;
		l1 *= al1;
#pragma unroll
		for (int nt = 0; nt < 8; nt++) {
			s[nt][0] = expf(s[nt][0] - b0);
			s[nt][1] = expf(s[nt][1] - b0);
			s[nt][2] = expf(s[nt][2] - b1);
			s[nt][3] = expf(s[nt][3] - b1);
			l0 += s[nt][0] + s[nt][1];
			l1 += s[nt][2] + s[nt][3];
			oacc[nt][0] *= al0;
			oacc[nt][1] *= al0;
			oacc[nt][2] *= al1;
			oacc[nt][3] *= al1;
		}
		unsigned pa[4][4];
#pragma unroll
		for (int kk = 0; kk < 4; kk++) c_to_a(s, kk, pa[kk]);
		mm_16x64x64(oacc, pa, Vt);
	}
	l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
	l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
	l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
	l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
	float inv0 = 1.f / l0, inv1 = 1.f / l1;
#pragma unroll
	for (int nt = 0; nt < 8; nt++) {
		int d = nt * 8 + 2 * t;
		if (i0 < N) *(f2*)(o + (i64)i0 * ldo + (i64)h * TC_D + d) = mkf2(oacc[nt][0] * inv0, oacc[nt][1] * inv0);
		if (i1 < N) *(f2*)(o + (i64)i1 * ldo + (i64)h * TC_D + d) = mkf2(oacc[nt][2] * inv1, oacc[nt][3] * inv1);
	}
	if (t == 0) {
		if (i0 < N) lse[(i64)i0 * Hq + h] = m0 + logf(l0);
		if (i1 < N) lse[(i64)i1 * Hq + h] = m1 + logf(l1);
	}
}

// dQ on tensor cores: per query tile, recompute P = exp(S*scale - lse),
// dP = dO V^T, dS = P (dP - delta), dQ = scale * dS K.
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dq_tc(const float* __restrict__ q,
		const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ dout,
		const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dq,
		const int* __restrict__ seg_start, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ __attribute__((aligned(16))) tile_t Qs, Os, Ks, Kt, Vs;
	int h = blockIdx.y, gk = h / (Hq / Hkv);
	int q0 = blockIdx.x * 64;
	int w = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	load_tile(&Qs, 0, q, q0, N, ldq, (i64)h * TC_D);
	load_tile(&Os, 0, dout, q0, N, ldo, (i64)h * TC_D);
	__syncthreads();
	unsigned qa[4][4], da[4][4];
#pragma unroll
	for (int kk = 0; kk < 4; kk++) {
		frag_a(Qs, w * 16, kk * 16, qa[kk]);
		frag_a(Os, w * 16, kk * 16, da[kk]);
	}
	int i0 = q0 + w * 16 + g, i1 = i0 + 8;
	int ss0 = i0 < N ? seg_start[i0] : 0x7fffffff, ss1 = i1 < N ? seg_start[i1] : 0x7fffffff;
	float L0 = i0 < N ? lse[(i64)i0 * Hq + h] : 0.f, L1 = i1 < N ? lse[(i64)i1 * Hq + h] : 0.f;
	float D0 = i0 < N ? delta[(i64)i0 * Hq + h] : 0.f, D1 = i1 < N ? delta[(i64)i1 * Hq + h] : 0.f;
	float acc[8][4];
	zero_acc(acc);
	int kbeg = seg_start[q0], kend = min(N, q0 + 64);
	for (int k0 = kbeg; k0 < kend; k0 += 64) {
		__syncthreads();
		load_tile(&Ks, &Kt, k, k0, kend, ldkv, (i64)gk * TC_D);
		load_tile(&Vs, 0, v, k0, kend, ldkv, (i64)gk * TC_D);
		__syncthreads();
		float s[8][4], dp[8][4];
		zero_acc(s);
		zero_acc(dp);
		mm_16x64x64(s, qa, Ks);
		mm_16x64x64(dp, da, Vs);
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int j = k0 + nt * 8 + 2 * t + (e & 1);
				int i = e < 2 ? i0 : i1, ss = e < 2 ? ss0 : ss1;
				float p = (j <= i && j >= ss) ? expf(s[nt][e] * scale - (e < 2 ? L0 : L1)) : 0.f;
				s[nt][e] = p * (dp[nt][e] - (e < 2 ? D0 : D1));
			}
		unsigned sa[4][4];
#pragma unroll
		for (int kk = 0; kk < 4; kk++) c_to_a(s, kk, sa[kk]);
		mm_16x64x64(acc, sa, Kt);
	}
#pragma unroll
	for (int nt = 0; nt < 8; nt++) {
		int d = nt * 8 + 2 * t;
		if (i0 < N) *(f2*)(dq + (i64)i0 * ldq + (i64)h * TC_D + d) = mkf2(acc[nt][0] * scale, acc[nt][1] * scale);
		if (i1 < N) *(f2*)(dq + (i64)i1 * ldq + (i64)h * TC_D + d) = mkf2(acc[nt][2] * scale, acc[nt][3] * scale);
	}
}

// dK, dV on tensor cores: per key tile of kv head gk, over the query heads
// sharing it and the query tiles of its documents: S^T = K Q^T,
// P^T = exp(S^T*scale - lse), dV += P^T dO, dP^T = V dO^T,
// dS^T = P^T (dP^T - delta), dK += scale * dS^T Q. Deterministic: each
// key row belongs to one warp, which sums in a fixed order.
extern "C" __global__ void __launch_bounds__(128) k_attn_bwd_dkv_tc(const float* __restrict__ q,
		const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ dout,
		const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dk, float* __restrict__ dv,
		const int* __restrict__ seg_start, const int* __restrict__ seg_end, int N, int Hq, int Hkv, int ldq, int ldkv,
		int ldo, float scale) {
	__shared__ __attribute__((aligned(16))) tile_t Qs, Qt, Os, Ot;
	__shared__ float Lq[64], Dq[64];
	__shared__ int Sq[64];
	int gk = blockIdx.y, rep = Hq / Hkv;
	int k0 = blockIdx.x * 64;
	int w = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	// K and V fragments stay in registers for the whole block.
	load_tile(&Qs, 0, k, k0, N, ldkv, (i64)gk * TC_D);
	load_tile(&Os, 0, v, k0, N, ldkv, (i64)gk * TC_D);
	__syncthreads();
	unsigned ka[4][4], va[4][4];
#pragma unroll
	for (int kk = 0; kk < 4; kk++) {
		frag_a(Qs, w * 16, kk * 16, ka[kk]);
		frag_a(Os, w * 16, kk * 16, va[kk]);
	}
	int j0 = k0 + w * 16 + g, j1 = j0 + 8; // this thread's two key rows
	int qend = seg_end[min(N, k0 + 64) - 1];
	float dka[8][4], dva[8][4];
	zero_acc(dka);
	zero_acc(dva);
	for (int hh = 0; hh < rep; hh++) {
		int h = gk * rep + hh;
		for (int i0 = k0; i0 < qend; i0 += 64) {
			__syncthreads();
			load_tile(&Qs, &Qt, q, i0, qend, ldq, (i64)h * TC_D);
			load_tile(&Os, &Ot, dout, i0, qend, ldo, (i64)h * TC_D);
			if (threadIdx.x < 64) {
				int i = i0 + threadIdx.x;
				Lq[threadIdx.x] = i < qend ? lse[(i64)i * Hq + h] : 0.f;
				Dq[threadIdx.x] = i < qend ? delta[(i64)i * Hq + h] : 0.f;
				Sq[threadIdx.x] = i < qend ? seg_start[i] : 0x7fffffff;
			}
			__syncthreads();
			float s[8][4], dp[8][4];
			zero_acc(s);
			zero_acc(dp);
			mm_16x64x64(s, ka, Qs);
			mm_16x64x64(dp, va, Os);
#pragma unroll
			for (int nt = 0; nt < 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int c = nt * 8 + 2 * t + (e & 1);
					int i = i0 + c, j = e < 2 ? j0 : j1;
					bool ok = j < N && i < qend && j <= i && Sq[c] <= j;
					float p = ok ? expf(s[nt][e] * scale - Lq[c]) : 0.f;
					s[nt][e] = p;
					dp[nt][e] = p * (dp[nt][e] - Dq[c]);
				}
			unsigned pa[4][4], sa[4][4];
#pragma unroll
			for (int kk = 0; kk < 4; kk++) {
				c_to_a(s, kk, pa[kk]);
				c_to_a(dp, kk, sa[kk]);
			}
			mm_16x64x64(dva, pa, Ot);
			mm_16x64x64(dka, sa, Qt);
		}
	}
#pragma unroll
	for (int nt = 0; nt < 8; nt++) {
		int d = nt * 8 + 2 * t;
		if (j0 < N) {
			*(f2*)(dk + (i64)j0 * ldkv + (i64)gk * TC_D + d) = mkf2(dka[nt][0] * scale, dka[nt][1] * scale);
			*(f2*)(dv + (i64)j0 * ldkv + (i64)gk * TC_D + d) = mkf2(dva[nt][0], dva[nt][1]);
		}
		if (j1 < N) {
			*(f2*)(dk + (i64)j1 * ldkv + (i64)gk * TC_D + d) = mkf2(dka[nt][2] * scale, dka[nt][3] * scale);
			*(f2*)(dv + (i64)j1 * ldkv + (i64)gk * TC_D + d) = mkf2(dva[nt][2], dva[nt][3]);
		}
	}
}

// ---------------------------------------------------------------- tensor-core attention, v2
//
// As above, but the operands arrive already in bf16 (one conversion pass
// per call instead of one per tile visit), tiles stream through two
// shared-memory buffers with cp.async so the next tile loads while the
// current one computes, and operands that must be paired along their rows
// are read with ldmatrix.trans from the row-major tile instead of being
// stored transposed.

__device__ __forceinline__ unsigned smem_u32(const void* p) {
	return (unsigned)__cvta_generic_to_shared(p);
}

// cp_tile queues the copy of rows [r0, r0+64) of a bf16 token-major matrix
// (row stride ld elements, columns [coff, coff+64)) into s; rows >= rend
// are zero-filled (src-size 0).
__device__ __forceinline__ void cp_tile(tile_t& s, const bf16* __restrict__ src, int r0, int rend, i64 ld, i64 coff) {
	for (int e = threadIdx.x; e < 64 * 8; e += blockDim.x) {
		int r = e >> 3, c8 = (e & 7) * 8, i = r0 + r;
		const bf16* g = src + (i < rend ? (i64)i * ld + coff + c8 : 0);
		unsigned n = i < rend ? 16u : 0u;
		asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(&s[r][c8])), "l"(g), "r"(n));
	}
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }
__device__ __forceinline__ void cp_wait_one() { asm volatile("cp.async.wait_group 1;\n" ::); }

// B fragment (k in [k0,k0+16), n in [n0,n0+8)) of B[k][n] stored row-major
// as s[k][n], via ldmatrix.trans (lanes 0-15 address rows k0..k0+15).
__device__ __forceinline__ void frag_bt(const tile_t& s, int k0, int n0, unsigned& b0, unsigned& b1) {
	int l = threadIdx.x & 15;
	asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
		: "=r"(b0), "=r"(b1)
		: "r"(smem_u32(&s[k0 + l][n0])));
}

// acc (16 x 64) += A (16 x 64 as 4 k-step frags) * B, B[k][n] stored s[k][n].
__device__ __forceinline__ void mm_16x64x64_t(float acc[8][4], const unsigned a[4][4], const tile_t& s) {
#pragma unroll
	for (int nt = 0; nt < 8; nt++)
#pragma unroll
		for (int kk = 0; kk < 4; kk++) {
			unsigned b0, b1;
			frag_bt(s, kk * 16, nt * 8, b0, b1);
			mma16816(acc[nt], a[kk], b0, b1);
		}
}

extern "C" __global__ void __launch_bounds__(128) k_attn2_fwd(const bf16* __restrict__ q,
		const bf16* __restrict__ k, const bf16* __restrict__ v, float* __restrict__ o, float* __restrict__ lse,
		const int* __restrict__ seg_start, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ __attribute__((aligned(128))) tile_t Qs, Ks[2], Vs[2];
	int h = blockIdx.y, gk = h / (Hq / Hkv);
	int q0 = blockIdx.x * 64;
	int w = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	int kbeg = seg_start[q0], kend = min(N, q0 + 64);
	int ntiles = (kend - kbeg + 63) / 64;
	cp_tile(Qs, q, q0, N, ldq, (i64)h * TC_D);
	cp_tile(Ks[0], k, kbeg, kend, ldkv, (i64)gk * TC_D);
	cp_tile(Vs[0], v, kbeg, kend, ldkv, (i64)gk * TC_D);
	cp_commit();
	cp_wait_all();
	__syncthreads();
	unsigned qa[4][4];
#pragma unroll
	for (int kk = 0; kk < 4; kk++) frag_a(Qs, w * 16, kk * 16, qa[kk]);
	int i0 = q0 + w * 16 + g, i1 = i0 + 8;
	int ss0 = i0 < N ? seg_start[i0] : 0x7fffffff, ss1 = i1 < N ? seg_start[i1] : 0x7fffffff;
	float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;
	float oacc[8][4];
	zero_acc(oacc);
	for (int it = 0; it < ntiles; it++) {
		int k0 = kbeg + it * 64, cur = it & 1;
		if (it + 1 < ntiles) {
			cp_tile(Ks[cur ^ 1], k, k0 + 64, kend, ldkv, (i64)gk * TC_D);
			cp_tile(Vs[cur ^ 1], v, k0 + 64, kend, ldkv, (i64)gk * TC_D);
			cp_commit();
			cp_wait_one();
		} else {
			cp_wait_all();
		}
		__syncthreads();
		float s[8][4];
		zero_acc(s);
		mm_16x64x64(s, qa, Ks[cur]);
		float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int j = k0 + nt * 8 + 2 * t + (e & 1);
				int i = e < 2 ? i0 : i1, ss = e < 2 ? ss0 : ss1;
				float x = (j <= i && j >= ss) ? s[nt][e] * scale : NEG_INF;
				s[nt][e] = x;
				if (e < 2) mx0 = fmaxf(mx0, x); else mx1 = fmaxf(mx1, x);
			}
		mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
		mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
		mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
		mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
		float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
		float b0 = n0 == NEG_INF ? 0.f : n0, b1 = n1 == NEG_INF ? 0.f : n1;
		float al0 = expf(m0 - b0), al1 = expf(m1 - b1);
		m0 = n0;
		m1 = n1;
		l0 *= al0;
		l1 *= al1;
#pragma unroll
		for (int nt = 0; nt < 8; nt++) {
			s[nt][0] = expf(s[nt][0] - b0);
			s[nt][1] = expf(s[nt][1] - b0);
			s[nt][2] = expf(s[nt][2] - b1);
			s[nt][3] = expf(s[nt][3] - b1);
			l0 += s[nt][0] + s[nt][1];
			l1 += s[nt][2] + s[nt][3];
			oacc[nt][0] *= al0;
			oacc[nt][1] *= al0;
			oacc[nt][2] *= al1;
			oacc[nt][3] *= al1;
		}
		unsigned pa[4][4];
#pragma unroll
		for (int kk = 0; kk < 4; kk++) c_to_a(s, kk, pa[kk]);
		mm_16x64x64_t(oacc, pa, Vs[cur]);
		__syncthreads(); // buffer cur is refilled by the next iteration's prefetch
	}
	l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
	l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
	l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
	l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
	float inv0 = 1.f / l0, inv1 = 1.f / l1;
#pragma unroll
	for (int nt = 0; nt < 8; nt++) {
		int d = nt * 8 + 2 * t;
		if (i0 < N) *(f2*)(o + (i64)i0 * ldo + (i64)h * TC_D + d) = mkf2(oacc[nt][0] * inv0, oacc[nt][1] * inv0);
		if (i1 < N) *(f2*)(o + (i64)i1 * ldo + (i64)h * TC_D + d) = mkf2(oacc[nt][2] * inv1, oacc[nt][3] * inv1);
	}
	if (t == 0) {
		if (i0 < N) lse[(i64)i0 * Hq + h] = m0 + logf(l0);
		if (i1 < N) lse[(i64)i1 * Hq + h] = m1 + logf(l1);
	}
}

extern "C" __global__ void __launch_bounds__(128) k_attn2_bwd_dq(const bf16* __restrict__ q,
		const bf16* __restrict__ k, const bf16* __restrict__ v, const bf16* __restrict__ dout,
		const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dq,
		const int* __restrict__ seg_start, int N, int Hq, int Hkv, int ldq, int ldkv, int ldo, float scale) {
	__shared__ __attribute__((aligned(128))) tile_t Ks[2], Vs[2];
	int h = blockIdx.y, gk = h / (Hq / Hkv);
	int q0 = blockIdx.x * 64;
	int w = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	int kbeg = seg_start[q0], kend = min(N, q0 + 64);
	int ntiles = (kend - kbeg + 63) / 64;
	// Q and dO pass through buffer 1 on their way to registers.
	cp_tile(Ks[1], q, q0, N, ldq, (i64)h * TC_D);
	cp_tile(Vs[1], dout, q0, N, ldo, (i64)h * TC_D);
	cp_tile(Ks[0], k, kbeg, kend, ldkv, (i64)gk * TC_D);
	cp_tile(Vs[0], v, kbeg, kend, ldkv, (i64)gk * TC_D);
	cp_commit();
	cp_wait_all();
	__syncthreads();
	unsigned qa[4][4], da[4][4];
#pragma unroll
	for (int kk = 0; kk < 4; kk++) {
		frag_a(Ks[1], w * 16, kk * 16, qa[kk]);
		frag_a(Vs[1], w * 16, kk * 16, da[kk]);
	}
	__syncthreads();
	int i0 = q0 + w * 16 + g, i1 = i0 + 8;
	int ss0 = i0 < N ? seg_start[i0] : 0x7fffffff, ss1 = i1 < N ? seg_start[i1] : 0x7fffffff;
	float L0 = i0 < N ? lse[(i64)i0 * Hq + h] : 0.f, L1 = i1 < N ? lse[(i64)i1 * Hq + h] : 0.f;
	float D0 = i0 < N ? delta[(i64)i0 * Hq + h] : 0.f, D1 = i1 < N ? delta[(i64)i1 * Hq + h] : 0.f;
	float acc[8][4];
	zero_acc(acc);
	for (int it = 0; it < ntiles; it++) {
		int k0 = kbeg + it * 64, cur = it & 1;
		if (it + 1 < ntiles) {
			cp_tile(Ks[cur ^ 1], k, k0 + 64, kend, ldkv, (i64)gk * TC_D);
			cp_tile(Vs[cur ^ 1], v, k0 + 64, kend, ldkv, (i64)gk * TC_D);
			cp_commit();
			cp_wait_one();
		} else {
			cp_wait_all();
		}
		__syncthreads();
		float s[8][4], dp[8][4];
		zero_acc(s);
		zero_acc(dp);
		mm_16x64x64(s, qa, Ks[cur]);
		mm_16x64x64(dp, da, Vs[cur]);
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int j = k0 + nt * 8 + 2 * t + (e & 1);
				int i = e < 2 ? i0 : i1, ss = e < 2 ? ss0 : ss1;
				float p = (j <= i && j >= ss) ? expf(s[nt][e] * scale - (e < 2 ? L0 : L1)) : 0.f;
				s[nt][e] = p * (dp[nt][e] - (e < 2 ? D0 : D1));
			}
		unsigned sa[4][4];
#pragma unroll
		for (int kk = 0; kk < 4; kk++) c_to_a(s, kk, sa[kk]);
		mm_16x64x64_t(acc, sa, Ks[cur]);
		__syncthreads();
	}
#pragma unroll
	for (int nt = 0; nt < 8; nt++) {
		int d = nt * 8 + 2 * t;
		if (i0 < N) *(f2*)(dq + (i64)i0 * ldq + (i64)h * TC_D + d) = mkf2(acc[nt][0] * scale, acc[nt][1] * scale);
		if (i1 < N) *(f2*)(dq + (i64)i1 * ldq + (i64)h * TC_D + d) = mkf2(acc[nt][2] * scale, acc[nt][3] * scale);
	}
}

extern "C" __global__ void __launch_bounds__(128) k_attn2_bwd_dkv(const bf16* __restrict__ q,
		const bf16* __restrict__ k, const bf16* __restrict__ v, const bf16* __restrict__ dout,
		const float* __restrict__ lse, const float* __restrict__ delta, float* __restrict__ dk, float* __restrict__ dv,
		const int* __restrict__ seg_start, const int* __restrict__ seg_end, int N, int Hq, int Hkv, int ldq, int ldkv,
		int ldo, float scale) {
	__shared__ __attribute__((aligned(128))) tile_t Qs[2], Os[2];
	// per-query lse, delta and document start of the tile in each buffer
	__shared__ float Lq[2][64], Dq[2][64];
	__shared__ int Sq[2][64];
	int gk = blockIdx.y, rep = Hq / Hkv;
	int k0 = blockIdx.x * 64;
	int w = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
	int qend = seg_end[min(N, k0 + 64) - 1];
	int ntq = (qend - k0 + 63) / 64;
	int ntiles = ntq * rep; // (head, query tile) pairs, head-major
	// K and V pass through buffer 1 on their way to registers.
	cp_tile(Qs[1], k, k0, N, ldkv, (i64)gk * TC_D);
	cp_tile(Os[1], v, k0, N, ldkv, (i64)gk * TC_D);
	cp_tile(Qs[0], q, k0, qend, ldq, (i64)(gk * rep) * TC_D);
	cp_tile(Os[0], dout, k0, qend, ldo, (i64)(gk * rep) * TC_D);
	cp_commit();
	if (threadIdx.x < 64) {
		int i = k0 + threadIdx.x, h = gk * rep;
		bool in = i < qend;
		Lq[0][threadIdx.x] = in ? lse[(i64)i * Hq + h] : 0.f;
		Dq[0][threadIdx.x] = in ? delta[(i64)i * Hq + h] : 0.f;
		Sq[0][threadIdx.x] = in ? seg_start[i] : 0x7fffffff;
	}
	cp_wait_all();
	__syncthreads();
	unsigned ka[4][4], va[4][4];
#pragma unroll
	for (int kk = 0; kk < 4; kk++) {
		frag_a(Qs[1], w * 16, kk * 16, ka[kk]);
		frag_a(Os[1], w * 16, kk * 16, va[kk]);
	}
	__syncthreads();
	int j0 = k0 + w * 16 + g, j1 = j0 + 8;
	float dka[8][4], dva[8][4];
	zero_acc(dka);
	zero_acc(dva);
	for (int it = 0; it < ntiles; it++) {
		int cur = it & 1;
		int i0 = k0 + (it % ntq) * 64;
		if (it + 1 < ntiles) {
			int hn = gk * rep + (it + 1) / ntq, in0 = k0 + ((it + 1) % ntq) * 64;
			cp_tile(Qs[cur ^ 1], q, in0, qend, ldq, (i64)hn * TC_D);
			cp_tile(Os[cur ^ 1], dout, in0, qend, ldo, (i64)hn * TC_D);
			cp_commit();
			if (threadIdx.x < 64) {
				int i = in0 + threadIdx.x;
				bool in = i < qend;
				Lq[cur ^ 1][threadIdx.x] = in ? lse[(i64)i * Hq + hn] : 0.f;
				Dq[cur ^ 1][threadIdx.x] = in ? delta[(i64)i * Hq + hn] : 0.f;
				Sq[cur ^ 1][threadIdx.x] = in ? seg_start[i] : 0x7fffffff;
			}
			cp_wait_one();
		} else {
			cp_wait_all();
		}
		__syncthreads();
		float s[8][4], dp[8][4];
		zero_acc(s);
		zero_acc(dp);
		mm_16x64x64(s, ka, Qs[cur]);
		mm_16x64x64(dp, va, Os[cur]);
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
#pragma unroll
			for (int e = 0; e < 4; e += 2) {
				// columns c and c+1 of this thread: queries i0+c, i0+c+1
				int c = nt * 8 + 2 * t;
#pragma unroll
				for (int u = 0; u < 2; u++) {
					int i = i0 + c + u, j = e < 2 ? j0 : j1;
					bool ok = j < N && i < qend && j <= i && Sq[cur][c + u] <= j;
					float p = ok ? expf(s[nt][e + u] * scale - Lq[cur][c + u]) : 0.f;
					float dl = Dq[cur][c + u];
					s[nt][e + u] = p;
					dp[nt][e + u] = p * (dp[nt][e + u] - dl);
				}
			}
		unsigned pa[4][4], sa[4][4];
#pragma unroll
		for (int kk = 0; kk < 4; kk++) {
			c_to_a(s, kk, pa[kk]);
			c_to_a(dp, kk, sa[kk]);
		}
		mm_16x64x64_t(dva, pa, Os[cur]);
		mm_16x64x64_t(dka, sa, Qs[cur]);
		__syncthreads();
	}
#pragma unroll
	for (int nt = 0; nt < 8; nt++) {
		int d = nt * 8 + 2 * t;
		if (j0 < N) {
			*(f2*)(dk + (i64)j0 * ldkv + (i64)gk * TC_D + d) = mkf2(dka[nt][0] * scale, dka[nt][1] * scale);
			*(f2*)(dv + (i64)j0 * ldkv + (i64)gk * TC_D + d) = mkf2(dva[nt][0], dva[nt][1]);
		}
		if (j1 < N) {
			*(f2*)(dk + (i64)j1 * ldkv + (i64)gk * TC_D + d) = mkf2(dka[nt][2] * scale, dka[nt][3] * scale);
			*(f2*)(dv + (i64)j1 * ldkv + (i64)gk * TC_D + d) = mkf2(dva[nt][2], dva[nt][3]);
		}
	}
}
