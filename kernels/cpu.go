package kernels

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// F32 is the CPU backend's float buffer: a plain slice.
type F32 []float32

// Len implements Buffer.
func (b F32) Len() int { return len(b) }

// I32 is the CPU backend's int32 buffer.
type I32 []int32

// Len implements Buffer.
func (b I32) Len() int { return len(b) }

// CPU is the reference and production CPU backend. Work is split into a
// fixed number of chunks along a dimension that is never reduced over, so
// results are bit-identical for any thread count.
//
// Like a device stream, a CPU backend runs one op at a time: it must not be
// used from several goroutines at once (workers reuse per-worker scratch).
type CPU struct {
	threads int
	scr     []*mmScratch
}

// NewCPU returns a CPU backend using threads goroutines (0 = GOMAXPROCS).
func NewCPU(threads int) *CPU {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	c := &CPU{threads: threads}
	for i := 0; i < threads; i++ {
		c.scr = append(c.scr, &mmScratch{ap: make([]float32, mc*kc), bp: make([]float32, kc*nc)})
	}
	return c
}

func (c *CPU) scratch(w int) *mmScratch { return c.scr[w] }

// parallelW is parallel with the worker index, for per-worker scratch.
func (c *CPU) parallelW(n int, f func(w, lo, hi int)) {
	w := min(c.threads, n)
	if w <= 1 {
		if n > 0 {
			f(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i, lo, hi)
		}()
	}
	wg.Wait()
}

var _ Backend = (*CPU)(nil)

// Name implements Backend.
func (c *CPU) Name() string { return "cpu" }

// Threads implements Backend.
func (c *CPU) Threads() int { return c.threads }

// parallel runs f(lo, hi) over [0, n) split into contiguous chunks, one per
// worker. Callers only use it where each index is computed independently.
func (c *CPU) parallel(n int, f func(lo, hi int)) {
	w := c.threads
	if w > n {
		w = n
	}
	if w <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

func f32(b Buffer) []float32 {
	if b == nil {
		return nil
	}
	return b.(F32)
}

func i32(b Buffer) []int32 { return b.(I32) }

// Alloc implements Backend.
func (c *CPU) Alloc(n int) Buffer { return make(F32, n) }

// AllocInt32 implements Backend.
func (c *CPU) AllocInt32(n int) Buffer { return make(I32, n) }

// View implements Backend.
func (c *CPU) View(b Buffer, off, n int) Buffer {
	switch t := b.(type) {
	case F32:
		return t[off : off+n : off+n]
	case I32:
		return t[off : off+n : off+n]
	}
	panic(fmt.Sprintf("kernels: View of foreign buffer %T", b))
}

// Free implements Backend (the garbage collector owns CPU memory).
func (c *CPU) Free(Buffer) {}

// Upload implements Backend.
func (c *CPU) Upload(dst Buffer, src []float32) { copy(f32(dst), src) }

// UploadInt32 implements Backend.
func (c *CPU) UploadInt32(dst Buffer, src []int32) { copy(i32(dst), src) }

// Download implements Backend.
func (c *CPU) Download(dst []float32, src Buffer) { copy(dst, f32(src)) }

// Sync implements Backend.
func (c *CPU) Sync() error { return nil }

// Zero implements Backend.
func (c *CPU) Zero(x Buffer) { clear(f32(x)) }

// Copy implements Backend.
func (c *CPU) Copy(dst, src Buffer) { copy(f32(dst), f32(src)) }

// Add implements Backend.
func (c *CPU) Add(dst, src Buffer) {
	d, s := f32(dst), f32(src)
	c.parallel(len(d)/4096+1, func(lo, hi int) {
		a, b := lo*4096, min(hi*4096, len(d))
		if a >= b {
			return
		}
		axpy(d[a:b], s[a:b], 1)
	})
}

// Scale implements Backend.
func (c *CPU) Scale(x Buffer, s float32) { scale(f32(x), s) }

// SumSquares implements Backend: blocks of 1024 summed in float64 in order.
func (c *CPU) SumSquares(x Buffer) float64 {
	d := f32(x)
	var total float64
	for i := 0; i < len(d); i += 1024 {
		var s float64
		for _, v := range d[i:min(i+1024, len(d))] {
			s += float64(v) * float64(v)
		}
		total += s
	}
	return total
}

// Embedding implements Backend.
func (c *CPU) Embedding(out, tokens, table Buffer, N, C int) {
	o, tk, tb := f32(out), i32(tokens), f32(table)
	c.parallel(N, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			t := int(tk[n])
			copy(o[n*C:(n+1)*C], tb[t*C:(t+1)*C])
		}
	})
}

// EmbeddingBackward implements Backend. Workers split the channels, so each
// table entry is accumulated by one worker in increasing n.
func (c *CPU) EmbeddingBackward(dtable, tokens, dout Buffer, N, C int) {
	dt, tk, d := f32(dtable), i32(tokens), f32(dout)
	c.parallel(C, func(lo, hi int) {
		for n := 0; n < N; n++ {
			t := int(tk[n])
			axpy(dt[t*C+lo:t*C+hi], d[n*C+lo:n*C+hi], 1)
		}
	})
}

// RMSNorm implements Backend.
func (c *CPU) RMSNorm(out, rstd, x, w Buffer, N, C int, eps float32) {
	o, r, xs, ws := f32(out), f32(rstd), f32(x), f32(w)
	c.parallel(N, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := xs[n*C : (n+1)*C]
			var ss float32
			for _, v := range row {
				ss += v * v
			}
			s := float32(1 / math.Sqrt(float64(ss/float32(C)+eps)))
			r[n] = s
			or := o[n*C : (n+1)*C]
			for i, v := range row {
				or[i] = v * s * ws[i]
			}
		}
	})
}

