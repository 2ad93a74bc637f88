//go:build cgo && linux

package cuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/kilnlm/kiln/kernels"
)

// Backend implements kernels.Backend on one GPU, so the trainer's model
// code runs unchanged on CUDA. Buffers hold fp32 (or int32) like the CPU
// backend's, so parameters and checkpoints move between backends as plain
// float32; matmuls convert their operands to bf16 on the fly and accumulate
// in fp32 through cuBLASLt.
//
// kernels.Backend methods return no errors: the first failure is kept, every
// later op becomes a no-op, Download fills NaN (so losses turn NaN and the
// trainer's health check stops), and Sync returns the failure.
type Backend struct {
	d   *Device
	err error

	// Reusable scratch, grown on demand. All work is queued on one stream,
	// so reusing a scratch buffer in the next op is ordered after its use.
	delta        Buf
	segS, segE   Buf
	rmsScratch   Buf
	sumsqScratch Buf
	embUniq      Buf
	embOffs      Buf
	embPos       Buf

	// attn picks the attention kernels: AttnTC2 (default), AttnTC or
	// AttnFP32 (KILN_CUDA_ATTN=tc2|tc|fp32). The tensor-core ones need head
	// dim 64 and aligned buffers; other shapes fall back to fp32.
	attn   AttnKernels
	attnBF Buf // bf16 copies of q, k, v, dO for AttnTC2

	// casts caches bf16 copies of recent matmul operands: the model reads
	// the same activation in several matmuls in a row (ln1 for q, k and v;
	// dlogits for dlnf and dE). Any op other than Matmul, Download and
	// SumSquares clears it; a Matmul clears entries its output overlaps.
	casts [4]castEntry
	tick  uint64

	// prof, when non-nil, accumulates the wall time of each op (every op
	// then synchronizes: for breakdowns, not for speed).
	prof map[string]*OpTime

	// allocs holds every live Alloc, so Close frees what callers (a model's
	// activations) never hand back.
	allocs map[uint64]int
}

var _ kernels.Backend = (*Backend)(nil)

// New opens GPU 0 and returns it as a kernels.Backend. Without a usable
// driver the error wraps ErrNoDriver and says which library was missing.
func New() (*Backend, error) { return NewWith(Options{}) }

// NewWith opens the GPU opt selects.
func NewWith(opt Options) (*Backend, error) {
	d, err := Open(opt)
	if err != nil {
		return nil, err
	}
	be := &Backend{d: d, allocs: map[uint64]int{}}
	switch os.Getenv("KILN_CUDA_ATTN") {
	case "fp32":
		be.attn = AttnFP32
	case "tc":
		be.attn = AttnTC
	}
	return be, nil
}

// AttnKernels names a family of attention kernels.
type AttnKernels int

// The attention kernel families.
const (
	AttnTC2  AttnKernels = iota // bf16 tensor cores, bf16 operands, cp.async pipelined
	AttnTC                      // bf16 tensor cores, fp32 operands converted per tile
	AttnFP32                    // fp32 CUDA cores, any head dim of 16, 32, 64
)

func (k AttnKernels) String() string { return [...]string{"tc2", "tc", "fp32"}[k] }

type castEntry struct {
	src   uint64 // device address of the fp32 source
	n     int    // elements
	buf   Buf    // the bf16 copy
	last  uint64 // tick of last use, for LRU
	valid bool
}

// bf16Of returns a bf16 copy of n floats at x, cast now or reused.
func (b *Backend) bf16Of(x Buf, n int) Buf {
	b.tick++
	victim := 0
	for i := range b.casts {
		e := &b.casts[i]
		if e.valid && e.src == x.Ptr && e.n == n {
			e.last = b.tick
			return e.buf
		}
		if !e.valid || (b.casts[victim].valid && e.last < b.casts[victim].last) {
			victim = i
		}
	}
	e := &b.casts[victim]
	e.valid = false
	buf := b.ensure(&e.buf, n*2)
	if b.err != nil {
		return Buf{}
	}
	b.fail(b.d.F32ToBF16(buf, x, n))
	e.src, e.n, e.last, e.valid = x.Ptr, n, b.tick, true
	return buf
}

