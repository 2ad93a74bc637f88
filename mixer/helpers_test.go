package mixer

import (
	"context"
	"testing"
)

// memSource is an in-memory DocSource with optional loss masks. Token
// values are derived from (source, doc, offset) so mix-ups are visible.
type memSource struct {
	docs  [][]int32
	masks [][]uint8
}

func (m *memSource) NumDocs() int     { return len(m.docs) }
func (m *memSource) DocLen(i int) int { return len(m.docs[i]) }
func (m *memSource) Doc(i int, dst []int32) []int32 {
	return append(dst[:0], m.docs[i]...)
}
func (m *memSource) LossMask(i int, dst []uint8) []uint8 {
	if m.masks == nil || m.masks[i] == nil {
		return nil
	}
	return append(dst[:0], m.masks[i]...)
}

// newMem builds n documents with lengths drawn deterministically in
// [minLen, maxLen]; withMask adds a loss mask that zeroes every 7th token.
func newMem(id, n, minLen, maxLen int, withMask bool) *memSource {
	m := &memSource{}
	x := uint64(id)*1000003 + 17
	for i := 0; i < n; i++ {
		x = splitmix(x)
		L := minLen
		if maxLen > minLen {
			L += int(x % uint64(maxLen-minLen+1))
		}
		doc := make([]int32, L)
		for j := range doc {
			doc[j] = int32(id<<24 | (i%4096)<<12 | j%4096)
		}
		m.docs = append(m.docs, doc)
		if withMask {
			mk := make([]uint8, L)
			for j := range mk {
				if j%7 != 3 {
					mk[j] = 1
				}
			}
			m.masks = append(m.masks, mk)
		}
	}
	return m
}

func mustParse(t testing.TB, y string) *Mixture {
	t.Helper()
	m, err := ParseMixture([]byte(y), "test.yaml", LoadOptions{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

func mustLoader(t testing.TB, m *Mixture, src map[string]DocSource, o LoaderOptions) *Loader {
	t.Helper()
	l, err := NewLoader(m, src, o)
	if err != nil {
		t.Fatalf("NewLoader: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// take returns the next n micro-batches.
func take(t testing.TB, l *Loader, n int) []*Batch {
	t.Helper()
	var out []*Batch
	for i := 0; i < n; i++ {
		b, err := l.Next(context.Background())
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

const threeSources = `
name: t
seed: 7
global_batch_tokens: 512
sources:
  web:  {tokens: 1M}
  code: {tokens: 1M}
  math: {tokens: 1M}
stages:
  - name: s1
    seq_len: 64
    weights: {web: 0.6, code: 0.3, math: 0.1}
  - name: s2
    start: {step: 20}
    seq_len: 128
    weights: {web: 0.2, code: 0.4, math: 0.4}
`

func threeMem() map[string]DocSource {
	return map[string]DocSource{
		"web":  newMem(1, 300, 1, 200, false),
		"code": newMem(2, 200, 10, 400, true),
		"math": newMem(3, 50, 1, 90, false),
	}
}
