package kernels

// microKernelAVX512 is the 8x32 AVX-512 FMA tile in microkernel_amd64.s:
// C[8,32] (+)= Ap[kn][8]^T Bp[kn][32], rows of C ldc floats apart. kn >= 1.
// Written in assembly because the Go compiler spills the sixteen vector
// accumulators of the archsimd version to the stack (82 vs ~300 GFLOP/s).
//
//go:noescape
func microKernelAVX512(kn int, ap, bp, c *float32, ldc int, store bool)

// expShiftAVX512 writes dst[i] = exp(src[i]-mx) for i < n (n a multiple of
// 16; dst nil to only sum) and the per-lane sums to lanes[0:16].
//
//go:noescape
func expShiftAVX512(dst, src *float32, n int, mx float32, lanes *float32)

// vzeroupper clears the upper halves of the vector registers.
func vzeroupper()
