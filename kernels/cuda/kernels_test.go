//go:build cgo && linux

package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// testDev is opened once for the package's GPU tests (NVRTC compiles the
// kernels once, into a temporary cache); openErr says why when it is nil.
var (
	testDev *Device
	openErr error
)

func TestMain(m *testing.M) {
	// KILN_CUDA_TEST_CACHE (set by scripts/gpu-check.sh) shares one cubin
	// cache across the test binary's devices; otherwise a temporary one.
	dir, err := os.MkdirTemp("", "kiln-cuda-test")
	if c := os.Getenv("KILN_CUDA_TEST_CACHE"); c != "" {
		os.RemoveAll(dir)
		dir = ""
		testDev, openErr = Open(Options{CacheDir: c})
	} else if err == nil {
		testDev, openErr = Open(Options{CacheDir: dir})
	} else {
		openErr = err
	}
	code := m.Run()
	if testDev != nil {
		testDev.Close()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// gpu returns the shared device or skips the test when no CUDA driver or
// GPU is present (always the case in CI). Any other failure to open a
// present GPU fails the test.
func gpu(t testing.TB) *Device {
	t.Helper()
	if testDev != nil {
		return testDev
	}
	if errors.Is(openErr, ErrNoDriver) {
		t.Skipf("no CUDA GPU: %v", openErr)
	}
	t.Fatalf("open CUDA device: %v", openErr)
	return nil
}

func TestNoDriverError(t *testing.T) {
	if testDev != nil {
		t.Skip("a GPU is present")
	}
	if !errors.Is(openErr, ErrNoDriver) {
		t.Skipf("driver loaded, other failure: %v", openErr)
	}
	if !strings.Contains(openErr.Error(), "CUDA driver libcuda.so.1 not found") && !strings.Contains(openErr.Error(), "cuInit") {
		t.Fatalf("error does not say the driver is missing: %v", openErr)
	}
}

func TestDeviceInfo(t *testing.T) {
	d := gpu(t)
	t.Logf("device %q cc %d.%d, %d SMs, %.1f GiB, driver %d, NVRTC %s, cuBLASLt %d, arch %s, cache hit %v",
		d.Info.Name, d.Info.Major, d.Info.Minor, d.Info.SMs, float64(d.Info.TotalMem)/(1<<30), d.Info.DriverVersion,
		d.Info.NVRTCVersion, d.Info.CublasLtVer, d.Info.Arch, d.Info.KernelCacheHit)
	t.Logf("libraries: %v", d.Info.LibPaths)
	if d.Info.Major < 7 {
		t.Fatalf("compute capability %d.%d too old for bf16 matmuls", d.Info.Major, d.Info.Minor)
	}
}

// ---------------------------------------------------------------- helpers

func randn(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// toBF16 rounds to nearest even like the kernels' f2bf.
func toBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

func fromBF16(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

func bf16s(x []float32) []uint16 {
	o := make([]uint16, len(x))
	for i, v := range x {
		o[i] = toBF16(v)
	}
	return o
}

func roundBF16(x []float32) []float32 {
	o := make([]float32, len(x))
	for i, v := range x {
		o[i] = fromBF16(toBF16(v))
	}
	return o
}

// relErr is ||got-want|| / ||want||; NaN or Inf anywhere gives +Inf.
func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		num += (g - want[i]) * (g - want[i])
		den += want[i] * want[i]
	}
	if den == 0 {
		// A zero reference (e.g. dq when every token is its own document)
		// has no relative error: compare the RMS of the output instead.
		return math.Sqrt(num / float64(max(len(want), 1)))
	}
	return math.Sqrt(num / den)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func up[T float32 | int32 | uint16 | byte](t testing.TB, d *Device, x []T) Buf {
	t.Helper()
	b, err := AllocFrom(d, x)
	must(t, err)
	t.Cleanup(func() { d.Free(b) })
	return b
}

// poisoned allocates n bytes filled with 0xff (NaN as float32 and bf16), so
// an output element that a kernel forgets to write fails the comparison.
func poisoned(t testing.TB, d *Device, n int) Buf {
	t.Helper()
	b, err := d.Alloc(n)
	must(t, err)
	t.Cleanup(func() { d.Free(b) })
	must(t, d.Memset(b, 0xff))
	return b
}

func zeros(t testing.TB, d *Device, n int) Buf {
	t.Helper()
	b, err := d.Alloc(n)
	must(t, err)
	t.Cleanup(func() { d.Free(b) })
	must(t, d.Memset(b, 0))
	return b
}

func down32(t testing.TB, d *Device, b Buf, n int) []float32 {
	t.Helper()
	must(t, d.Sync())
	x := make([]float32, n)
	must(t, Download(d, x, b))
	return x
}

func downBF16(t testing.TB, d *Device, b Buf, n int) []float32 {
	t.Helper()
	must(t, d.Sync())
	x := make([]uint16, n)
	must(t, Download(d, x, b))
	o := make([]float32, n)
	for i, v := range x {
		o[i] = fromBF16(v)
	}
	return o
}

func check(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	e := relErr(got, want)
	t.Logf("%s: rel err %.3g (tol %.0g)", name, e, tol)
	if !(e <= tol) {
		t.Errorf("%s: rel err %.3g > %.0g", name, e, tol)
	}
}

// attnKinds lists the attention kernel families under test, fp32 last.
// KILN_CUDA_SKIP_TC2=1 leaves out v2 (scripts/gpu-check.sh reruns with it
// when a v2 fault has poisoned the CUDA context).
func attnKinds() []AttnKernels {
	if os.Getenv("KILN_CUDA_SKIP_TC2") != "" {
		return []AttnKernels{AttnTC, AttnFP32}
	}
	return []AttnKernels{AttnTC2, AttnTC, AttnFP32}
}

// ---------------------------------------------------------------- CPU-only

func TestSegments(t *testing.T) {
	tests := []struct {
		name       string
		pos        []int32
		T          int
		start, end []int32
	}{
		{"one doc", []int32{0, 1, 2, 3}, 4, []int32{0, 0, 0, 0}, []int32{4, 4, 4, 4}},
		{"two docs", []int32{0, 1, 0, 1}, 4, []int32{0, 0, 2, 2}, []int32{2, 2, 4, 4}},
		{"row break continues doc", []int32{5, 6, 7, 8}, 2, []int32{0, 0, 2, 2}, []int32{2, 2, 4, 4}},
		{"restart without zero", []int32{3, 4, 9, 10}, 4, []int32{0, 0, 2, 2}, []int32{2, 2, 4, 4}},
		{"single tokens", []int32{0, 0, 0}, 3, []int32{0, 1, 2}, []int32{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, e := Segments(tc.pos, tc.T)
			if fmt.Sprint(s) != fmt.Sprint(tc.start) || fmt.Sprint(e) != fmt.Sprint(tc.end) {
				t.Fatalf("got %v %v want %v %v", s, e, tc.start, tc.end)
			}
		})
	}
}

func TestGroupIDs(t *testing.T) {
	g := GroupIDs([]int32{7, 3, 7, 1, 3, 7})
	if fmt.Sprint(g.Uniq) != "[1 3 7]" || fmt.Sprint(g.Offs) != "[0 1 3 6]" || fmt.Sprint(g.Pos) != "[3 1 4 0 2 5]" {
		t.Fatalf("got %+v", g)
	}
}

// FuzzSegments checks the document-bound invariants the attention kernels
// rely on, for any positions and row length.
func FuzzSegments(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 1, 5, 6}, 4)
	f.Add([]byte{3, 4, 0, 0, 0}, 2)
	f.Fuzz(func(t *testing.T, raw []byte, T int) {
		if len(raw) == 0 || T <= 0 || T > 64 {
			return
		}
		pos := make([]int32, len(raw))
		for i, b := range raw {
			pos[i] = int32(b % 16)
		}
		start, end := Segments(pos, T)
		for i := range pos {
			if !(int(start[i]) <= i && i < int(end[i])) {
				t.Fatalf("token %d outside its document [%d,%d)", i, start[i], end[i])
			}
			if i > 0 && start[i] < start[i-1] {
				t.Fatalf("document start decreases at %d", i)
			}
			if int(start[i]) < i/T*T || int(end[i]) > (i/T+1)*T {
				t.Fatalf("document of token %d crosses its row", i)
			}
			for j := start[i]; j < end[i]; j++ {
				if start[j] != start[i] || end[j] != end[i] {
					t.Fatalf("tokens %d and %d disagree on their document", i, j)
				}
			}
		}
	})
}

// FuzzGroupIDs checks that the embedding-backward grouping lists every
// position once, under its id, ascending.
func FuzzGroupIDs(f *testing.F) {
	f.Add([]byte{7, 3, 7, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		ids := make([]int32, len(raw))
		for i, b := range raw {
			ids[i] = int32(b % 32)
		}
		g := GroupIDs(ids)
		if len(g.Offs) != len(g.Uniq)+1 || int(g.Offs[len(g.Uniq)]) != len(ids) || len(g.Pos) != len(ids) {
			t.Fatalf("shape: %d uniq, offs %v, %d pos for %d ids", len(g.Uniq), g.Offs, len(g.Pos), len(ids))
		}
		seen := make([]bool, len(ids))
		for u, id := range g.Uniq {
			if u > 0 && g.Uniq[u-1] >= id {
				t.Fatalf("ids not ascending: %v", g.Uniq)
			}
			for k := g.Offs[u]; k < g.Offs[u+1]; k++ {
				p := g.Pos[k]
				if ids[p] != id || seen[p] || (k > g.Offs[u] && g.Pos[k-1] >= p) {
					t.Fatalf("bad position %d under id %d", p, id)
				}
				seen[p] = true
			}
		}
	})
}

func TestBF16Rounding(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {float32(math.Inf(1)), 0x7f80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81},
	}
	for _, tc := range tests {
		if got := toBF16(tc.in); got != tc.want {
			t.Errorf("toBF16(%v)=%#x want %#x", tc.in, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------- GPU parity

func TestGemm(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		ta, tb  bool
		M, N, K int
		beta    float32
		out     DType
	}{
		{false, true, 64, 96, 128, 0, F32},
		{false, false, 33, 70, 48, 0, F32},
		{true, false, 40, 24, 100, 1, F32},
		{true, true, 16, 24, 32, 0, F32},
		{false, true, 128, 256, 64, 0, BF16},
	} {
		t.Run(fmt.Sprintf("ta%v_tb%v_%dx%dx%d_beta%v_out%d", tc.ta, tc.tb, tc.M, tc.N, tc.K, tc.beta, tc.out), func(t *testing.T) {
			a := roundBF16(randn(r, tc.M*tc.K, 1))
			b := roundBF16(randn(r, tc.K*tc.N, 1))
			c0 := randn(r, tc.M*tc.N, 1)
			A := up(t, d, bf16s(a))
			B := up(t, d, bf16s(b))
			var Cb Buf
			if tc.out == F32 {
				Cb = up(t, d, c0)
			} else {
				Cb = poisoned(t, d, tc.M*tc.N*2)
			}
			must(t, d.Gemm(tc.ta, tc.tb, tc.M, tc.N, tc.K, 1, A, B, tc.beta, Cb, tc.out))
			want := make([]float64, tc.M*tc.N)
			for i := 0; i < tc.M; i++ {
				for j := 0; j < tc.N; j++ {
					var s float64
					for k := 0; k < tc.K; k++ {
						av := a[i*tc.K+k]
						if tc.ta {
							av = a[k*tc.M+i]
						}
						bv := b[k*tc.N+j]
						if tc.tb {
							bv = b[j*tc.K+k]
						}
						s += float64(av) * float64(bv)
					}
					want[i*tc.N+j] = s + float64(tc.beta)*float64(c0[i*tc.N+j])
				}
			}
			if tc.out == F32 {
				check(t, "gemm", down32(t, d, Cb, tc.M*tc.N), want, 1e-5)
			} else {
				check(t, "gemm bf16 out", downBF16(t, d, Cb, tc.M*tc.N), want, 6e-3)
			}
		})
	}
}

func TestRMSNorm(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(3, 4))
	N, C := 300, 96
	eps := float32(1e-5)
	x := randn(r, N*C, 2)
	w := randn(r, C, 1)
	dy := randn(r, N*C, 1)
	X, W, DY := up(t, d, x), up(t, d, w), up(t, d, dy)
	Y, YB, R := poisoned(t, d, N*C*4), poisoned(t, d, N*C*2), poisoned(t, d, N*4)
	must(t, d.RMSNormForward(Y, YB, R, X, W, N, C, eps))
	dx0 := randn(r, N*C, 1)
	DX := up(t, d, dx0)
	DW := zeros(t, d, C*4)
	must(t, d.RMSNormBackward(DX, DW, X, W, R, DY, poisoned(t, d, RMSNormScratch(N, C)), N, C))
	wy := make([]float64, N*C)
	wdx := make([]float64, N*C)
	wdw := make([]float64, C)
	for i := 0; i < N; i++ {
		var ss float64
		for c := 0; c < C; c++ {
			v := float64(x[i*C+c])
			ss += v * v
		}
		rs := 1 / math.Sqrt(ss/float64(C)+float64(eps))
		var dot float64
		for c := 0; c < C; c++ {
			wy[i*C+c] = float64(x[i*C+c]) * rs * float64(w[c])
			dot += float64(dy[i*C+c]) * float64(w[c]) * float64(x[i*C+c])
			wdw[c] += float64(dy[i*C+c]) * float64(x[i*C+c]) * rs
		}
		for c := 0; c < C; c++ {
			wdx[i*C+c] = float64(dx0[i*C+c]) + rs*float64(w[c])*float64(dy[i*C+c]) - float64(x[i*C+c])*rs*rs*rs/float64(C)*dot
		}
	}
	check(t, "y", down32(t, d, Y, N*C), wy, 1e-6)
	check(t, "y bf16", downBF16(t, d, YB, N*C), wy, 5e-3)
	check(t, "dx", down32(t, d, DX, N*C), wdx, 1e-5)
	check(t, "dw", down32(t, d, DW, C), wdw, 1e-5)
}

func TestRoPE(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(5, 6))
	N, H, D, ld := 50, 3, 16, 64 // heads at the start of a wider row
	theta := float32(10000)
	x := randn(r, N*ld, 1)
	pos := make([]int32, N)
	for i := range pos {
		pos[i] = int32(r.IntN(3000))
	}
	for _, inter := range []bool{false, true} {
		X := up(t, d, x)
		P := up(t, d, pos)
		must(t, d.RoPE(X, P, N, H, D, ld, theta, false, inter))
		want := make([]float64, N*ld)
		for i := range x {
			want[i] = float64(x[i])
		}
		for n := 0; n < N; n++ {
			for h := 0; h < H; h++ {
				for j := 0; j < D/2; j++ {
					ang := float64(pos[n]) * math.Pow(float64(theta), -2*float64(j)/float64(D))
					a, b := n*ld+h*D+j, n*ld+h*D+j+D/2
					if inter {
						a, b = n*ld+h*D+2*j, n*ld+h*D+2*j+1
					}
					x0, x1 := float64(x[a]), float64(x[b])
					want[a] = x0*math.Cos(ang) - x1*math.Sin(ang)
					want[b] = x0*math.Sin(ang) + x1*math.Cos(ang)
				}
			}
		}
		check(t, fmt.Sprintf("rope interleaved=%v", inter), down32(t, d, X, N*ld), want, 1e-5)
		// The inverse rotation restores the input.
		must(t, d.RoPE(X, P, N, H, D, ld, theta, true, inter))
		orig := make([]float64, len(x))
		for i := range x {
			orig[i] = float64(x[i])
		}
		check(t, "rope inverse", down32(t, d, X, N*ld), orig, 1e-5)
	}
}

func TestSwiGLU(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(7, 8))
	N, F := 70, 48
	gu := randn(r, N*2*F, 2) // fused [N, 2F] gate|up layout
	dh := randn(r, N*F, 1)
	GU, DH := up(t, d, gu), up(t, d, dh)
	H, HB := poisoned(t, d, N*F*4), poisoned(t, d, N*F*2)
	gate := GU
	upb := Buf{Ptr: GU.Ptr + uint64(F*4), Len: GU.Len - F*4}
	must(t, d.SwiGLUForward(H, HB, gate, upb, 2*F, N, F))
	DGU := poisoned(t, d, N*2*F*4)
	dup := Buf{Ptr: DGU.Ptr + uint64(F*4), Len: DGU.Len - F*4}
	DGUB := poisoned(t, d, N*2*F*2)
	dupb := Buf{Ptr: DGUB.Ptr + uint64(F*2), Len: DGUB.Len - F*2}
	must(t, d.SwiGLUBackward(DGU, dup, DGUB, dupb, gate, upb, DH, 2*F, N, F))
	wh := make([]float64, N*F)
	wd := make([]float64, N*2*F)
	for n := 0; n < N; n++ {
		for f := 0; f < F; f++ {
			g, u := float64(gu[n*2*F+f]), float64(gu[n*2*F+F+f])
			s := 1 / (1 + math.Exp(-g))
			wh[n*F+f] = g * s * u
			dhv := float64(dh[n*F+f])
			wd[n*2*F+f] = dhv * u * s * (1 + g*(1-s))
			wd[n*2*F+F+f] = dhv * g * s
		}
	}
	check(t, "h", down32(t, d, H, N*F), wh, 1e-6)
	check(t, "h bf16", downBF16(t, d, HB, N*F), wh, 5e-3)
	check(t, "dgate|dup", down32(t, d, DGU, N*2*F), wd, 1e-6)
	check(t, "dgate|dup bf16", downBF16(t, d, DGUB, N*2*F), wd, 5e-3)
}

