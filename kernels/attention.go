package kernels

import (
	"math"
)

// docStart is the first key position query t may see: the start of its
// document (positions restart at 0 per document), clamped to the row start
// when the document began in an earlier row.
func docStart(t int, p int32) int { return max(0, t-int(p)) }

// qb is the query block of the CPU attention: scores for qb queries against
// the keys they can see are one small matmul, so memory stays O(qb*T) and
// keys before the block's earliest document start are never touched.
const qb = 64

// attnWork is one worker's attention buffers, carved from mmScratch.att.
type attnWork struct {
	q, k, v, o, do, dq, dk, dv []float32 // [T,D] gathers of one head
	s, p                       []float32 // [qb,T] scores / probabilities
	di                         []float32 // [T]
}

func (c *CPU) attnWork(w, T, D int) *attnWork {
	sc := c.scratch(w)
	need := 8*T*D + 2*qb*T + T
	if len(sc.att) < need {
		sc.att = make([]float32, need)
	}
	b := sc.att
	cut := func(n int) []float32 { x := b[:n:n]; b = b[n:]; return x }
	return &attnWork{q: cut(T * D), k: cut(T * D), v: cut(T * D), o: cut(T * D), do: cut(T * D),
		dq: cut(T * D), dk: cut(T * D), dv: cut(T * D), s: cut(qb * T), p: cut(qb * T), di: cut(T)}
}

// gather copies head h of rows [b*T, b*T+T) of x [N,heads,D] into dst [T,D].
func gather(dst, x []float32, b, T, heads, h, D int) {
	for t := 0; t < T; t++ {
		n := b*T + t
		copy(dst[t*D:(t+1)*D], x[(n*heads+h)*D:(n*heads+h+1)*D])
	}
}

// scatter is gather's inverse.
func scatter(x, src []float32, b, T, heads, h, D int) {
	for t := 0; t < T; t++ {
		n := b*T + t
		copy(x[(n*heads+h)*D:(n*heads+h+1)*D], src[t*D:(t+1)*D])
	}
}

// blockKeys returns the first key any query of [t0,t1) may see.
func blockKeys(ps []int32, b, T, t0, t1 int) int {
	ks := t0
	for t := t0; t < t1; t++ {
		ks = min(ks, docStart(t, ps[b*T+t]))
	}
	return ks
}

// Attention implements Backend. Work is split over (row, KV head) pairs;
// per query head, blocks of qb queries compute S = Q K^T, the masked
// softmax and O = P V with the matmul micro-kernel.
func (c *CPU) Attention(out, lse, q, k, v, pos Buffer, B, T, H, KV, D int) {
	o, l, qs, ks, vs, ps := f32(out), f32(lse), f32(q), f32(k), f32(v), i32(pos)
	grp := H / KV
	scale := float32(1 / math.Sqrt(float64(D)))
	c.parallelW(B*KV, func(w, lo, hi int) {
		sc := c.scratch(w)
		a := c.attnWork(w, T, D)
		for u := lo; u < hi; u++ {
			b, kh := u/KV, u%KV
			gather(a.k, ks, b, T, KV, kh, D)
			gather(a.v, vs, b, T, KV, kh, D)
			for h := kh * grp; h < (kh+1)*grp; h++ {
				gather(a.q, qs, b, T, H, h, D)
				for t0 := 0; t0 < T; t0 += qb {
					t1 := min(T, t0+qb)
					nq := t1 - t0
					k0 := blockKeys(ps, b, T, t0, t1)
					nk := t1 - k0
					s := a.s[:nq*nk]
					matmulBlock(sc, s, a.q[t0*D:], a.k[k0*D:], nq, nk, D, false, true, false, 0, nq, 0, nk)
					for i := 0; i < nq; i++ {
						t := t0 + i
						s0 := docStart(t, ps[b*T+t]) - k0
						row := s[i*nk : (i+1)*nk]
						mx := float32(math.Inf(-1))
						for j := s0; j <= t-k0; j++ {
							row[j] *= scale
							mx = max(mx, row[j])
						}
						var sum float32
						for j := s0; j <= t-k0; j++ {
							e := expf(row[j] - mx)
							row[j] = e
							sum += e
						}
						inv := 1 / sum
						for j := range row {
							if j < s0 || j > t-k0 {
								row[j] = 0
							} else {
								row[j] *= inv
							}
						}
						l[(b*T+t)*H+h] = mx + float32(math.Log(float64(sum)))
					}
					matmulBlock(sc, a.o[t0*D:], s, a.v[k0*D:], nq, D, nk, false, false, false, 0, nq, 0, D)
				}
				scatter(o, a.o, b, T, H, h, D)
			}
		}
	})
}

