package kernels

// Cache-blocked matmul. Every shape the trainer needs is reduced to
// C[M,N] (+)= A[M,K] B[K,N] by packing: A is copied into panels of mr rows
// (k-major, so the micro-kernel reads one column of mr values per step) and
// B into panels of nr columns (one row of nr values per step). The K loop is
// blocked by kc and always runs in increasing order, so each output element
// is summed in the same order whatever the thread count: bit-identical
// results for any parallel split.

const (
	mr = 8   // rows of the micro-kernel tile
	nr = 32  // columns of the micro-kernel tile (two AVX-512 vectors)
	kc = 256 // K block: one A panel (mr*kc) and B panel (kc*nr) stay in L1/L2
	nc = 512 // N block: the packed B block (kc*nc floats = 512 KiB) stays in L2
	mc = 64  // M block: packed A block (mc*kc floats = 64 KiB)
)

// Matmul implements Backend.
func (c *CPU) Matmul(out, a, b Buffer, M, N, K int, transA, transB, accumulate bool) {
	o, as, bs := f32(out), f32(a), f32(b)
	if len(o) < M*N || len(as) < M*K || len(bs) < K*N {
		panic("kernels: Matmul buffer too small for shape")
	}
	if K == 0 {
		if !accumulate {
			clear(o[:M*N])
		}
		return
	}
	// Split the larger of M and N among workers; each worker owns a
	// rectangle of C and packs its own operands.
	if M >= N {
		tiles := (M + mr - 1) / mr
		c.parallelW(tiles, func(w, lo, hi int) {
			matmulBlock(c.scratch(w), o, as, bs, M, N, K, transA, transB, accumulate, lo*mr, min(hi*mr, M), 0, N)
		})
	} else {
		tiles := (N + nr - 1) / nr
		c.parallelW(tiles, func(w, lo, hi int) {
			matmulBlock(c.scratch(w), o, as, bs, M, N, K, transA, transB, accumulate, 0, M, lo*nr, min(hi*nr, N))
		})
	}
}

// mmScratch is one worker's packing buffers, reused across calls.
type mmScratch struct {
	ap, bp []float32
	apAll  []float32 // A packed for a whole K block (see maxPackedA)
	// attention work buffers (see attention.go)
	att []float32
}

// maxPackedA bounds the floats of A packed once per K block and reused for
// every N block (else A is repacked per N block, GotoBLAS style).
const maxPackedA = 1 << 20

// matmulBlock computes rows [m0,m1) and columns [n0,n1) of C on one
// goroutine with s's packing buffers.
func matmulBlock(s *mmScratch, o, a, b []float32, M, N, K int, transA, transB, accumulate bool, m0, m1, n0, n1 int) {
	bp := s.bp
	var tmp [mr * nr]float32
	rows := m1 - m0
	for pc := 0; pc < K; pc += kc {
		kn := min(kc, K-pc)
		first := pc == 0 && !accumulate
		// Pack all of A's rows for this K block once when they fit.
		whole := rows*kn <= maxPackedA && n1-n0 > nc
		if whole {
			need := ((rows + mr - 1) / mr) * mr * kn
			if len(s.apAll) < need {
				s.apAll = make([]float32, need)
			}
			for ic := m0; ic < m1; ic += mc {
				in := min(mc, m1-ic)
				packA(s.apAll[(ic-m0)*kn:], a, M, K, transA, ic, in, pc, kn)
			}
		}
		for jc := n0; jc < n1; jc += nc {
			jn := min(nc, n1-jc)
			jpanels := (jn + nr - 1) / nr
			packB(bp, b, N, K, transB, pc, kn, jc, jn)
			for ic := m0; ic < m1; ic += mc {
				in := min(mc, m1-ic)
				ap := s.ap
				if whole {
					ap = s.apAll[(ic-m0)*kn:]
				} else {
					packA(ap, a, M, K, transA, ic, in, pc, kn)
				}
				ipanels := (in + mr - 1) / mr
				for jp := 0; jp < jpanels; jp++ {
					bpan := bp[jp*kn*nr : (jp+1)*kn*nr]
					cols := min(nr, jn-jp*nr)
					for ip := 0; ip < ipanels; ip++ {
						apan := ap[ip*kn*mr : (ip+1)*kn*mr]
						rws := min(mr, in-ip*mr)
						row, col := ic+ip*mr, jc+jp*nr
						if rws == mr && cols == nr {
							microKernel(kn, apan, bpan, o[row*N+col:], N, first)
							continue
						}
						clear(tmp[:])
						microKernel(kn, apan, bpan, tmp[:], nr, true)
						for r := 0; r < rws; r++ {
							dst := o[(row+r)*N+col : (row+r)*N+col+cols]
							src := tmp[r*nr : r*nr+cols]
							if first {
								copy(dst, src)
							} else {
								for j := range dst {
									dst[j] += src[j]
								}
							}
						}
					}
				}
			}
		}
	}
}

// packA copies op(A)[ic:ic+in, pc:pc+kn] into panels of mr rows, k-major,
// zero-padding the last panel.
func packA(ap, a []float32, M, K int, transA bool, ic, in, pc, kn int) {
	panels := (in + mr - 1) / mr
	if transA { // A is [K,M]: read each k's row segment contiguously
		for k := 0; k < kn; k++ {
			src := a[(pc+k)*M+ic : (pc+k)*M+ic+in]
			for p := 0; p < panels; p++ {
				dst := ap[p*kn*mr+k*mr : p*kn*mr+k*mr+mr]
				n := copy(dst, src[p*mr:min(len(src), p*mr+mr)])
				clear(dst[n:])
			}
		}
		return
	}
	for p := 0; p < panels; p++ {
		dst := ap[p*kn*mr : (p+1)*kn*mr]
		for r := 0; r < mr; r++ {
			i := ic + p*mr + r
			if i >= ic+in {
				for k := 0; k < kn; k++ {
					dst[k*mr+r] = 0
				}
				continue
			}
			src := a[i*K+pc : i*K+pc+kn]
			for k, v := range src {
				dst[k*mr+r] = v
			}
		}
	}
}

// packB copies op(B)[pc:pc+kn, jc:jc+jn] into panels of nr columns, k-major,
// zero-padding the last panel.
func packB(bp, b []float32, N, K int, transB bool, pc, kn, jc, jn int) {
	panels := (jn + nr - 1) / nr
	for p := 0; p < panels; p++ {
		dst := bp[p*kn*nr : (p+1)*kn*nr]
		cols := min(nr, jn-p*nr)
		j0 := jc + p*nr
		if transB { // B is [N,K]
			for j := 0; j < nr; j++ {
				if j >= cols {
					for k := 0; k < kn; k++ {
						dst[k*nr+j] = 0
					}
					continue
				}
				src := b[(j0+j)*K+pc : (j0+j)*K+pc+kn]
				for k, v := range src {
					dst[k*nr+j] = v
				}
			}
		} else {
			for k := 0; k < kn; k++ {
				d := dst[k*nr : (k+1)*nr]
				n := copy(d[:cols], b[(pc+k)*N+j0:(pc+k)*N+j0+cols])
				clear(d[n:])
			}
		}
	}
}