// castsWritten drops cached copies whose source overlaps [p, p+bytes).
func (b *Backend) castsWritten(p uint64, bytes int) {
	for i := range b.casts {
		e := &b.casts[i]
		if e.valid && e.src < p+uint64(bytes) && p < e.src+uint64(e.n)*4 {
			e.valid = false
		}
	}
}

// castsClear drops every cached copy.
func (b *Backend) castsClear() {
	for i := range b.casts {
		b.casts[i].valid = false
	}
}

// OpTime is the accumulated time and call count of one Backend op.
type OpTime struct {
	Calls int
	Time  time.Duration
}

// Profile turns per-op timing on (synchronizing around every op) or off,
// and returns what was gathered so far.
func (b *Backend) Profile(on bool) map[string]*OpTime {
	old := b.prof
	if on {
		b.prof = map[string]*OpTime{}
	} else {
		b.prof = nil
	}
	return old
}

// span times one op when profiling; use as defer b.span("Op")().
func (b *Backend) span(name string) func() {
	switch name {
	case "Matmul", "Download", "SumSquares":
	default:
		b.castsClear() // the op may write memory a cached copy came from
	}
	if b.prof == nil || b.err != nil {
		return func() {}
	}
	b.fail(b.d.Sync())
	t0 := time.Now()
	return func() {
		b.fail(b.d.Sync())
		o := b.prof[name]
		if o == nil {
			o = &OpTime{}
			b.prof[name] = o
		}
		o.Calls++
		o.Time += time.Since(t0)
	}
}

// AttentionKernels reports the family SetAttentionKernels chose.
func (b *Backend) AttentionKernels() AttnKernels { return b.attn }

// SetAttentionKernels picks the attention kernels for later calls.
func (b *Backend) SetAttentionKernels(k AttnKernels) { b.attn = k }

// Device returns the underlying device (for benchmarks and diagnostics).
func (b *Backend) Device() *Device { return b.d }

// Close frees the scratch buffers and the device.
func (b *Backend) Close() error {
	for _, s := range []Buf{b.casts[0].buf, b.casts[1].buf, b.casts[2].buf, b.casts[3].buf, b.attnBF, b.delta, b.segS, b.segE, b.rmsScratch, b.sumsqScratch, b.embUniq, b.embOffs, b.embPos} {
		b.d.Free(s)
	}
	for p, n := range b.allocs {
		b.d.Free(Buf{Ptr: p, Len: n})
	}
	clear(b.allocs)
	return b.d.Close()
}

// dbuf is a device range of 4-byte elements.
type dbuf struct {
	ptr uint64
	n   int
}

func (x dbuf) Len() int { return x.n }

func (x dbuf) buf() Buf { return Buf{Ptr: x.ptr, Len: x.n * 4} }

