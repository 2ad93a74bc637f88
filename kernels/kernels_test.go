package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int, s float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * s
	}
	return x
}

// weighted returns sum(w*out) in float64: the scalar whose gradient w.r.t.
// out is w.
func weighted(out, w []float32) float64 {
	var s float64
	for i := range out {
		s += float64(out[i]) * float64(w[i])
	}
	return s
}

// gradCheck compares an analytic gradient g of f with central differences
// on every element of x (x is perturbed in place and restored).
func gradCheck(t *testing.T, name string, x, g []float32, f func() float64) {
	t.Helper()
	const eps = 1e-2
	var worst float64
	for i := range x {
		old := x[i]
		x[i] = old + eps
		fp := f()
		x[i] = old - eps
		fm := f()
		x[i] = old
		fd := (fp - fm) / (2 * eps)
		err := math.Abs(fd-float64(g[i])) / math.Max(1, math.Abs(fd))
		worst = max(worst, err)
		if err > 2e-2 {
			t.Fatalf("%s: grad[%d] analytic %g, finite difference %g", name, i, g[i], fd)
		}
	}
	t.Logf("%s: %d elements, worst relative error %.2e", name, len(x), worst)
}

func refMatmul(a, b []float32, M, N, K int, ta, tb bool) []float64 {
	o := make([]float64, M*N)
	for i := 0; i < M; i++ {
		for j := 0; j < N; j++ {
			var s float64
			for k := 0; k < K; k++ {
				av := a[i*K+k]
				if ta {
					av = a[k*M+i]
				}
				bv := b[k*N+j]
				if tb {
					bv = b[j*K+k]
				}
				s += float64(av) * float64(bv)
			}
			o[i*N+j] = s
		}
	}
	return o
}

func TestMatmul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ M, N, K int }{{1, 1, 1}, {8, 32, 16}, {13, 45, 300}, {70, 600, 33}, {9, 3, 520}}
	for _, tc := range cases {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, acc := range []bool{false, true} {
					a := randSlice(r, tc.M*tc.K, 1)
					b := randSlice(r, tc.K*tc.N, 1)
					out := randSlice(r, tc.M*tc.N, 1)
					init := append([]float32(nil), out...)
					for _, threads := range []int{1, 2, 3} {
						o := append([]float32(nil), init...)
						NewCPU(threads).Matmul(F32(o), F32(a), F32(b), tc.M, tc.N, tc.K, ta, tb, acc)
						ref := refMatmul(a, b, tc.M, tc.N, tc.K, ta, tb)
						for i := range ref {
							want := ref[i]
							if acc {
								want += float64(init[i])
							}
							if math.Abs(float64(o[i])-want) > 1e-3*math.Sqrt(float64(tc.K))+1e-4 {
								t.Fatalf("%+v ta=%v tb=%v acc=%v threads=%d: out[%d]=%g want %g", tc, ta, tb, acc, threads, i, o[i], want)
							}
						}
						if threads == 1 {
							out = o
						} else {
							for i := range o {
								if o[i] != out[i] {
									t.Fatalf("%+v: %d threads differ from 1 thread at %d", tc, threads, i)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestRMSNormGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c := NewCPU(2)
	N, C := 3, 8
	x, w := randSlice(r, N*C, 1), randSlice(r, C, 1)
	dout := randSlice(r, N*C, 1)
	out, rstd := make([]float32, N*C), make([]float32, N)
	f := func() float64 { c.RMSNorm(F32(out), F32(rstd), F32(x), F32(w), N, C, 1e-5); return weighted(out, dout) }
	f()
	dx, dw := make([]float32, N*C), make([]float32, C)
	c.RMSNormBackward(F32(dx), F32(dw), F32(dout), F32(x), F32(w), F32(rstd), N, C)
	gradCheck(t, "rmsnorm dx", x, dx, f)
	gradCheck(t, "rmsnorm dw", w, dw, f)
}

func TestSwiGLUGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := NewCPU(2)
	N, F := 3, 7
	g, u, dout := randSlice(r, N*F, 1), randSlice(r, N*F, 1), randSlice(r, N*F, 1)
	out := make([]float32, N*F)
	f := func() float64 { c.SwiGLU(F32(out), F32(g), F32(u), N, F); return weighted(out, dout) }
	dg, du := make([]float32, N*F), make([]float32, N*F)
	c.SwiGLUBackward(F32(dg), F32(du), F32(dout), F32(g), F32(u), N, F)
	gradCheck(t, "swiglu dgate", g, dg, f)
	gradCheck(t, "swiglu dup", u, du, f)
}

func TestRoPEGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	c := NewCPU(2)
	N, H, D := 4, 2, 8
	x, dout := randSlice(r, N*H*D, 1), randSlice(r, N*H*D, 1)
	pos := I32{0, 1, 2, 0}
	f := func() float64 {
		y := append([]float32(nil), x...)
		c.RoPE(F32(y), pos, N, H, D, 10000)
		return weighted(y, dout)
	}
	dx := append([]float32(nil), dout...)
	c.RoPEBackward(F32(dx), pos, N, H, D, 10000)
	gradCheck(t, "rope dx", x, dx, f)
	// Position 0 is the identity; a rotation keeps the norm.
	y := append([]float32(nil), x...)
	c.RoPE(F32(y), pos, N, H, D, 10000)
	for i := 0; i < H*D; i++ {
		if y[i] != x[i] {
			t.Fatalf("rope at position 0 changed element %d", i)
		}
	}
}

func TestEmbeddingGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	c := NewCPU(2)
	V, N, C := 5, 6, 4
	table, dout := randSlice(r, V*C, 1), randSlice(r, N*C, 1)
	tok := I32{1, 3, 1, 0, 4, 1}
	out := make([]float32, N*C)
	f := func() float64 { c.Embedding(F32(out), tok, F32(table), N, C); return weighted(out, dout) }
	dt := make([]float32, V*C)
	c.EmbeddingBackward(F32(dt), tok, F32(dout), N, C)
	gradCheck(t, "embedding dtable", table, dt, f)
}

func TestCrossEntropyGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	c := NewCPU(2)
	N, V := 4, 9
	logits := randSlice(r, N*V, 2)
	tg := I32{0, 8, 3, 3}
	mask := F32{1, 0, 1, 1}
	losses := make([]float32, N)
	f := func() float64 {
		c.CrossEntropy(F32(losses), nil, F32(logits), tg, mask, N, V, 1)
		var s float64
		for i, l := range losses {
			s += float64(l * mask[i] * 0.5)
		}
		return s
	}
	d := make([]float32, N*V)
	c.CrossEntropy(F32(losses), F32(d), F32(logits), tg, mask, N, V, 0.5)
	gradCheck(t, "cross-entropy dlogits", logits, d, f)
}

func TestAttentionGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	c := NewCPU(2)
	B, T, H, KV, D := 2, 5, 4, 2, 4
	N := B * T
	q, k, v := randSlice(r, N*H*D, 1), randSlice(r, N*KV*D, 1), randSlice(r, N*KV*D, 1)
	dout := randSlice(r, N*H*D, 1)
	pos := I32{0, 1, 2, 0, 1, 3, 4, 0, 1, 2} // row 1 starts mid-document
	out, lse := make([]float32, N*H*D), make([]float32, N*H)
	f := func() float64 {
		c.Attention(F32(out), F32(lse), F32(q), F32(k), F32(v), pos, B, T, H, KV, D)
		return weighted(out, dout)
	}
	f()
	dq, dk, dv := make([]float32, N*H*D), make([]float32, N*KV*D), make([]float32, N*KV*D)
	c.AttentionBackward(F32(dq), F32(dk), F32(dv), F32(dout), F32(q), F32(k), F32(v), F32(out), F32(lse), pos, B, T, H, KV, D)
	gradCheck(t, "attention dq", q, dq, f)
	gradCheck(t, "attention dk", k, dk, f)
	gradCheck(t, "attention dv", v, dv, f)
}

