//go:build cgo && linux

package cuda

/*
#include "kiln_cuda.h"
*/
import "C"

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

//go:embed kernels.cu
var kernelSource string

// kernelNames lists every extern "C" kernel in kernels.cu.
var kernelNames = []string{
	"k_f32_to_bf16", "k_bf16_to_f32", "k_add", "k_sumsq",
	"k_embed_fwd", "k_embed_bwd",
	"k_rmsnorm_fwd", "k_rmsnorm_bwd", "k_rmsnorm_dw", "k_colsum_acc",
	"k_scale", "k_xent_f32", "k_seg_start", "k_seg_end",
	"k_rope", "k_swiglu_fwd", "k_swiglu_bwd", "k_xent", "k_adamw", "k_attn_delta",
	"k_attn_fwd_16", "k_attn_bwd_dq_16", "k_attn_bwd_dkv_16",
	"k_attn_fwd_32", "k_attn_bwd_dq_32", "k_attn_bwd_dkv_32",
	"k_attn_fwd_64", "k_attn_bwd_dq_64", "k_attn_bwd_dkv_64",
	"k_attn_fwd_tc", "k_attn_bwd_dq_tc", "k_attn_bwd_dkv_tc",
	"k_attn2_fwd", "k_attn2_bwd_dq", "k_attn2_bwd_dkv",
}

// kernelDynSmem names kernels that need more than the default 48 KiB of
// dynamic shared memory (none yet: all tiles are static).
var kernelDynSmem = map[string]int{}

const (
	attBR = 64 // queries (or keys) per attention block; matches ATT_BR
	// sumsqBlocks is fixed so the partial sums, added on the host in order,
	// give the same bits on every run.
	sumsqBlocks = 512
)

func grid1(n, block int) [3]int {
	g := ceilDiv(n, block)
	if g > 65535*16 {
		g = 65535 * 16
	}
	return [3]int{g, 1, 1}
}

var b256 = [3]int{256, 1, 1}

// F32ToBF16 converts n floats of in into out (bf16).
func (d *Device) F32ToBF16(out, in Buf, n int) error {
	return d.launch("k_f32_to_bf16", grid1(n, 256), b256, 0, ptr(in), ptr(out), i64(n))
}

// BF16ToF32 converts n bf16 values of in into out.
func (d *Device) BF16ToF32(out, in Buf, n int) error {
	return d.launch("k_bf16_to_f32", grid1(n, 256), b256, 0, ptr(in), ptr(out), i64(n))
}

// Add does y += x over n floats.
func (d *Device) Add(y, x Buf, n int) error {
	return d.launch("k_add", grid1(n, 256), b256, 0, ptr(y), ptr(x), i64(n))
}

// SumSquares returns the sum of squares of n floats of x (deterministic).
func (d *Device) SumSquares(x Buf, n int, scratch Buf) (float64, error) {
	if scratch.Len < sumsqBlocks*4 {
		return 0, fmt.Errorf("cuda: sumsq scratch of %d bytes, need %d", scratch.Len, sumsqBlocks*4)
	}
	if err := d.launch("k_sumsq", [3]int{sumsqBlocks, 1, 1}, b256, 0, ptr(x), i64(n), ptr(scratch)); err != nil {
		return 0, err
	}
	part := make([]float32, sumsqBlocks)
	if err := Download(d, part, scratch); err != nil {
		return 0, err
	}
	var s float64
	for _, p := range part {
		s += float64(p)
	}
	return s, nil
}

// EmbedForward gathers out[t,:] = wte[ids[t],:] for N tokens of width C.
func (d *Device) EmbedForward(out, ids, wte Buf, N, C int) error {
	return d.launch("k_embed_fwd", grid1(N*C, 256), b256, 0, ptr(ids), ptr(wte), ptr(out), i32(N), i32(C))
}

// EmbedGroups is the host-side grouping of a batch's token ids that makes
// the embedding backward deterministic: Uniq[u] appears at positions
// Pos[Offs[u]:Offs[u+1]] (ascending).
type EmbedGroups struct {
	Uniq, Offs, Pos []int32
}