func TestCrossEntropy(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(9, 10))
	N, V := 37, 5000
	logits := roundBF16(randn(r, N*V, 3))
	tg := make([]int32, N)
	valid := 0
	for i := range tg {
		tg[i] = int32(r.IntN(V))
		if i%5 == 4 {
			tg[i] = -1 // masked: document boundary
		} else {
			valid++
		}
	}
	scale := float32(1 / float64(valid))
	L := up(t, d, bf16s(logits))
	T := up(t, d, tg)
	LS := poisoned(t, d, N*4)
	must(t, d.CrossEntropy(LS, L, T, N, V, scale))
	wl := make([]float64, N)
	wg := make([]float64, N*V)
	for i := 0; i < N; i++ {
		if tg[i] < 0 {
			continue
		}
		row := logits[i*V : (i+1)*V]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		wl[i] = lse - float64(row[tg[i]])
		for v := range row {
			p := math.Exp(float64(row[v]) - lse)
			if v == int(tg[i]) {
				p--
			}
			wg[i*V+v] = p * float64(scale)
		}
	}
	check(t, "losses", down32(t, d, LS, N), wl, 1e-6)
	check(t, "dlogits bf16", downBF16(t, d, L, N*V), wg, 5e-3)
}

func TestAdamW(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(11, 12))
	n := 1000
	p, g, m := randn(r, n, 1), randn(r, n, 1), randn(r, n, 0.1)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64() * 0.01)
	}
	a := AdamWParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Step: 3, GradScale: 0.5}
	P, G, M, Vb, PB := up(t, d, p), up(t, d, g), up(t, d, m), up(t, d, v), poisoned(t, d, n*2)
	must(t, d.AdamW(P, G, M, Vb, PB, n, a))
	wp := make([]float64, n)
	wm := make([]float64, n)
	for i := range p {
		gi := float64(g[i]) * 0.5
		mi := 0.9*float64(m[i]) + 0.1*gi
		vi := 0.95*float64(v[i]) + 0.05*gi*gi
		mh := mi / (1 - math.Pow(0.9, 3))
		vh := vi / (1 - math.Pow(0.95, 3))
		wp[i] = float64(p[i]) - 1e-3*(mh/(math.Sqrt(vh)+1e-8)+0.1*float64(p[i]))
		wm[i] = mi
	}
	check(t, "p", down32(t, d, P, n), wp, 1e-6)
	check(t, "m", down32(t, d, M, n), wm, 1e-6)
	check(t, "p bf16", downBF16(t, d, PB, n), wp, 5e-3)
}