// TestAttentionDocMask checks that a token never attends across a document
// boundary: changing keys/values of document 1 leaves document 2's outputs.
func TestAttentionDocMask(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	c := NewCPU(1)
	T, H, D := 6, 2, 4
	q, k, v := randSlice(r, T*H*D, 1), randSlice(r, T*H*D, 1), randSlice(r, T*H*D, 1)
	pos := I32{0, 1, 2, 0, 1, 2}
	run := func() []float32 {
		out, lse := make([]float32, T*H*D), make([]float32, T*H)
		c.Attention(F32(out), F32(lse), F32(q), F32(k), F32(v), pos, 1, T, H, H, D)
		return out
	}
	base := run()
	for i := 0; i < 3*H*D; i++ {
		k[i] += 1
		v[i] -= 2
	}
	got := run()
	for i := 3 * H * D; i < T*H*D; i++ {
		if got[i] != base[i] {
			t.Fatalf("document 2 output %d changed when document 1 changed", i)
		}
	}
}

func TestAdamW(t *testing.T) {
	c := NewCPU(2)
	p, g := F32{1, -2}, F32{0.5, -0.25}
	m, v := F32{0, 0}, F32{0, 0}
	c.AdamW(p, g, m, v, 0.1, 0.9, 0.95, 1e-8, 0.1, 2, 1)
	// Step 1: mhat = g', vhat = g'^2, so the update is lr*(sign(g') + wd*p).
	want := []float64{1 - 0.1*(1+0.1), -2 - 0.1*(-1+0.1*-2)}
	for i := range want {
		if math.Abs(float64(p[i])-want[i]) > 1e-5 {
			t.Fatalf("param %d = %g, want %g", i, p[i], want[i])
		}
	}
}