// GroupIDs builds EmbedGroups from ids: distinct ids ascending, each
// with its positions in ascending order.
func GroupIDs(ids []int32) EmbedGroups {
	count := map[int32]int32{}
	for _, id := range ids {
		count[id]++
	}
	uniq := make([]int32, 0, len(count))
	for id := range count {
		uniq = append(uniq, id)
	}
	slices.Sort(uniq)
	index := make(map[int32]int32, len(uniq))
	offs := make([]int32, len(uniq)+1)
	for u, id := range uniq {
		index[id] = int32(u)
		offs[u+1] = offs[u] + count[id]
	}
	next := append([]int32(nil), offs[:len(uniq)]...)
	pos := make([]int32, len(ids))
	for t, id := range ids {
		u := index[id]
		pos[next[u]] = int32(t)
		next[u]++
	}
	return EmbedGroups{Uniq: uniq, Offs: offs, Pos: pos}
}

// EmbedBackward adds dwte[id,:] += sum of dout rows at that id's positions.
// uniq/offs/pos are device copies of an EmbedGroups with nUniq ids.
func (d *Device) EmbedBackward(dwte, dout, uniq, offs, pos Buf, nUniq, C int) error {
	return d.launch("k_embed_bwd", [3]int{nUniq, ceilDiv(C, 128), 1}, [3]int{128, 1, 1}, 0,
		ptr(uniq), ptr(offs), ptr(pos), ptr(dout), ptr(dwte), i32(C))
}

// RMSNormForward normalizes N rows of width C; y (fp32) and yb (bf16) are
// each optional (zero Buf). rstd receives N reciprocal RMS values.
func (d *Device) RMSNormForward(y, yb, rstd, x, w Buf, N, C int, eps float32) error {
	return d.launch("k_rmsnorm_fwd", [3]int{ceilDiv(N, 8), 1, 1}, b256, 0,
		ptr(x), ptr(w), ptr(y), ptr(yb), ptr(rstd), i32(N), i32(C), f32(eps))
}

// RMSNormBackward adds the input gradient into dx and the weight gradient
// into dw. scratch needs ceil(N/rowsPer)*C floats (see RMSNormScratch).
func (d *Device) RMSNormBackward(dx, dw, x, w, rstd, dy, scratch Buf, N, C int) error {
	if err := d.launch("k_rmsnorm_bwd", [3]int{ceilDiv(N, 8), 1, 1}, b256, 0,
		ptr(x), ptr(w), ptr(rstd), ptr(dy), ptr(dx), i32(N), i32(C)); err != nil {
		return err
	}
	rows := ceilDiv(N, rmsRowsPer)
	if scratch.Len < rows*C*4 {
		return fmt.Errorf("cuda: rmsnorm scratch %d bytes, need %d", scratch.Len, rows*C*4)
	}
	if err := d.launch("k_rmsnorm_dw", [3]int{ceilDiv(C, 32), rows, 1}, [3]int{32, 8, 1}, 0,
		ptr(x), ptr(rstd), ptr(dy), ptr(scratch), i32(N), i32(C), i32(rmsRowsPer)); err != nil {
		return err
	}
	return d.launch("k_colsum_acc", [3]int{ceilDiv(C, 256), 1, 1}, b256, 0, ptr(scratch), i32(rows), i32(C), ptr(dw))
}

const rmsRowsPer = 256

// RMSNormScratch is the scratch size in bytes RMSNormBackward needs.
func RMSNormScratch(N, C int) int { return ceilDiv(N, rmsRowsPer) * C * 4 }