func TestEmbedding(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(13, 14))
	V, C, N := 50, 24, 200
	wte := randn(r, V*C, 1)
	ids := make([]int32, N)
	for i := range ids {
		ids[i] = int32(r.IntN(V))
	}
	dout := randn(r, N*C, 1)
	W, I, DO := up(t, d, wte), up(t, d, ids), up(t, d, dout)
	O := poisoned(t, d, N*C*4)
	must(t, d.EmbedForward(O, I, W, N, C))
	grp := GroupIDs(ids)
	DW := zeros(t, d, V*C*4)
	must(t, d.EmbedBackward(DW, DO, up(t, d, grp.Uniq), up(t, d, grp.Offs), up(t, d, grp.Pos), len(grp.Uniq), C))
	wo := make([]float64, N*C)
	wdw := make([]float64, V*C)
	for i, id := range ids {
		for c := 0; c < C; c++ {
			wo[i*C+c] = float64(wte[int(id)*C+c])
			wdw[int(id)*C+c] += float64(dout[i*C+c])
		}
	}
	check(t, "embed fwd", down32(t, d, O, N*C), wo, 0)
	check(t, "embed bwd", down32(t, d, DW, V*C), wdw, 1e-6)
}

// attnRef is a float64 reference of document-masked causal GQA attention
// and its backward pass. q [N, Hq*D], k/v [N, Hkv*D], dout [N, Hq*D].
func attnRef(q, k, v, dout []float32, segStart []int32, N, Hq, Hkv, D int) (o, dq, dk, dv []float64) {
	o = make([]float64, N*Hq*D)
	dq = make([]float64, N*Hq*D)
	dk = make([]float64, N*Hkv*D)
	dv = make([]float64, N*Hkv*D)
	scale := 1 / math.Sqrt(float64(D))
	rep := Hq / Hkv
	for h := 0; h < Hq; h++ {
		g := h / rep
		for i := 0; i < N; i++ {
			lo := int(segStart[i])
			s := make([]float64, i-lo+1)
			m := math.Inf(-1)
			for j := lo; j <= i; j++ {
				var dot float64
				for e := 0; e < D; e++ {
					dot += float64(q[i*Hq*D+h*D+e]) * float64(k[j*Hkv*D+g*D+e])
				}
				s[j-lo] = dot * scale
				m = math.Max(m, s[j-lo])
			}
			var l float64
			for x := range s {
				s[x] = math.Exp(s[x] - m)
				l += s[x]
			}
			for x := range s {
				s[x] /= l // now p
			}
			for j := lo; j <= i; j++ {
				for e := 0; e < D; e++ {
					o[i*Hq*D+h*D+e] += s[j-lo] * float64(v[j*Hkv*D+g*D+e])
				}
			}
			// backward
			dp := make([]float64, len(s))
			var delta float64
			for j := lo; j <= i; j++ {
				for e := 0; e < D; e++ {
					dp[j-lo] += float64(dout[i*Hq*D+h*D+e]) * float64(v[j*Hkv*D+g*D+e])
				}
				delta += s[j-lo] * dp[j-lo]
			}
			for j := lo; j <= i; j++ {
				p := s[j-lo]
				ds := p * (dp[j-lo] - delta) * scale
				for e := 0; e < D; e++ {
					dv[j*Hkv*D+g*D+e] += p * float64(dout[i*Hq*D+h*D+e])
					dq[i*Hq*D+h*D+e] += ds * float64(k[j*Hkv*D+g*D+e])
					dk[j*Hkv*D+g*D+e] += ds * float64(q[i*Hq*D+h*D+e])
				}
			}
		}
	}
	return
}

