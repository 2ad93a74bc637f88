package mixer

import (
	"fmt"
	"math"
	"testing"
)

// blendRun packs rows of T slots with pieces of the given documents (one
// length list per source, cycled) and returns, after each row, the per-
// source token counts. It is the engine's blend loop without tokens.
func blendRun(w []float64, lens [][]int, T, rows int) [][]int64 {
	n := len(w)
	tok := make([]int64, n)
	idx := make([]int, n)
	off := make([]int, n)
	active := make([]bool, n)
	for d := range active {
		active[d] = true
	}
	var out [][]int64
	for r := 0; r < rows; r++ {
		for slots := 0; slots < T; {
			d := pickSource(w, tok, active)
			L := lens[d][idx[d]%len(lens[d])]
			take := min(L-off[d], T-slots)
			slots += take
			off[d] += take
			tok[d] += int64(take)
			if off[d] == L {
				off[d] = 0
				idx[d]++
			}
		}
		out = append(out, append([]int64(nil), tok...))
	}
	return out
}

// checkWindows asserts that over every window of rows the realised token
// count of each source is within bound tokens of weight x window tokens.
func checkWindows(t testing.TB, w []float64, counts [][]int64, T int, bound float64, windows []int) {
	t.Helper()
	for _, win := range windows {
		for end := win; end <= len(counts); end++ {
			var prev []int64
			if end-win > 0 {
				prev = counts[end-win-1]
			}
			n := float64(win * T)
			if end-win == 0 {
				n = float64(end * T)
			}
			for d := range w {
				got := counts[end-1][d]
				if prev != nil {
					got -= prev[d]
				}
				if w[d] == 0 && got != 0 {
					t.Fatalf("weights %v: zero-weight source %d got %d tokens", w, d, got)
				}
				if dev := math.Abs(float64(got) - w[d]*n); dev > bound {
					t.Fatalf("weights %v: window of %d rows ending at %d: source %d got %d tokens, target %.1f (deviation %.1f > %.1f)",
						w, win, end, d, got, w[d]*n, dev, bound)
				}
			}
		}
	}
}

func TestBlendProportionsAnyWindow(t *testing.T) {
	const T = 256
	lens := [][]int{{3, 900, 17, 256, 40}, {1, 1, 2, 5000}, {128, 129, 300}, {64}}
	for _, w := range [][]float64{
		{0.6, 0.3, 0.1, 0},
		{0.25, 0.25, 0.25, 0.25},
		{0.333, 0.37, 0.025, 0.272},
	} {
		counts := blendRun(w, lens, T, 2000)
		// Each piece is at most one row (T tokens), so a source is never
		// more than about one row ahead or behind its share; a window's
		// error is the difference of two such prefix errors.
		checkWindows(t, w, counts, T, 2*T*float64(len(w)-1), []int{1, 8, 64, 500})
		// and overall it is tight: within one row over 512k tokens
		checkWindows(t, w, counts, T, T, []int{len(counts)})
	}
}

func TestBlendExtremeWeights(t *testing.T) {
	const T = 128
	lens := [][]int{{50, 700}, {3}, {129}}
	for _, tc := range []struct {
		w        []float64
		wantUsed []bool
	}{
		{[]float64{1, 0, 0}, []bool{true, false, false}},
		{[]float64{0, 0, 1}, []bool{false, false, true}},
		{[]float64{1 - 1e-9, 1e-9, 0}, []bool{true, false, false}}, // 1e-9 of 256k tokens rounds to none
		{[]float64{0.999, 0.001, 0}, []bool{true, true, false}},
		{[]float64{1e-300, 1e-300, 1 - 2e-300}, []bool{false, false, true}},
		{[]float64{0.5, 0.5, 0}, []bool{true, true, false}},
	} {
		t.Run(fmt.Sprint(tc.w), func(t *testing.T) {
			counts := blendRun(tc.w, lens, T, 2000)
			last := counts[len(counts)-1]
			for d, u := range tc.wantUsed {
				if (last[d] > 0) != u {
					t.Fatalf("source %d used=%v (%d tokens), want %v", d, last[d] > 0, last[d], u)
				}
			}
			checkWindows(t, tc.w, counts, T, 2*T, []int{1, 10, 2000})
		})
	}
}

func TestPickSourceNoneActive(t *testing.T) {
	if d := pickSource([]float64{0, 0}, []int64{0, 0}, []bool{true, true}); d != -1 {
		t.Fatalf("all-zero weights picked %d", d)
	}
	if d := pickSource([]float64{0.5, 0.5}, []int64{0, 0}, []bool{false, false}); d != -1 {
		t.Fatalf("no active source picked %d", d)
	}
	// a dropped-out source leaves the others at their relative weights
	counts := make([]int64, 3)
	act := []bool{true, false, true}
	for i := 0; i < 30000; i++ {
		d := pickSource([]float64{0.2, 0.5, 0.3}, counts, act)
		counts[d]++
	}
	if r := float64(counts[0]) / float64(counts[2]); math.Abs(r-2.0/3) > 1e-3 {
		t.Fatalf("ratio after drop-out %.4f, want 2/3", r)
	}
}

// FuzzBlend drives the blend with arbitrary weights (zero, tiny, dominant,
// denormal) and document lengths: it must never pick a zero weight, never
// fail, and keep every source within a bounded distance of its share.
func FuzzBlend(f *testing.F) {
	f.Add(1.0, 0.0, 1e-12, uint16(5), uint16(900), uint16(1), uint8(64))
	f.Add(0.999999, 1e-6, 0.0, uint16(1), uint16(1), uint16(1), uint8(1))
	f.Add(0.0, 0.0, 5.0, uint16(4000), uint16(2), uint16(7), uint8(200))
	f.Fuzz(func(t *testing.T, a, b, c float64, l0, l1, l2 uint16, tt uint8) {
		w := []float64{math.Abs(a), math.Abs(b), math.Abs(c)}
		sum := 0.0
		for _, x := range w {
			if math.IsNaN(x) || math.IsInf(x, 0) || x > 1e300 {
				return
			}
			sum += x
		}
		if sum == 0 || math.IsInf(sum, 0) {
			return
		}
		for i := range w {
			w[i] /= sum
		}
		T := int(tt) + 1
		lens := [][]int{{int(l0)%5000 + 1, 3}, {int(l1)%5000 + 1}, {int(l2)%5000 + 1, 1}}
		counts := blendRun(w, lens, T, 300)
		checkWindows(t, w, counts, T, 2*float64(T)*3+2, []int{1, 300})
	})
}