// RoPE rotates H heads of dim D, row stride ld, in place; inverse=true is the
// backward pass. interleaved picks the (2j,2j+1) pairing instead of (j,j+D/2).
func (d *Device) RoPE(x, pos Buf, N, H, D, ld int, theta float32, inverse, interleaved bool) error {
	n := N * H * (D / 2)
	return d.launch("k_rope", grid1(n, 256), b256, 0, ptr(x), ptr(pos), i32(N), i32(H), i32(D), i32(ld),
		f32(theta), i32(b2i(inverse)), i32(b2i(interleaved)))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SwiGLUForward computes h = silu(g)*u; g, u with row stride ld; h and hb
// ([N,F], fp32 and bf16) are each optional.
func (d *Device) SwiGLUForward(h, hb, g, u Buf, ld, N, F int) error {
	return d.launch("k_swiglu_fwd", grid1(N*F, 256), b256, 0, ptr(g), ptr(u), i32(ld), ptr(h), ptr(hb), i32(N), i32(F))
}

// SwiGLUBackward writes dg, du (fp32) and/or dgb, dub (bf16), laid out like
// g and u (row stride ld), from dh [N,F].
func (d *Device) SwiGLUBackward(dg, du, dgb, dub, g, u, dh Buf, ld, N, F int) error {
	return d.launch("k_swiglu_bwd", grid1(N*F, 256), b256, 0, ptr(g), ptr(u), i32(ld), ptr(dh),
		ptr(dg), ptr(du), ptr(dgb), ptr(dub), i32(N), i32(F))
}

// CrossEntropy computes per-row losses of bf16 logits [N,V] against
// targets (negative = masked) and overwrites logits with the gradient of
// scale*sum(losses), in bf16.
func (d *Device) CrossEntropy(losses, logits, targets Buf, N, V int, scale float32) error {
	return d.launch("k_xent", [3]int{N, 1, 1}, [3]int{1024, 1, 1}, 0, ptr(logits), ptr(targets), ptr(losses), i32(V), f32(scale))
}

// AdamWParams are the optimizer hyper-parameters of one step.
type AdamWParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int     // 1-based, for bias correction
	GradScale                          float32 // multiplies the gradient first (clipping, accumulation)
}

// AdamW updates n parameters p with gradient g and moments m, v; pb, when
// non-zero, receives the bf16 copy of the new weights.
func (d *Device) AdamW(p, g, m, v, pb Buf, n int, a AdamWParams) error {
	bc1 := float32(1 - math.Pow(float64(a.Beta1), float64(a.Step)))
	bc2 := float32(1 - math.Pow(float64(a.Beta2), float64(a.Step)))
	gs := a.GradScale
	return d.launch("k_adamw", grid1(n, 256), b256, 0, ptr(p), ptr(g), ptr(m), ptr(v), ptr(pb), i64(n),
		f32(a.LR), f32(a.Beta1), f32(a.Beta2), f32(a.Eps), f32(a.WeightDecay), f32(bc1), f32(bc2), f32(gs))
}

// AttnShape describes one attention call over a packed stream of N tokens.
// q rows have stride LdQ, k and v rows LdKV, o/dO rows LdO (all in
// elements); Hq query heads share Hkv key/value heads; head dim D.
type AttnShape struct {
	N, Hq, Hkv, D  int
	LdQ, LdKV, LdO int
	Scale          float32 // 0 means 1/sqrt(D)
}

func (s AttnShape) check() error {
	if s.D != 16 && s.D != 32 && s.D != 64 {
		return fmt.Errorf("cuda: attention head dim %d not built (16, 32, 64)", s.D)
	}
	if s.Hkv <= 0 || s.Hq%s.Hkv != 0 {
		return fmt.Errorf("cuda: %d query heads not a multiple of %d kv heads", s.Hq, s.Hkv)
	}
	return nil
}

func (s AttnShape) scale() float32 {
	if s.Scale != 0 {
		return s.Scale
	}
	return float32(1 / math.Sqrt(float64(s.D)))
}

