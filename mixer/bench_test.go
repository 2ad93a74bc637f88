package mixer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
)

// benchMixture: three sources, seq_len 2048, 64 rows per step (131k
// tokens), the SmolLM3 stage-1 family proportions.
const benchMixture = `
name: bench
seed: 1
global_batch_tokens: 131072
sources:
  web:  {tokens: 1M}
  code: {tokens: 1M}
  math: {tokens: 1M}
stages:
  - name: s
    seq_len: 2048
    weights: {web: 0.85, code: 0.12, math: 0.03}
`

// realisticMem builds a source of about tokens tokens with exponentially
// distributed document lengths around mean (80-90% of web documents are
// under 2k tokens), token ids below 49152.
func realisticMem(id int, tokens, mean int) *memSource {
	m := &memSource{}
	x := uint64(id) * 7919
	for n := 0; n < tokens; {
		x = splitmix(x)
		u := (float64(x>>11) + 0.5) / (1 << 53)
		L := 1 + int(-math.Log(u)*float64(mean))
		doc := make([]int32, L)
		for j := range doc {
			x = splitmix(x)
			doc[j] = int32(x % 49152)
		}
		m.docs = append(m.docs, doc)
		n += L
	}
	return m
}

func benchSources(tb testing.TB, shards bool) map[string]DocSource {
	mem := map[string]DocSource{
		"web":  realisticMem(1, 4_000_000, 700),
		"code": realisticMem(2, 2_000_000, 1500),
		"math": realisticMem(3, 1_000_000, 900),
	}
	if !shards {
		return mem
	}
	dir := tb.TempDir()
	out := map[string]DocSource{}
	for name, s := range mem {
		p := filepath.Join(dir, name)
		w := s.(*memSource)
		writeShardSetVocab(tb, p, w, 49152)
		set := openShardSet(tb, p)
		out[name] = ShardSource{set}
	}
	return out
}

// BenchmarkLoader measures packed tokens per second through Next, one
// rank, synchronous (the per-core cost) and with background prefetch,
// from memory-mapped shard sets and from memory.
func BenchmarkLoader(b *testing.B) {
	for _, shards := range []bool{true, false} {
		src := benchSources(b, shards)
		for _, prefetch := range []int{-1, 2} {
			name := fmt.Sprintf("shards=%v/prefetch=%d", shards, prefetch)
			b.Run(name, func(b *testing.B) {
				m := mustParse(b, benchMixture)
				l := mustLoader(b, m, src, LoaderOptions{Prefetch: prefetch})
				ctx := context.Background()
				var tokens int64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					bt, err := l.Next(ctx)
					if err != nil {
						b.Fatal(err)
					}
					tokens += int64(len(bt.Inputs))
					l.Release(bt)
				}
				b.StopTimer()
				b.SetBytes(int64(131072 * 4)) // int32 inputs per step
				b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
				b.ReportMetric(float64(l.Stats().Wait.Microseconds())/float64(b.N), "wait-µs/step")
			})
		}
	}
}

// jumpState moves a state forward to step, as if the run had got there:
// global counters, per-source epochs and token counts, and the blend
// counts at the stage's proportions. Nothing in it grows with the step.
func jumpState(st State, m *Mixture, step int64) State {
	st = st.clone()
	perStep := st.Tokens / st.Step
	st.Step = step
	st.Tokens = step * perStep
	st.SegmentTokens = st.Tokens
	for i := range st.Sources {
		s := &st.Sources[i]
		w := m.Stages[0].Weights[m.SourceIndex(s.Name)]
		s.SegmentTokens = int64(w * float64(st.Tokens))
		s.Tokens = s.SegmentTokens
		s.Epoch += s.Tokens / 1_000_000
		s.Offset = 0 // the new epoch's document at Index starts fresh
	}
	for i := range st.Lineage {
		st.Lineage[i].EndStep = step
	}
	return st
}

// BenchmarkStepAt measures one step's cost and allocations at step 0 and
// at step 10^7 (state jumped forward): they must match, unlike a loader
// whose index grows with training (the Playbook's nanosets bug).
func BenchmarkStepAt(b *testing.B) {
	src := benchSources(b, false)
	m := mustParse(b, benchMixture)
	l := mustLoader(b, m, src, LoaderOptions{Prefetch: -1})
	take(b, l, 1)
	st0 := l.State()
	for _, step := range []int64{1, 10_000_000} {
		st := st0
		if step > 1 {
			st = jumpState(st0, m, step)
		}
		b.Run(fmt.Sprintf("step=%d", step), func(b *testing.B) {
			l := mustLoader(b, m, src, LoaderOptions{Prefetch: -1, Resume: &st})
			js, _ := json.Marshal(l.State())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt, err := l.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				l.Release(bt)
			}
			b.ReportMetric(float64(len(js)), "state-bytes")
		})
	}
}

// TestStepCostIndependentOfStep is the unit-test form of BenchmarkStepAt:
// allocations per step and state size are the same at step 1 and 10^7.
func TestStepCostIndependentOfStep(t *testing.T) {
	src := threeMem()
	m := mustParse(t, benchMixture)
	l := mustLoader(t, m, src, LoaderOptions{GlobalBatchTokens: 8192, Prefetch: -1})
	take(t, l, 1)
	st0 := l.State()
	far := jumpState(st0, m, 10_000_000)
	measure := func(st State) (float64, int) {
		l := mustLoader(t, m, src, LoaderOptions{GlobalBatchTokens: 8192, Prefetch: -1, Resume: &st})
		take(t, l, 3)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := l.Next(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
		js, _ := json.Marshal(l.State())
		return allocs, len(js)
	}
	a0, s0 := measure(st0)
	a1, s1 := measure(far)
	if a0 != a1 {
		t.Fatalf("allocations per step: %.0f at step 1, %.0f at step 10^7", a0, a1)
	}
	// the state's JSON grows only by the digits of its counters
	if s1 > s0+200 {
		t.Fatalf("state size %d bytes at step 1, %d at step 10^7", s0, s1)
	}
}