// randomDocs returns positions for N tokens in rows of T with documents of
// random lengths (some crossing row boundaries, some a single token).
func randomDocs(r *rand.Rand, N, T, maxLen int) []int32 {
	pos := make([]int32, N)
	p, left := 0, 0
	for i := range pos {
		if left == 0 {
			p, left = 0, 1+r.IntN(maxLen)
		}
		pos[i] = int32(p)
		p++
		left--
	}
	return pos
}

func runAttention(t *testing.T, d *Device, q, k, v, dout []float32, pos []int32, T, N, Hq, Hkv, D int) (o, dq, dk, dv []float32) {
	return runAttentionMode(t, d, AttnFP32, q, k, v, dout, pos, T, N, Hq, Hkv, D)
}

// runAttentionMode runs forward and backward with one kernel family.
func runAttentionMode(t *testing.T, d *Device, mode AttnKernels, q, k, v, dout []float32, pos []int32, T, N, Hq, Hkv, D int) (o, dq, dk, dv []float32) {
	ss, se := Segments(pos, T)
	Q, K, Vb, DO := up(t, d, q), up(t, d, k), up(t, d, v), up(t, d, dout)
	SS, SE := up(t, d, ss), up(t, d, se)
	O, OB, LSE := poisoned(t, d, N*Hq*D*4), poisoned(t, d, N*Hq*D*2), poisoned(t, d, Hq*N*4)
	s := AttnShape{N: N, Hq: Hq, Hkv: Hkv, D: D, LdQ: Hq * D, LdKV: Hkv * D, LdO: Hq * D}
	DQ, DK, DV := poisoned(t, d, N*Hq*D*4), poisoned(t, d, N*Hkv*D*4), poisoned(t, d, N*Hkv*D*4)
	switch mode {
	case AttnTC2:
		QB, KB, VB, DOB := up(t, d, bf16s(q)), up(t, d, bf16s(k)), up(t, d, bf16s(v)), up(t, d, bf16s(dout))
		must(t, d.AttentionForwardTC2(O, LSE, QB, KB, VB, SS, s))
		must(t, d.AttentionBackwardTC2(DQ, DK, DV, QB, KB, VB, O, DO, DOB, LSE, poisoned(t, d, Hq*N*4), SS, SE, s))
	case AttnTC:
		must(t, d.AttentionForwardTC(O, LSE, Q, K, Vb, SS, s))
		must(t, d.AttentionBackwardTC(DQ, DK, DV, Q, K, Vb, O, DO, LSE, poisoned(t, d, Hq*N*4), SS, SE, s))
	default:
		must(t, d.AttentionForward(O, OB, LSE, Q, K, Vb, SS, s))
		must(t, d.AttentionBackward(DQ, DK, DV, Q, K, Vb, O, DO, LSE, poisoned(t, d, Hq*N*4), SS, SE, s))
	}
	return down32(t, d, O, N*Hq*D), down32(t, d, DQ, N*Hq*D), down32(t, d, DK, N*Hkv*D), down32(t, d, DV, N*Hkv*D)
}