// AttentionForward writes o (fp32, optional) and ob (bf16, optional), both
// with row stride LdO, and lse [N,Hq]. segStart is the per-token document
// start (int32).
func (d *Device) AttentionForward(o, ob, lse, q, k, v, segStart Buf, s AttnShape) error {
	if err := s.check(); err != nil {
		return err
	}
	name := fmt.Sprintf("k_attn_fwd_%d", s.D)
	return d.launch(name, [3]int{ceilDiv(s.N, attBR), s.Hq, 1}, [3]int{attBR, 1, 1}, 0,
		ptr(q), ptr(k), ptr(v), ptr(o), ptr(ob), ptr(lse), ptr(segStart), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale()))
}

// AttentionBackward writes dq (stride LdQ), dk and dv (stride LdKV) from dO
// (stride LdO), the forward's o and lse; delta is scratch of N*Hq floats.
func (d *Device) AttentionBackward(dq, dk, dv, q, k, v, o, dout, lse, delta, segStart, segEnd Buf, s AttnShape) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := d.launch("k_attn_delta", grid1(s.N*s.Hq, 256), b256, 0, ptr(o), ptr(dout), ptr(delta),
		i32(s.N), i32(s.Hq), i32(s.D), i32(s.LdO)); err != nil {
		return err
	}
	if err := d.launch(fmt.Sprintf("k_attn_bwd_dq_%d", s.D), [3]int{ceilDiv(s.N, attBR), s.Hq, 1}, [3]int{attBR, 1, 1}, 0,
		ptr(q), ptr(k), ptr(v), ptr(dout), ptr(lse), ptr(delta), ptr(dq), ptr(segStart), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale())); err != nil {
		return err
	}
	return d.launch(fmt.Sprintf("k_attn_bwd_dkv_%d", s.D), [3]int{ceilDiv(s.N, attBR), s.Hkv, 1}, [3]int{attBR, 1, 1}, 0,
		ptr(q), ptr(k), ptr(v), ptr(dout), ptr(lse), ptr(delta), ptr(dk), ptr(dv), ptr(segEnd), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale()))
}

// TensorCoreOK reports whether the tensor-core attention kernels can run
// this shape: head dim 64, row strides and every base address aligned for
// their 16-byte loads.
func (s AttnShape) TensorCoreOK(bufs ...Buf) bool {
	if s.D != 64 || s.LdQ%4 != 0 || s.LdKV%4 != 0 || s.LdO%4 != 0 || s.Hkv <= 0 || s.Hq%s.Hkv != 0 {
		return false
	}
	for _, b := range bufs {
		if b.Ptr%16 != 0 {
			return false
		}
	}
	return true
}

// AttentionForwardTC is AttentionForward on the bf16 tensor cores (head dim
// 64; see TensorCoreOK): o fp32 with row stride LdO, lse [N,Hq].
func (d *Device) AttentionForwardTC(o, lse, q, k, v, segStart Buf, s AttnShape) error {
	if !s.TensorCoreOK(o, q, k, v) {
		return fmt.Errorf("cuda: tensor-core attention cannot run %+v", s)
	}
	return d.launch("k_attn_fwd_tc", [3]int{ceilDiv(s.N, 64), s.Hq, 1}, [3]int{128, 1, 1}, 0,
		ptr(q), ptr(k), ptr(v), ptr(o), ptr(lse), ptr(segStart), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale()))
}

// AttentionBackwardTC is AttentionBackward on the bf16 tensor cores.
func (d *Device) AttentionBackwardTC(dq, dk, dv, q, k, v, o, dout, lse, delta, segStart, segEnd Buf, s AttnShape) error {
	if !s.TensorCoreOK(dq, dk, dv, q, k, v, dout) {
		return fmt.Errorf("cuda: tensor-core attention cannot run %+v", s)
	}
	if err := d.launch("k_attn_delta", grid1(s.N*s.Hq, 256), b256, 0, ptr(o), ptr(dout), ptr(delta),
		i32(s.N), i32(s.Hq), i32(s.D), i32(s.LdO)); err != nil {
		return err
	}
	if err := d.launch("k_attn_bwd_dq_tc", [3]int{ceilDiv(s.N, 64), s.Hq, 1}, [3]int{128, 1, 1}, 0,
		ptr(q), ptr(k), ptr(v), ptr(dout), ptr(lse), ptr(delta), ptr(dq), ptr(segStart), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale())); err != nil {
		return err
	}
	return d.launch("k_attn_bwd_dkv_tc", [3]int{ceilDiv(s.N, 64), s.Hkv, 1}, [3]int{128, 1, 1}, 0,
		ptr(q), ptr(k), ptr(v), ptr(dout), ptr(lse), ptr(delta), ptr(dk), ptr(dv), ptr(segStart), ptr(segEnd),
		i32(s.N), i32(s.Hq), i32(s.Hkv), i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale()))
}