func (b *Backend) fail(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

// raw unwraps a kernels.Buffer from this backend; nil gives a zero Buf.
func (b *Backend) raw(x kernels.Buffer) Buf {
	if x == nil {
		return Buf{}
	}
	d, ok := x.(dbuf)
	if !ok {
		b.fail(fmt.Errorf("cuda backend: foreign buffer %T", x))
		return Buf{}
	}
	return d.buf()
}

// ensure grows scratch s to at least n bytes.
func (b *Backend) ensure(s *Buf, n int) Buf {
	if s.Len >= n {
		return *s
	}
	if s.Ptr != 0 {
		b.fail(b.d.Free(*s))
	}
	nb, err := b.d.Alloc(n + n/8)
	if err != nil {
		b.fail(err)
		*s = Buf{}
		return Buf{}
	}
	*s = nb
	return nb
}

// Name implements kernels.Backend.
func (b *Backend) Name() string { return "cuda" }

// Threads implements kernels.Backend (0: not a CPU backend).
func (b *Backend) Threads() int { return 0 }

// Alloc implements kernels.Backend.
func (b *Backend) Alloc(n int) kernels.Buffer {
	b.castsClear()
	if b.err != nil {
		return dbuf{n: n}
	}
	x, err := b.d.Alloc(n * 4)
	if err != nil {
		b.fail(err)
		return dbuf{n: n}
	}
	b.allocs[x.Ptr] = x.Len
	b.fail(b.d.Memset(x, 0))
	return dbuf{ptr: x.Ptr, n: n}
}

// AllocInt32 implements kernels.Backend.
func (b *Backend) AllocInt32(n int) kernels.Buffer { return b.Alloc(n) }

// View implements kernels.Backend.
func (b *Backend) View(x kernels.Buffer, off, n int) kernels.Buffer {
	d, ok := x.(dbuf)
	if !ok || off < 0 || n < 0 || off+n > d.n {
		b.fail(fmt.Errorf("cuda backend: view [%d,%d) of a %d-element buffer", off, off+n, x.Len()))
		return dbuf{n: n}
	}
	return dbuf{ptr: d.ptr + uint64(off)*4, n: n}
}

// Free implements kernels.Backend.
func (b *Backend) Free(x kernels.Buffer) {
	b.castsClear()
	d, ok := x.(dbuf)
	if !ok || d.ptr == 0 {
		return
	}
	if _, live := b.allocs[d.ptr]; !live {
		b.fail(fmt.Errorf("cuda backend: Free of a view or of a buffer not from Alloc"))
		return
	}
	delete(b.allocs, d.ptr)
	b.fail(b.d.Free(d.buf()))
}

// Upload implements kernels.Backend.
func (b *Backend) Upload(dst kernels.Buffer, src []float32) {
	defer b.span("Upload")()
	if b.err != nil {
		return
	}
	b.fail(Upload(b.d, b.raw(dst), src))
}

// UploadInt32 implements kernels.Backend.
func (b *Backend) UploadInt32(dst kernels.Buffer, src []int32) {
	defer b.span("UploadInt32")()
	if b.err != nil {
		return
	}
	b.fail(Upload(b.d, b.raw(dst), src))
}

// Download implements kernels.Backend.
func (b *Backend) Download(dst []float32, src kernels.Buffer) {
	defer b.span("Download")()
	if b.err == nil {
		b.fail(Download(b.d, dst, b.raw(src)))
	}
	if b.err != nil {
		for i := range dst {
			dst[i] = float32(math.NaN())
		}
	}
}

// Sync implements kernels.Backend.
func (b *Backend) Sync() error {
	if b.err == nil {
		b.fail(b.d.Sync())
	}
	return b.err
}

// Err reports the first failure without waiting for the device.
func (b *Backend) Err() error { return b.err }

// Zero implements kernels.Backend.
func (b *Backend) Zero(x kernels.Buffer) {
	defer b.span("Zero")()
	if b.err == nil {
		b.fail(b.d.Memset(b.raw(x), 0))
	}
}

// Copy implements kernels.Backend.
func (b *Backend) Copy(dst, src kernels.Buffer) {
	defer b.span("Copy")()
	if b.err == nil {
		b.fail(b.d.CopyDtoD(b.raw(dst), b.raw(src), src.Len()*4))
	}
}

// Add implements kernels.Backend.
func (b *Backend) Add(dst, src kernels.Buffer) {
	defer b.span("Add")()
	if b.err == nil {
		b.fail(b.d.Add(b.raw(dst), b.raw(src), dst.Len()))
	}
}

// Scale implements kernels.Backend.
func (b *Backend) Scale(x kernels.Buffer, s float32) {
	defer b.span("Scale")()
	if b.err == nil {
		n := x.Len()
		b.fail(b.d.launch("k_scale", grid1(n, 256), b256, 0, ptr(b.raw(x)), f32(s), i64(n)))
	}
}

// SumSquares implements kernels.Backend.
func (b *Backend) SumSquares(x kernels.Buffer) float64 {
	defer b.span("SumSquares")()
	if b.err != nil {
		return math.NaN()
	}
	s, err := b.d.SumSquares(b.raw(x), x.Len(), b.ensure(&b.sumsqScratch, sumsqBlocks*4))
	b.fail(err)
	if b.err != nil {
		return math.NaN()
	}
	return s
}

// Matmul implements kernels.Backend: both operands are rounded to bf16 in
// scratch buffers, multiplied by cuBLASLt with fp32 accumulation, and the
// fp32 result written (or added) into out.
func (b *Backend) Matmul(out, a, bm kernels.Buffer, M, N, K int, transA, transB, accumulate bool) {
	defer b.span("Matmul")()
	if b.err != nil {
		return
	}
	na, nb := M*K, K*N
	if a.Len() < na || bm.Len() < nb || out.Len() < M*N {
		b.fail(fmt.Errorf("cuda backend: matmul %dx%dx%d with buffers of %d, %d, %d elements", M, N, K, a.Len(), bm.Len(), out.Len()))
		return
	}
	A := b.bf16Of(b.raw(a), na)
	B := b.bf16Of(b.raw(bm), nb)
	if b.err != nil {
		return
	}
	b.castsWritten(b.raw(out).Ptr, M*N*4)
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if b.err == nil {
		b.fail(b.d.Gemm(transA, transB, M, N, K, 1, A, B, beta, b.raw(out), F32))
	}
}

// Embedding implements kernels.Backend.
func (b *Backend) Embedding(out, tokens, table kernels.Buffer, N, C int) {
	defer b.span("Embedding")()
	if b.err == nil {
		b.fail(b.d.EmbedForward(b.raw(out), b.raw(tokens), b.raw(table), N, C))
	}
}

// EmbeddingBackward implements kernels.Backend. The token ids are brought to
// the host and grouped (a few KB), so each table row is summed by one thread
// in increasing n: deterministic without atomics.
func (b *Backend) EmbeddingBackward(dtable, tokens, dout kernels.Buffer, N, C int) {
	defer b.span("EmbeddingBackward")()
	if b.err != nil {
		return
	}
	ids := make([]int32, N)
	if err := Download(b.d, ids, b.raw(tokens)); err != nil {
		b.fail(err)
		return
	}
	g := GroupIDs(ids)
	U := b.ensure(&b.embUniq, len(g.Uniq)*4)
	O := b.ensure(&b.embOffs, len(g.Offs)*4)
	P := b.ensure(&b.embPos, len(g.Pos)*4)
	if b.err != nil {
		return
	}
	b.fail(Upload(b.d, U, g.Uniq))
	b.fail(Upload(b.d, O, g.Offs))
	b.fail(Upload(b.d, P, g.Pos))
	if b.err == nil {
		b.fail(b.d.EmbedBackward(b.raw(dtable), b.raw(dout), U, O, P, len(g.Uniq), C))
	}
}

// RMSNorm implements kernels.Backend.
func (b *Backend) RMSNorm(out, rstd, x, w kernels.Buffer, N, C int, eps float32) {
	defer b.span("RMSNorm")()
	if b.err == nil {
		b.fail(b.d.RMSNormForward(b.raw(out), Buf{}, b.raw(rstd), b.raw(x), b.raw(w), N, C, eps))
	}
}

// RMSNormBackward implements kernels.Backend.
func (b *Backend) RMSNormBackward(dx, dw, dout, x, w, rstd kernels.Buffer, N, C int) {
	defer b.span("RMSNormBackward")()
	if b.err != nil {
		return
	}
	s := b.ensure(&b.rmsScratch, RMSNormScratch(N, C))
	if b.err == nil {
		b.fail(b.d.RMSNormBackward(b.raw(dx), b.raw(dw), b.raw(x), b.raw(w), b.raw(rstd), b.raw(dout), s, N, C))
	}
}

// RoPE implements kernels.Backend.
func (b *Backend) RoPE(x, pos kernels.Buffer, N, H, D int, base float32) {
	defer b.span("RoPE")()
	if b.err == nil {
		b.fail(b.d.RoPE(b.raw(x), b.raw(pos), N, H, D, H*D, base, false, false))
	}
}

// RoPEBackward implements kernels.Backend.
func (b *Backend) RoPEBackward(dx, pos kernels.Buffer, N, H, D int, base float32) {
	defer b.span("RoPEBackward")()
	if b.err == nil {
		b.fail(b.d.RoPE(b.raw(dx), b.raw(pos), N, H, D, H*D, base, true, false))
	}
}

// SwiGLU implements kernels.Backend.
func (b *Backend) SwiGLU(out, gate, up kernels.Buffer, N, F int) {
	defer b.span("SwiGLU")()
	if b.err == nil {
		b.fail(b.d.SwiGLUForward(b.raw(out), Buf{}, b.raw(gate), b.raw(up), F, N, F))
	}
}

// SwiGLUBackward implements kernels.Backend.
func (b *Backend) SwiGLUBackward(dgate, dup, dout, gate, up kernels.Buffer, N, F int) {
	defer b.span("SwiGLUBackward")()
	if b.err == nil {
		b.fail(b.d.SwiGLUBackward(b.raw(dgate), b.raw(dup), Buf{}, Buf{}, b.raw(gate), b.raw(up), b.raw(dout), F, N, F))
	}
}

// segments fills the per-token document bounds for a packed (B, T) batch.
func (b *Backend) segments(pos kernels.Buffer, N, T int) (Buf, Buf) {
	ss := b.ensure(&b.segS, N*4)
	se := b.ensure(&b.segE, N*4)
	if b.err != nil {
		return Buf{}, Buf{}
	}
	b.fail(b.d.launch("k_seg_start", grid1(N, 256), b256, 0, ptr(b.raw(pos)), i32(N), i32(T), ptr(ss)))
	b.fail(b.d.launch("k_seg_end", grid1(N, 256), b256, 0, ptr(ss), i32(N), i32(T), ptr(se)))
	return ss, se
}

// Attention implements kernels.Backend.
func (b *Backend) Attention(out, lse, q, k, v, pos kernels.Buffer, B, T, H, KV, D int) {
	defer b.span("Attention")()
	if b.err != nil {
		return
	}
	N := B * T
	ss, _ := b.segments(pos, N, T)
	s := AttnShape{N: N, Hq: H, Hkv: KV, D: D, LdQ: H * D, LdKV: KV * D, LdO: H * D}
	if b.err != nil {
		return
	}
	if b.attn == AttnTC2 && s.tc2OK(b.raw(out)) && s.LdQ == H*D {
		qb, kb, vb, _ := b.bf16Copies(N, H, KV, D)
		if b.err != nil {
			return
		}
		b.fail(b.d.F32ToBF16(qb, b.raw(q), N*H*D))
		b.fail(b.d.F32ToBF16(kb, b.raw(k), N*KV*D))
		b.fail(b.d.F32ToBF16(vb, b.raw(v), N*KV*D))
		if b.err == nil {
			b.fail(b.d.AttentionForwardTC2(b.raw(out), b.raw(lse), qb, kb, vb, ss, s))
		}
		return
	}
	if b.attn == AttnTC && s.TensorCoreOK(b.raw(out), b.raw(q), b.raw(k), b.raw(v)) {
		b.fail(b.d.AttentionForwardTC(b.raw(out), b.raw(lse), b.raw(q), b.raw(k), b.raw(v), ss, s))
		return
	}
	b.fail(b.d.AttentionForward(b.raw(out), Buf{}, b.raw(lse), b.raw(q), b.raw(k), b.raw(v), ss, s))
}

// AttentionBackward implements kernels.Backend.
func (b *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, pos kernels.Buffer, B, T, H, KV, D int) {
	defer b.span("AttentionBackward")()
	if b.err != nil {
		return
	}
	N := B * T
	ss, se := b.segments(pos, N, T)
	delta := b.ensure(&b.delta, N*H*4)
	s := AttnShape{N: N, Hq: H, Hkv: KV, D: D, LdQ: H * D, LdKV: KV * D, LdO: H * D}
	if b.err != nil {
		return
	}
	if b.attn == AttnTC2 && s.tc2OK(b.raw(dq), b.raw(dk), b.raw(dv)) {
		qb, kb, vb, dob := b.bf16Copies(N, H, KV, D)
		if b.err != nil {
			return
		}
		b.fail(b.d.F32ToBF16(qb, b.raw(q), N*H*D))
		b.fail(b.d.F32ToBF16(kb, b.raw(k), N*KV*D))
		b.fail(b.d.F32ToBF16(vb, b.raw(v), N*KV*D))
		b.fail(b.d.F32ToBF16(dob, b.raw(dout), N*H*D))
		if b.err == nil {
			b.fail(b.d.AttentionBackwardTC2(b.raw(dq), b.raw(dk), b.raw(dv), qb, kb, vb, b.raw(out), b.raw(dout), dob,
				b.raw(lse), delta, ss, se, s))
		}
		return
	}
	if b.attn == AttnTC && s.TensorCoreOK(b.raw(dq), b.raw(dk), b.raw(dv), b.raw(q), b.raw(k), b.raw(v), b.raw(dout)) {
		b.fail(b.d.AttentionBackwardTC(b.raw(dq), b.raw(dk), b.raw(dv), b.raw(q), b.raw(k), b.raw(v), b.raw(out),
			b.raw(dout), b.raw(lse), delta, ss, se, s))
		return
	}
	b.fail(b.d.AttentionBackward(b.raw(dq), b.raw(dk), b.raw(dv), b.raw(q), b.raw(k), b.raw(v), b.raw(out),
		b.raw(dout), b.raw(lse), delta, ss, se, s))
}

// bf16Copies carves the AttnTC2 scratch into bf16 q, k, v and dO buffers,
// each starting on a 256-byte boundary.
func (b *Backend) bf16Copies(N, H, KV, D int) (qb, kb, vb, dob Buf) {
	r := func(n int) int { return (n*2 + 255) &^ 255 }
	nq, nk := r(N*H*D), r(N*KV*D)
	all := b.ensure(&b.attnBF, 2*nq+2*nk)
	if b.err != nil {
		return
	}
	qb = Buf{Ptr: all.Ptr, Len: nq}
	kb = Buf{Ptr: all.Ptr + uint64(nq), Len: nk}
	vb = Buf{Ptr: all.Ptr + uint64(nq+nk), Len: nk}
	dob = Buf{Ptr: all.Ptr + uint64(nq+2*nk), Len: nq}
	return
}

// CrossEntropy implements kernels.Backend.
func (b *Backend) CrossEntropy(losses, dlogits, logits, targets, mask kernels.Buffer, N, V int, gradScale float32) {
	defer b.span("CrossEntropy")()
	if b.err != nil {
		return
	}
	var dl, mk Buf
	if dlogits != nil {
		dl, mk = b.raw(dlogits), b.raw(mask)
	}
	b.fail(b.d.launch("k_xent_f32", [3]int{N, 1, 1}, [3]int{1024, 1, 1}, 0, ptr(b.raw(logits)), ptr(dl),
		ptr(b.raw(targets)), ptr(mk), ptr(b.raw(losses)), i32(V), f32(gradScale)))
}

// AdamW implements kernels.Backend.
func (b *Backend) AdamW(param, grad, m, v kernels.Buffer, lr, b1, b2, eps, wd, gradScale float32, t int) {
	defer b.span("AdamW")()
	if b.err != nil {
		return
	}
	if t < 1 {
		b.fail(errors.New("cuda backend: AdamW step must be >= 1"))
		return
	}
	b.fail(b.d.AdamW(b.raw(param), b.raw(grad), b.raw(m), b.raw(v), Buf{}, param.Len(),
		AdamWParams{LR: lr, Beta1: b1, Beta2: b2, Eps: eps, WeightDecay: wd, Step: t, GradScale: gradScale}))
}