func TestAttention(t *testing.T) {
	d := gpu(t)
	for _, tc := range []struct {
		N, T, Hq, Hkv, D, maxDoc int
	}{
		{200, 100, 4, 2, 16, 70},  // GQA, docs across rows
		{130, 130, 2, 2, 32, 130}, // MHA, partial last tile
		{300, 150, 6, 2, 64, 90},  // head dim 64 as in SmolLM2
		{64, 64, 3, 1, 64, 1},     // every token its own document
	} {
		t.Run(fmt.Sprintf("N%d_H%d-%d_D%d_doc%d", tc.N, tc.Hq, tc.Hkv, tc.D, tc.maxDoc), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.N), uint64(tc.D)))
			q := randn(r, tc.N*tc.Hq*tc.D, 1)
			k := randn(r, tc.N*tc.Hkv*tc.D, 1)
			v := randn(r, tc.N*tc.Hkv*tc.D, 1)
			dout := randn(r, tc.N*tc.Hq*tc.D, 1)
			pos := randomDocs(r, tc.N, tc.T, tc.maxDoc)
			ss, _ := Segments(pos, tc.T)
			o, dq, dk, dv := runAttention(t, d, q, k, v, dout, pos, tc.T, tc.N, tc.Hq, tc.Hkv, tc.D)
			wo, wdq, wdk, wdv := attnRef(q, k, v, dout, ss, tc.N, tc.Hq, tc.Hkv, tc.D)
			check(t, "o", o, wo, 1e-5)
			check(t, "dq", dq, wdq, 1e-4)
			check(t, "dk", dk, wdk, 1e-4)
			check(t, "dv", dv, wdv, 1e-4)
			if tc.D != 64 {
				return
			}
			// Tensor-core kernels: bf16 operands, so bf16-level tolerance.
			for _, m := range attnKinds()[:len(attnKinds())-1] {
				o, dq, dk, dv = runAttentionMode(t, d, m, q, k, v, dout, pos, tc.T, tc.N, tc.Hq, tc.Hkv, tc.D)
				check(t, m.String()+" o", o, wo, 2e-2)
				check(t, m.String()+" dq", dq, wdq, 3e-2)
				check(t, m.String()+" dk", dk, wdk, 3e-2)
				check(t, m.String()+" dv", dv, wdv, 3e-2)
			}
		})
	}
}