// AttentionBackward implements Backend. With P recomputed from lse,
// dP = dO V^T, dS = P (dP - rowsum(dO*O)) scale, then dQ = dS K,
// dK += dS^T Q, dV += P^T dO. The (row, KV head) split makes every dk/dv
// element the sum of one worker, in a fixed order.
func (c *CPU) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, pos Buffer, B, T, H, KV, D int) {
	dqs, dks, dvs, dos := f32(dq), f32(dk), f32(dv), f32(dout)
	qs, ks, vs, os, l, ps := f32(q), f32(k), f32(v), f32(out), f32(lse), i32(pos)
	grp := H / KV
	scale := float32(1 / math.Sqrt(float64(D)))
	c.parallelW(B*KV, func(w, lo, hi int) {
		sc := c.scratch(w)
		a := c.attnWork(w, T, D)
		for u := lo; u < hi; u++ {
			b, kh := u/KV, u%KV
			gather(a.k, ks, b, T, KV, kh, D)
			gather(a.v, vs, b, T, KV, kh, D)
			clear(a.dk)
			clear(a.dv)
			for h := kh * grp; h < (kh+1)*grp; h++ {
				gather(a.q, qs, b, T, H, h, D)
				gather(a.do, dos, b, T, H, h, D)
				gather(a.o, os, b, T, H, h, D)
				for t := 0; t < T; t++ {
					a.di[t] = dot(a.do[t*D:(t+1)*D], a.o[t*D:(t+1)*D])
				}
				for t0 := 0; t0 < T; t0 += qb {
					t1 := min(T, t0+qb)
					nq := t1 - t0
					k0 := blockKeys(ps, b, T, t0, t1)
					nk := t1 - k0
					p, ds := a.p[:nq*nk], a.s[:nq*nk]
					matmulBlock(sc, p, a.q[t0*D:], a.k[k0*D:], nq, nk, D, false, true, false, 0, nq, 0, nk)
					matmulBlock(sc, ds, a.do[t0*D:], a.v[k0*D:], nq, nk, D, false, true, false, 0, nq, 0, nk)
					for i := 0; i < nq; i++ {
						t := t0 + i
						s0 := docStart(t, ps[b*T+t]) - k0
						ln := l[(b*T+t)*H+h]
						prow, drow := p[i*nk:(i+1)*nk], ds[i*nk:(i+1)*nk]
						for j := range prow {
							if j < s0 || j > t-k0 {
								prow[j], drow[j] = 0, 0
								continue
							}
							pr := expf(prow[j]*scale - ln)
							prow[j] = pr
							drow[j] = pr * (drow[j] - a.di[t]) * scale
						}
					}
					matmulBlock(sc, a.dq[t0*D:], ds, a.k[k0*D:], nq, D, nk, false, false, false, 0, nq, 0, D)
					matmulBlock(sc, a.dk[k0*D:], ds, a.q[t0*D:], nk, D, nq, true, false, true, 0, nk, 0, D)
					matmulBlock(sc, a.dv[k0*D:], p, a.do[t0*D:], nk, D, nq, true, false, true, 0, nk, 0, D)
				}
				scatter(dqs, a.dq, b, T, H, h, D)
			}
			scatter(dks, a.dk, b, T, KV, kh, D)
			scatter(dvs, a.dv, b, T, KV, kh, D)
		}
	})
}