func BenchmarkMatmul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	M, N, K := 2048, 768, 256
	a, w, o := randSlice(r, M*K, 1), randSlice(r, N*K, 1), make([]float32, M*N)
	c := NewCPU(0)
	b.SetBytes(int64(2 * M * N * K)) // "MB/s" reads as MFLOP/s
	for b.Loop() {
		c.Matmul(F32(o), F32(a), F32(w), M, N, K, false, true, false)
	}
}

func TestExpf(t *testing.T) {
	for x := float32(-87); x < 88; x += 0.37 {
		got, want := float64(expf(x)), math.Exp(float64(x))
		if math.Abs(got-want)/want > 5e-7 {
			t.Fatalf("expf(%g) = %g, want %g", x, got, want)
		}
	}
	if expf(-100) != 0 || !math.IsInf(float64(expf(100)), 1) {
		t.Fatal("expf range ends")
	}
}

// TestAttentionLong crosses several query blocks with documents spanning
// block boundaries: forward against a direct float64 reference, backward
// by central differences on sampled elements.
func TestAttentionLong(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	c := NewCPU(2)
	B, T, H, KV, D := 1, 150, 2, 1, 8
	N := B * T
	q, k, v := randSlice(r, N*H*D, 1), randSlice(r, N*KV*D, 1), randSlice(r, N*KV*D, 1)
	dout := randSlice(r, N*H*D, 1)
	pos := make(I32, N)
	for i, p := 0, 0; i < N; i, p = i+1, p+1 {
		if i == 50 || i == 70 || i == 140 {
			p = 0
		}
		pos[i] = int32(p)
	}
	out, lse := make([]float32, N*H*D), make([]float32, N*H)
	c.Attention(F32(out), F32(lse), F32(q), F32(k), F32(v), pos, B, T, H, KV, D)
	scale := 1 / math.Sqrt(float64(D))
	for h := 0; h < H; h++ {
		for tq := 0; tq < T; tq++ {
			s0 := docStart(tq, pos[tq])
			w := make([]float64, tq+1)
			var mx, sum float64 = math.Inf(-1), 0
			for s := s0; s <= tq; s++ {
				var d float64
				for i := 0; i < D; i++ {
					d += float64(q[(tq*H+h)*D+i]) * float64(k[s*D+i])
				}
				w[s] = d * scale
				mx = math.Max(mx, w[s])
			}
			for s := s0; s <= tq; s++ {
				w[s] = math.Exp(w[s] - mx)
				sum += w[s]
			}
			for i := 0; i < D; i++ {
				var o float64
				for s := s0; s <= tq; s++ {
					o += w[s] / sum * float64(v[s*D+i])
				}
				if math.Abs(o-float64(out[(tq*H+h)*D+i])) > 1e-4 {
					t.Fatalf("head %d position %d dim %d: %g want %g", h, tq, i, out[(tq*H+h)*D+i], o)
				}
			}
		}
	}
	dq, dk, dv := make([]float32, N*H*D), make([]float32, N*KV*D), make([]float32, N*KV*D)
	c.AttentionBackward(F32(dq), F32(dk), F32(dv), F32(dout), F32(q), F32(k), F32(v), F32(out), F32(lse), pos, B, T, H, KV, D)
	f := func() float64 {
		c.Attention(F32(out), F32(lse), F32(q), F32(k), F32(v), pos, B, T, H, KV, D)
		return weighted(out, dout)
	}
	for _, x := range []struct {
		name string
		x, g []float32
	}{{"dq", q, dq}, {"dk", k, dk}, {"dv", v, dv}} {
		for j := 0; j < 30; j++ {
			i := r.IntN(len(x.x))
			old := x.x[i]
			x.x[i] = old + 1e-2
			fp := f()
			x.x[i] = old - 1e-2
			fm := f()
			x.x[i] = old
			fd := (fp - fm) / 2e-2
			if math.Abs(fd-float64(x.g[i])) > 2e-2*math.Max(1, math.Abs(fd)) {
				t.Fatalf("%s[%d]: analytic %g, finite difference %g", x.name, i, x.g[i], fd)
			}
		}
	}
}

func TestExpShift(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	x := randSlice(r, 1000, 20)
	x[3] = -200 // below the float32 range of exp
	mx := maxOf(x)
	dst := make([]float32, len(x))
	sum := expShift(dst, x, mx)
	var want float64
	for i, v := range x {
		e := math.Exp(float64(v - mx))
		want += e
		if math.Abs(float64(dst[i])-e) > 1e-6*math.Max(e, 1e-30)+1e-37 {
			t.Fatalf("exp(%g) = %g, want %g", v-mx, dst[i], e)
		}
	}
	if math.Abs(sum-want) > 1e-5*want {
		t.Fatalf("sum %g, want %g", sum, want)
	}
}

func BenchmarkExpShift(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 50257, 3)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		expShift(nil, x, 10)
	}
}