// TestDocMaskEquivalence checks on the GPU that attention over a packed
// stream of documents equals attention run on each document alone.
func TestDocMaskEquivalence(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(21, 22))
	Hq, Hkv, D := 4, 2, 64
	lens := []int{37, 1, 120, 64, 9}
	N := 0
	for _, l := range lens {
		N += l
	}
	q := randn(r, N*Hq*D, 1)
	k := randn(r, N*Hkv*D, 1)
	v := randn(r, N*Hkv*D, 1)
	dout := randn(r, N*Hq*D, 1)
	var pos []int32
	for _, l := range lens {
		for p := 0; p < l; p++ {
			pos = append(pos, int32(p))
		}
	}
	for _, m := range attnKinds() {
		t.Run(m.String(), func(t *testing.T) {
			docMaskEquivalence(t, d, m, q, k, v, dout, pos, lens, N, Hq, Hkv, D)
		})
	}
}

func docMaskEquivalence(t *testing.T, d *Device, tc AttnKernels, q, k, v, dout []float32, pos []int32, lens []int, N, Hq, Hkv, D int) {
	// fp32 kernels agree to rounding; the tensor-core ones round P and dS
	// to bf16 against a running max that depends on tile alignment.
	tol := 1e-6
	if tc != AttnFP32 {
		tol = 1e-2
	}
	po, pdq, pdk, pdv := runAttentionMode(t, d, tc, q, k, v, dout, pos, N, N, Hq, Hkv, D)
	off := 0
	for _, l := range lens {
		sl := func(x []float32, w int) []float32 { return x[off*w : (off+l)*w] }
		o, dq, dk, dv := runAttentionMode(t, d, tc, sl(q, Hq*D), sl(k, Hkv*D), sl(v, Hkv*D), sl(dout, Hq*D), pos[off:off+l], l, l, Hq, Hkv, D)
		for _, c := range []struct {
			name      string
			got, want []float32
		}{{"o", sl(po, Hq*D), o}, {"dq", sl(pdq, Hq*D), dq}, {"dk", sl(pdk, Hkv*D), dk}, {"dv", sl(pdv, Hkv*D), dv}} {
			w := make([]float64, len(c.want))
			for i, x := range c.want {
				w[i] = float64(x)
			}
			if e := relErr(c.got, w); !(e <= tol) {
				t.Errorf("doc at %d len %d: packed %s differs from alone by %.3g", off, l, c.name, e)
			}
		}
		off += l
	}
}
