//go:build cgo && linux

package cuda_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnlm/kiln/kernels"
	"github.com/kilnlm/kiln/kernels/cuda"
	"github.com/kilnlm/kiln/trainer"
)

// openBackend opens the CUDA backend or skips (no driver or no GPU: always
// the case in CI).
func openBackend(t testing.TB) *cuda.Backend {
	t.Helper()
	dir := os.Getenv("KILN_CUDA_TEST_CACHE")
	if dir == "" {
		dir = t.TempDir()
	}
	be, err := cuda.NewWith(cuda.Options{CacheDir: dir})
	if errors.Is(err, cuda.ErrNoDriver) {
		t.Skipf("no CUDA GPU: %v", err)
	}
	if err != nil {
		t.Fatalf("open CUDA backend: %v", err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// packedInput builds a (B, T) batch of random tokens in documents of random
// length up to maxDoc (some crossing row boundaries), next-token targets and
// a loss mask that is 0 where the next token starts a new document.
func packedInput(r *rand.Rand, B, T, V, maxDoc int) trainer.Input {
	N := B * T
	in := trainer.Input{B: B, T: T, Tokens: make([]int32, N), Targets: make([]int32, N),
		Positions: make([]int32, N), LossMask: make([]float32, N)}
	p, left := 0, 0
	for i := 0; i < N; i++ {
		if left == 0 {
			p, left = 0, 1+r.IntN(maxDoc)
		}
		in.Tokens[i] = int32(r.IntN(V))
		in.Positions[i] = int32(p)
		p++
		left--
	}
	for i := 0; i < N; i++ {
		next := (i + 1) % N
		in.Targets[i] = in.Tokens[next]
		if i+1 < N && in.Positions[i+1] != 0 {
			in.LossMask[i] = 1
		}
	}
	return in
}

func relNorm(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

// TestTrainStepParity runs one training step of the trainer's model on the
// CPU and the CUDA backends from the same weights and batch: the masked mean
// loss must agree to 1e-3 relative (bf16 matmuls), the gradients by
// relative norm, and the AdamW update likewise. The weights then move
// GPU -> CPU as plain float32 (what a checkpoint stores) bit for bit.
func TestTrainStepParity(t *testing.T) {
	gpu := openBackend(t)
	for _, k := range attnKinds() {
		t.Run("attention="+k.String(), func(t *testing.T) {
			gpu.SetAttentionKernels(k)
			trainStepParity(t, gpu)
		})
	}
}

func trainStepParity(t *testing.T, gpu *cuda.Backend) {
	// Head dim 64, so the tensor-core attention applies; every third layer
	// is NoPE.
	cfg := trainer.Config{Name: "parity", Vocab: 512, Dim: 256, Layers: 3, Heads: 4, KVHeads: 2, FFN: 640,
		RopeBase: 10000, NoPEEvery: 3, MaxSeq: 256, NormEps: 1e-5, InitStd: 0.05}
	cpu := kernels.NewCPU(0)
	mc, err := trainer.NewModel(cpu, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	mg, err := trainer.NewModel(gpu, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	in := packedInput(r, 2, 128, cfg.Vocab, 90)
	valid := 0
	for _, m := range in.LossMask {
		valid += int(m)
	}
	gs := float32(1 / float64(valid))
	step := func(m *trainer.Model, be kernels.Backend) (float64, []float32, []float32) {
		m.ZeroGrad()
		losses, err := m.Forward(in, gs)
		if err != nil {
			t.Fatal(err)
		}
		m.Backward()
		var loss float64
		for i, l := range losses {
			loss += float64(l) * float64(in.LossMask[i])
		}
		loss /= float64(valid)
		g := make([]float32, m.NumParams())
		be.Download(g, m.Grads)
		mo, vo := be.Alloc(m.NumParams()), be.Alloc(m.NumParams())
		be.AdamW(m.Params, m.Grads, mo, vo, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1, 1)
		if err := be.Sync(); err != nil {
			t.Fatal(err)
		}
		return loss, g, m.HostParams()
	}
	p0 := mc.HostParams()
	lc, gc, pc := step(mc, cpu)
	lg, gg, pg := step(mg, gpu)
	rl := math.Abs(lg-lc) / math.Abs(lc)
	rg := relNorm(gg, gc)
	dc := make([]float32, len(pc))
	dg := make([]float32, len(pg))
	for i := range pc {
		dc[i], dg[i] = pc[i]-p0[i], pg[i]-p0[i]
	}
	ru := relNorm(dg, dc)
	t.Logf("loss cpu %.6f gpu %.6f rel %.2e; grad rel norm %.2e; AdamW update rel norm %.2e", lc, lg, rl, rg, ru)
	if !(rl < 1e-3) {
		t.Errorf("loss differs by %.2e relative (limit 1e-3)", rl)
	}
	if !(rg < 3e-2) {
		t.Errorf("gradients differ by %.2e relative norm (limit 3e-2)", rg)
	}
	// Adam normalises each coordinate, so tiny gradients whose sign flips
	// under bf16 rounding move by a full lr: compare loosely.
	if !(ru < 0.2) {
		t.Errorf("AdamW updates differ by %.2e relative norm (limit 0.2)", ru)
	}
	// Checkpoint direction GPU -> CPU and back: parameters are plain float32.
	cpu.Upload(mc.Params, pg)
	if got := mc.HostParams(); relNorm(got, pg) != 0 {
		t.Errorf("GPU weights did not round-trip through the CPU backend")
	}
	gpu.Upload(mg.Params, pc)
	if got := mg.HostParams(); relNorm(got, pc) != 0 {
		t.Errorf("CPU weights did not round-trip through the GPU backend")
	}
}

// TestBackendDocMasking checks through the Backend interface, on the GPU,
// that a packed row of documents gives the same attention as each document
// run alone, and matches the CPU backend.
func TestBackendDocMasking(t *testing.T) {
	gpu := openBackend(t)
	cpu := kernels.NewCPU(0)
	r := rand.New(rand.NewPCG(2, 2))
	H, KV, D := 4, 2, 64
	lens := []int{50, 1, 77, 128}
	T := 0
	for _, l := range lens {
		T += l
	}
	var pos []int32
	for _, l := range lens {
		for p := 0; p < l; p++ {
			pos = append(pos, int32(p))
		}
	}
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	q, k, v := rnd(T*H*D), rnd(T*KV*D), rnd(T*KV*D)
	run := func(be kernels.Backend, q, k, v []float32, pos []int32) []float32 {
		n := len(pos)
		Q, K, V, O, L := be.Alloc(len(q)), be.Alloc(len(k)), be.Alloc(len(v)), be.Alloc(len(q)), be.Alloc(n*H)
		P := be.AllocInt32(n)
		be.Upload(Q, q)
		be.Upload(K, k)
		be.Upload(V, v)
		be.UploadInt32(P, pos)
		be.Attention(O, L, Q, K, V, P, 1, n, H, KV, D)
		out := make([]float32, len(q))
		be.Download(out, O)
		if err := be.Sync(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := run(cpu, q, k, v, pos)
	for _, kind := range attnKinds() {
		gpu.SetAttentionKernels(kind)
		// fp32 kernels match the CPU to rounding; the tensor-core ones use
		// bf16 operands.
		tolCPU, tolAlone := 1e-5, 1e-6
		if kind != cuda.AttnFP32 {
			tolCPU, tolAlone = 2e-2, 1e-2
		}
		packed := run(gpu, q, k, v, pos)
		if e := relNorm(packed, want); !(e < tolCPU) {
			t.Errorf("%v: GPU vs CPU packed attention: rel %.2e", kind, e)
		}
		off := 0
		for _, l := range lens {
			alone := run(gpu, q[off*H*D:(off+l)*H*D], k[off*KV*D:(off+l)*KV*D], v[off*KV*D:(off+l)*KV*D], pos[off:off+l])
			if e := relNorm(packed[off*H*D:(off+l)*H*D], alone); !(e < tolAlone) {
				t.Errorf("%v: document at %d (len %d): packed vs alone rel %.2e", kind, off, l, e)
			}
			off += l
		}
	}
}

// attnKinds lists the attention kernel families under test
// (KILN_CUDA_SKIP_TC2=1 leaves out v2).
func attnKinds() []cuda.AttnKernels {
	if os.Getenv("KILN_CUDA_SKIP_TC2") != "" {
		return []cuda.AttnKernels{cuda.AttnTC, cuda.AttnFP32}
	}
	return []cuda.AttnKernels{cuda.AttnTC2, cuda.AttnTC, cuda.AttnFP32}
}

// peakBF16 is the dense bf16 tensor-core peak used for MFU: the datasheet
// figure for the card, or KILN_PEAK_TFLOPS.
func peakBF16(name string) float64 {
	if s := os.Getenv("KILN_PEAK_TFLOPS"); s != "" {
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v * 1e12
		}
	}
	switch {
	case strings.Contains(name, "H100"), strings.Contains(name, "H200"), strings.Contains(name, "H800"):
		return 989.4e12
	case strings.Contains(name, "A100"), strings.Contains(name, "A800"):
		return 312e12
	}
	return 989.4e12
}

// BenchmarkTrainStep times full training steps (forward, backward, AdamW on
// every parameter) of the trainer's model on the GPU at the SmolLM2-135M and
// GPT-2-124M shapes, and reports tokens/s and bf16 MFU (FLOPs counted by
// trainer.Config.FlopsPerToken, 6N plus causal attention).
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		preset string
		B, T   int
	}{{"smollm2-135m", 8, 2048}, {"gpt2-124m", 16, 1024}} {
		b.Run(c.preset, func(b *testing.B) {
			be := openBackend(b)
			cfg := trainer.Presets()[c.preset]
			m, err := trainer.NewModel(be, cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 3))
			// One document per row (full causal attention), the convention
			// under which FlopsPerToken counts attention.
			in := packedInput(r, c.B, c.T, cfg.Vocab, c.T)
			for i := range in.Positions {
				in.Positions[i] = int32(i % c.T)
				in.LossMask[i] = 1
			}
			N := c.B * c.T
			mo, vo := be.Alloc(m.NumParams()), be.Alloc(m.NumParams())
			var fwd, bwd, opt time.Duration
			t0 := 0
			step := func() {
				t0++
				s := time.Now()
				m.ZeroGrad()
				if _, err := m.Forward(in, float32(1/float64(N))); err != nil {
					b.Fatal(err)
				}
				s1 := time.Now()
				m.Backward()
				if err := be.Sync(); err != nil {
					b.Fatal(err)
				}
				s2 := time.Now()
				be.AdamW(m.Params, m.Grads, mo, vo, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1, t0)
				if err := be.Sync(); err != nil {
					b.Fatal(err)
				}
				fwd += s1.Sub(s)
				bwd += s2.Sub(s1)
				opt += time.Since(s2)
			}
			step() // warm-up: cuBLASLt plans, scratch growth
			fwd, bwd, opt = 0, 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			tps := float64(N*b.N) / sec
			mfu := cfg.FlopsPerToken(c.T) * tps / peakBF16(be.Device().Info.Name)
			b.ReportMetric(tps, "tok/s")
			b.ReportMetric(100*mfu, "MFU%")
			// One more step with per-op timing (each op synchronized).
			f0, b0, o0 := fwd, bwd, opt
			be.Profile(true)
			step()
			prof := be.Profile(false)
			fwd, bwd, opt = f0, b0, o0
			type row struct {
				name string
				t    *cuda.OpTime
			}
			var rows []row
			var tot time.Duration
			for k, v := range prof {
				rows = append(rows, row{k, v})
				tot += v.Time
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].t.Time > rows[j].t.Time })
			var sb strings.Builder
			for _, r := range rows {
				fmt.Fprintf(&sb, " %s %.1fms/%d (%.0f%%);", r.name, r.t.Time.Seconds()*1e3, r.t.Calls, 100*r.t.Time.Seconds()/tot.Seconds())
			}
			b.Logf("%s per-op profile (synchronized step, %.1f ms):%s", c.preset, tot.Seconds()*1e3, sb.String())
			n := float64(b.N)
			b.Logf("%s on %s, attention %s: B=%d T=%d params=%d: %.0f tok/s, MFU %.1f%%; per step fwd %.1f ms, bwd %.1f ms, adamw %.1f ms",
				c.preset, be.Device().Info.Name, be.AttentionKernels(), c.B, c.T, m.NumParams(), tps, 100*mfu,
				fwd.Seconds()*1e3/n, bwd.Seconds()*1e3/n, opt.Seconds()*1e3/n)
		})
	}
}

// BenchmarkGemm measures the bf16 cuBLASLt ceiling through Kiln's path and
// the SmolLM2 LM-head shape.
func BenchmarkGemm(b *testing.B) {
	for _, s := range [][3]int{{8192, 8192, 8192}, {16384, 49152, 576}, {16384, 576, 1536}} {
		M, N, K := s[0], s[1], s[2]
		b.Run(strconv.Itoa(M)+"x"+strconv.Itoa(N)+"x"+strconv.Itoa(K), func(b *testing.B) {
			be := openBackend(b)
			d := be.Device()
			A, err := d.Alloc(M * K * 2)
			if err != nil {
				b.Fatal(err)
			}
			B, _ := d.Alloc(K * N * 2)
			C, _ := d.Alloc(M * N * 4)
			defer d.Free(A)
			defer d.Free(B)
			defer d.Free(C)
			// Random-ish bf16 bits (small normal numbers), never zeros.
			host := make([]uint16, max(M*K, K*N))
			rr := rand.New(rand.NewPCG(4, 4))
			for i := range host {
				host[i] = 0x3c00 + uint16(rr.IntN(0x0400)) ^ uint16(rr.IntN(2))<<15
			}
			cuda.Upload(d, A, host[:M*K])
			cuda.Upload(d, B, host[:K*N])
			if err := d.Gemm(false, true, M, N, K, 1, A, B, 0, C, cuda.F32); err != nil {
				b.Fatal(err)
			}
			d.Sync()
			b.ResetTimer()
			e0, _ := d.Record()
			for i := 0; i < b.N*5; i++ {
				d.Gemm(false, true, M, N, K, 1, A, B, 0, C, cuda.F32)
			}
			e1, _ := d.Record()
			ms, err := d.Elapsed(e0, e1)
			if err != nil {
				b.Fatal(err)
			}
			tf := 2 * float64(M) * float64(N) * float64(K) * float64(b.N*5) / (ms / 1e3) / 1e12
			b.ReportMetric(tf, "TFLOP/s")
		})
	}
}

// BenchmarkAttention times the varlen attention forward and backward at the
// SmolLM2-135M shape (9 query heads, 3 kv heads, head dim 64) over full rows
// of 2048, reporting causal TFLOP/s (4*T^2/2*H*D per row forward, 2.5x that
// backward).
func BenchmarkAttention(b *testing.B) {
	for _, k := range attnKinds() {
		b.Run(k.String(), func(b *testing.B) { benchAttention(b, k) })
	}
}

func benchAttention(b *testing.B, kind cuda.AttnKernels) {
	be := openBackend(b)
	be.SetAttentionKernels(kind)
	B, T, H, KV, D := 8, 2048, 9, 3, 64
	N := B * T
	q, k, v := be.Alloc(N*H*D), be.Alloc(N*KV*D), be.Alloc(N*KV*D)
	o, l, do := be.Alloc(N*H*D), be.Alloc(N*H), be.Alloc(N*H*D)
	dq, dk, dv := be.Alloc(N*H*D), be.Alloc(N*KV*D), be.Alloc(N*KV*D)
	pos := be.AllocInt32(N)
	rr := rand.New(rand.NewPCG(5, 5))
	fill := func(x kernels.Buffer) {
		h := make([]float32, x.Len())
		for i := range h {
			h[i] = float32(rr.NormFloat64())
		}
		be.Upload(x, h)
	}
	fill(q)
	fill(k)
	fill(v)
	fill(do)
	p := make([]int32, N)
	for i := range p {
		p[i] = int32(i % T)
	}
	be.UploadInt32(pos, p)
	be.Attention(o, l, q, k, v, pos, B, T, H, KV, D)
	be.AttentionBackward(dq, dk, dv, do, q, k, v, o, l, pos, B, T, H, KV, D)
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
	d := be.Device()
	flops := 4 * float64(B) * float64(T) * float64(T) / 2 * float64(H) * float64(D)
	b.ResetTimer()
	e0, _ := d.Record()
	for i := 0; i < b.N; i++ {
		be.Attention(o, l, q, k, v, pos, B, T, H, KV, D)
	}
	e1, _ := d.Record()
	fms, err := d.Elapsed(e0, e1)
	if err != nil {
		b.Fatal(err)
	}
	e0, _ = d.Record()
	for i := 0; i < b.N; i++ {
		be.AttentionBackward(dq, dk, dv, do, q, k, v, o, l, pos, B, T, H, KV, D)
	}
	e1, _ = d.Record()
	bms, err := d.Elapsed(e0, e1)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(fms/n, "fwd-ms")
	b.ReportMetric(bms/n, "bwd-ms")
	b.ReportMetric(flops/(fms/n/1e3)/1e12, "fwd-TFLOP/s")
	b.ReportMetric(2.5*flops/(bms/n/1e3)/1e12, "bwd-TFLOP/s")
}
