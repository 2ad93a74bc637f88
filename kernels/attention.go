package kernels

import "math"

// docStart is the first key position query t may see: the start of its
// document (positions restart at 0 per document), clamped to the row start
// when the document began in an earlier row.
func docStart(t int, p int32) int { return max(0, t-int(p)) }

// Attention implements Backend. Work is split over (row, KV head) pairs;
// each pair's query heads and positions run in order in one worker.
func (c *CPU) Attention(out, lse, q, k, v, pos Buffer, B, T, H, KV, D int) {
	o, l, qs, ks, vs, ps := f32(out), f32(lse), f32(q), f32(k), f32(v), i32(pos)
	grp := H / KV
	scale := float32(1 / math.Sqrt(float64(D)))
	c.parallel(B*KV, func(lo, hi int) {
		sc := make([]float32, T)
		for u := lo; u < hi; u++ {
			b, kh := u/KV, u%KV
			for h := kh * grp; h < (kh+1)*grp; h++ {
				for t := 0; t < T; t++ {
					n := b*T + t
					s0 := docStart(t, ps[n])
					qv := qs[(n*H+h)*D : (n*H+h+1)*D]
					mx := float32(math.Inf(-1))
					for s := s0; s <= t; s++ {
						m := b*T + s
						x := dot(qv, ks[(m*KV+kh)*D:(m*KV+kh+1)*D]) * scale
						sc[s] = x
						mx = max(mx, x)
					}
					var sum float32
					for s := s0; s <= t; s++ {
						e := expf(sc[s] - mx)
						sc[s] = e
						sum += e
					}
					ov := o[(n*H+h)*D : (n*H+h+1)*D]
					clear(ov)
					inv := 1 / sum
					for s := s0; s <= t; s++ {
						m := b*T + s
						axpy(ov, vs[(m*KV+kh)*D:(m*KV+kh+1)*D], sc[s]*inv)
					}
					l[n*H+h] = mx + float32(math.Log(float64(sum)))
				}
			}
		}
	})
}

// AttentionBackward implements Backend. With P the softmax probabilities
// (recomputed from lse), dP = dout . v, dS = P (dP - sum(dout*out)); then
// dq = scale dS k, dk += scale dS q, dv += P dout. The (row, KV head) split
// makes every dk/dv element the sum of one worker, in order.
func (c *CPU) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, pos Buffer, B, T, H, KV, D int) {
	dqs, dks, dvs, dos := f32(dq), f32(dk), f32(dv), f32(dout)
	qs, ks, vs, os, l, ps := f32(q), f32(k), f32(v), f32(out), f32(lse), i32(pos)
	grp := H / KV
	scale := float32(1 / math.Sqrt(float64(D)))
	c.parallel(B*KV, func(lo, hi int) {
		p := make([]float32, T)
		for u := lo; u < hi; u++ {
			b, kh := u/KV, u%KV
			for t := 0; t < T; t++ {
				m := b*T + t
				clear(dks[(m*KV+kh)*D : (m*KV+kh+1)*D])
				clear(dvs[(m*KV+kh)*D : (m*KV+kh+1)*D])
			}
			for h := kh * grp; h < (kh+1)*grp; h++ {
				for t := 0; t < T; t++ {
					n := b*T + t
					s0 := docStart(t, ps[n])
					qv := qs[(n*H+h)*D : (n*H+h+1)*D]
					dov := dos[(n*H+h)*D : (n*H+h+1)*D]
					di := dot(dov, os[(n*H+h)*D:(n*H+h+1)*D])
					ln := l[n*H+h]
					dqv := dqs[(n*H+h)*D : (n*H+h+1)*D]
					clear(dqv)
					for s := s0; s <= t; s++ {
						m := b*T + s
						kv := ks[(m*KV+kh)*D : (m*KV+kh+1)*D]
						pr := expf(dot(qv, kv)*scale - ln)
						p[s] = pr
						dp := dot(dov, vs[(m*KV+kh)*D:(m*KV+kh+1)*D])
						ds := pr * (dp - di) * scale
						axpy(dqv, kv, ds)
						axpy(dks[(m*KV+kh)*D:(m*KV+kh+1)*D], qv, ds)
						axpy(dvs[(m*KV+kh)*D:(m*KV+kh+1)*D], dov, pr)
					}
				}
			}
		}
	})
}