// AttentionForwardTC2 is the pipelined tensor-core forward (v2): q, k, v
// are bf16 copies (from F32ToBF16) with row strides LdQ and LdKV, each a
// multiple of 8 elements and 16-byte aligned; o is fp32 (row stride LdO).
func (d *Device) AttentionForwardTC2(o, lse, qb, kb, vb, segStart Buf, s AttnShape) error {
	if !s.tc2OK(o, qb, kb, vb) {
		return fmt.Errorf("cuda: tensor-core attention v2 cannot run %+v", s)
	}
	return d.launch("k_attn2_fwd", [3]int{ceilDiv(s.N, 64), s.Hq, 1}, [3]int{128, 1, 1}, 0,
		ptr(qb), ptr(kb), ptr(vb), ptr(o), ptr(lse), ptr(segStart), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale()))
}

// AttentionBackwardTC2 is the pipelined tensor-core backward (v2): qb, kb,
// vb and dob are bf16 copies of q, k, v and dO (dO with row stride LdO); o
// and dout are the fp32 originals (for delta); dq, dk, dv are fp32.
func (d *Device) AttentionBackwardTC2(dq, dk, dv, qb, kb, vb, o, dout, dob, lse, delta, segStart, segEnd Buf, s AttnShape) error {
	if !s.tc2OK(dq, dk, dv, qb, kb, vb, dob) {
		return fmt.Errorf("cuda: tensor-core attention v2 cannot run %+v", s)
	}
	if err := d.launch("k_attn_delta", grid1(s.N*s.Hq, 256), b256, 0, ptr(o), ptr(dout), ptr(delta),
		i32(s.N), i32(s.Hq), i32(s.D), i32(s.LdO)); err != nil {
		return err
	}
	if err := d.launch("k_attn2_bwd_dq", [3]int{ceilDiv(s.N, 64), s.Hq, 1}, [3]int{128, 1, 1}, 0,
		ptr(qb), ptr(kb), ptr(vb), ptr(dob), ptr(lse), ptr(delta), ptr(dq), ptr(segStart), i32(s.N), i32(s.Hq), i32(s.Hkv),
		i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale())); err != nil {
		return err
	}
	return d.launch("k_attn2_bwd_dkv", [3]int{ceilDiv(s.N, 64), s.Hkv, 1}, [3]int{128, 1, 1}, 0,
		ptr(qb), ptr(kb), ptr(vb), ptr(dob), ptr(lse), ptr(delta), ptr(dk), ptr(dv), ptr(segStart), ptr(segEnd),
		i32(s.N), i32(s.Hq), i32(s.Hkv), i32(s.LdQ), i32(s.LdKV), i32(s.LdO), f32(s.scale()))
}

// tc2OK: head dim 64, bf16 rows of whole 16-byte chunks, aligned buffers.
func (s AttnShape) tc2OK(bufs ...Buf) bool {
	if s.D != 64 || s.LdQ%8 != 0 || s.LdKV%8 != 0 || s.LdO%8 != 0 || s.Hkv <= 0 || s.Hq%s.Hkv != 0 {
		return false
	}
	for _, b := range bufs {
		if b.Ptr%16 != 0 {
			return false
		}
	}
	return true
}