// RMSNormBackward implements Backend. dx rows are independent; dw is
// reduced over rows by splitting channels among workers.
func (c *CPU) RMSNormBackward(dx, dw, dout, x, w, rstd Buffer, N, C int) {
	dxs, dws, dos, xs, ws, r := f32(dx), f32(dw), f32(dout), f32(x), f32(w), f32(rstd)
	c.parallel(N, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row, drow := xs[n*C:(n+1)*C], dos[n*C:(n+1)*C]
			s := r[n]
			// dot = sum(dout * w * x) ; dx = s*w*dout - s^3/C * x * dot
			var dot float32
			for i := range row {
				dot += drow[i] * ws[i] * row[i]
			}
			k := s * s * s * dot / float32(C)
			dxr := dxs[n*C : (n+1)*C]
			for i := range row {
				dxr[i] += s*ws[i]*drow[i] - k*row[i]
			}
		}
	})
	c.parallel(C, func(lo, hi int) {
		for n := 0; n < N; n++ {
			s := r[n]
			for i := lo; i < hi; i++ {
				dws[i] += dos[n*C+i] * xs[n*C+i] * s
			}
		}
	})
}

// ropeTables returns cos/sin of pos*base^(-2i/D) for i < D/2.
func ropeAngles(p int32, D int, base float32, cs, sn []float32) {
	half := D / 2
	for i := 0; i < half; i++ {
		inv := math.Pow(float64(base), -float64(2*i)/float64(D))
		a := float64(p) * inv
		cs[i] = float32(math.Cos(a))
		sn[i] = float32(math.Sin(a))
	}
}

func (c *CPU) rope(x, pos Buffer, N, H, D int, base float32, sign float32) {
	xs, ps := f32(x), i32(pos)
	half := D / 2
	c.parallel(N, func(lo, hi int) {
		cs, sn := make([]float32, half), make([]float32, half)
		for n := lo; n < hi; n++ {
			ropeAngles(ps[n], D, base, cs, sn)
			for h := 0; h < H; h++ {
				v := xs[(n*H+h)*D : (n*H+h+1)*D]
				for i := 0; i < half; i++ {
					a, b := v[i], v[i+half]
					s := sign * sn[i]
					v[i] = a*cs[i] - b*s
					v[i+half] = b*cs[i] + a*s
				}
			}
		}
	})
}

// RoPE implements Backend.
func (c *CPU) RoPE(x, pos Buffer, N, H, D int, base float32) { c.rope(x, pos, N, H, D, base, 1) }

// RoPEBackward implements Backend.
func (c *CPU) RoPEBackward(dx, pos Buffer, N, H, D int, base float32) {
	c.rope(dx, pos, N, H, D, base, -1)
}

func silu(x float32) (s, sig float32) {
	sig = 1 / (1 + expf(-x))
	return x * sig, sig
}

// SwiGLU implements Backend.
func (c *CPU) SwiGLU(out, gate, up Buffer, N, F int) {
	o, g, u := f32(out), f32(gate), f32(up)
	c.parallel(N, func(lo, hi int) {
		for i := lo * F; i < hi*F; i++ {
			s, _ := silu(g[i])
			o[i] = s * u[i]
		}
	})
}

// SwiGLUBackward implements Backend.
func (c *CPU) SwiGLUBackward(dgate, dup, dout, gate, up Buffer, N, F int) {
	dg, du, do, g, u := f32(dgate), f32(dup), f32(dout), f32(gate), f32(up)
	c.parallel(N, func(lo, hi int) {
		for i := lo * F; i < hi*F; i++ {
			s, sig := silu(g[i])
			du[i] = do[i] * s
			dg[i] = do[i] * u[i] * sig * (1 + g[i]*(1-sig))
		}
	})
}

// CrossEntropy implements Backend.
func (c *CPU) CrossEntropy(losses, dlogits, logits, targets, mask Buffer, N, V int, gradScale float32) {
	ls, lg, tg := f32(losses), f32(logits), i32(targets)
	var dl, mk []float32
	if dlogits != nil {
		dl = f32(dlogits)
		mk = f32(mask)
	}
	c.parallel(N, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := lg[n*V : (n+1)*V]
			mx := maxOf(row)
			// One exp per logit: the exponentials go straight into dlogits
			// (which may alias logits, so the target logit is read first).
			t := int(tg[n])
			xt := row[t]
			var drow []float32
			if dl != nil {
				drow = dl[n*V : (n+1)*V]
			}
			sum := expShift(drow, row, mx)
			ls[n] = float32(math.Log(sum)) + mx - xt
			if dl == nil {
				continue
			}
			g := mk[n] * gradScale
			scale(drow, float32(float64(g)/sum))
			drow[t] -= g
		}
	})
}

// AdamW implements Backend.
func (c *CPU) AdamW(param, grad, m, v Buffer, lr, b1, b2, eps, wd, gradScale float32, t int) {
	p, g, ms, vs := f32(param), f32(grad), f32(m), f32(v)
	bc1 := float32(1 - math.Pow(float64(b1), float64(t)))
	bc2 := float32(1 - math.Pow(float64(b2), float64(t)))
	c.parallel(len(p)/4096+1, func(lo, hi int) {
		for i := lo * 4096; i < min(hi*4096, len(p)); i++ {
			gi := g[i] * gradScale
			mi := b1*ms[i] + (1-b1)*gi
			vi := b2*vs[i] + (1-b2)*gi*gi
			ms[i], vs[i] = mi, vi
			mh := mi / bc1
			vh := vi / bc2
			p[i] -= lr * (mh/(float32(math.Sqrt(float64(vh)))+eps) + wd*p[i])
		}
	})
}