// Segments derives per-token document bounds for a packed batch of rows of
// length T: a document starts at each row start and wherever pos[i] is 0
// or does not continue pos[i-1]. It returns segStart and segEnd (exclusive).
func Segments(pos []int32, T int) (start, end []int32) {
	n := len(pos)
	start = make([]int32, n)
	end = make([]int32, n)
	s := 0
	for i := 0; i < n; i++ {
		if i%T == 0 || pos[i] == 0 || pos[i] != pos[i-1]+1 {
			s = i
		}
		start[i] = int32(s)
	}
	e := n
	for i := n - 1; i >= 0; i-- {
		end[i] = int32(e)
		if int(start[i]) == i {
			e = i
		}
	}
	return start, end
}

// ---------------------------------------------------------------- matmul

type gemmKey struct {
	ta, tb  bool
	m, n, k int
	outBF16 bool
	alignC  uint32 // alignment of C in bytes: cuBLASLt picks kernels by it
}

// DType of a matmul output.
type DType int

// Output element types.
const (
	F32 DType = iota
	BF16
)

// Gemm computes, in row-major terms, C[M,N] = alpha*op(A)[M,K]*op(B)[K,N] +
// beta*C, with A and B bf16 and C fp32 or bf16 (out), fp32 accumulation,
// through cuBLASLt. transA means A is stored [K,M]; transB means B is
// stored [N,K] (a PyTorch-style weight).
func (d *Device) Gemm(transA, transB bool, M, N, K int, alpha float32, A, B Buf, beta float32, Cm Buf, out DType) error {
	esz := 4
	if out == BF16 {
		esz = 2
	}
	if A.Len < M*K*2 || B.Len < K*N*2 || Cm.Len < M*N*esz {
		return fmt.Errorf("cuda: gemm %dx%dx%d buffers too small (%d, %d, %d bytes)", M, N, K, A.Len, B.Len, Cm.Len)
	}
	alignC := uint32(256)
	for Cm.Ptr%uint64(alignC) != 0 {
		alignC /= 2
	}
	key := gemmKey{transA, transB, M, N, K, out == BF16, alignC}
	d.mu.Lock()
	p, ok := d.plans[key]
	d.mu.Unlock()
	if !ok {
		// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T:
		// cuBLASLt's first operand is our B, its second our A.
		ta, lda := 0, N // B stored [K,N] row-major is col-major [N,K]
		if transB {
			ta, lda = 1, K
		}
		tb, ldb := 0, K
		if transA {
			tb, ldb = 1, M
		}
		ctype := 0 // CUDA_R_32F
		if out == BF16 {
			ctype = 14 // CUDA_R_16BF
		}
		p = (*C.kiln_plan)(C.calloc(1, C.size_t(unsafe.Sizeof(C.kiln_plan{}))))
		var found C.int
		r := C.kiln_plan_make(d.l.lt, d.lt, p, C.int(ta), C.int(tb), C.uint64_t(N), C.uint64_t(M), C.uint64_t(K),
			C.int64_t(lda), C.int64_t(ldb), C.int64_t(N), C.int(ctype), C.size_t(d.ws.Len), C.uint32_t(alignC), &found)
		if r != 0 || found == 0 {
			C.free(unsafe.Pointer(p))
			if r != 0 {
				return ltErr(r, fmt.Sprintf("cublasLt plan %dx%dx%d", M, N, K))
			}
			return fmt.Errorf("cublasLt: no algorithm for %dx%dx%d (transA=%v transB=%v out=%v)", M, N, K, transA, transB, out)
		}
		d.mu.Lock()
		d.plans[key] = p
		d.mu.Unlock()
	}
	r := C.kiln_plan_run(d.l.lt, d.l.cu, d.ctx, d.lt, p, C.float(alpha), C.float(beta),
		C.CUdeviceptr(B.Ptr), C.CUdeviceptr(A.Ptr), C.CUdeviceptr(Cm.Ptr), C.CUdeviceptr(d.ws.Ptr), C.size_t(d.ws.Len))
	return ltErr(r, fmt.Sprintf("cublasLtMatmul %dx%dx%d", M, N, K))
}
