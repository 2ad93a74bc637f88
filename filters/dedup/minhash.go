package dedup

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// mersenne61 is the prime 2^61-1 of the permutation family
// h(x) = (a*x + b) mod p, the same family datatrove uses.
const mersenne61 = 1<<61 - 1

// MinHashParams are the LSH parameters; the defaults are datatrove's.
type MinHashParams struct {
	Bands int    // bands of the signature
	Rows  int    // hashes per band
	NGram int    // words per shingle
	Seed  uint64 // seed of the permutation coefficients
}

// DefaultMinHashParams returns datatrove's defaults: 14 bands x 8 rows of
// word 5-grams (P(detect | J=0.8) = 0.924).
func DefaultMinHashParams() MinHashParams {
	return MinHashParams{Bands: 14, Rows: 8, NGram: 5, Seed: 1}
}

func (p MinHashParams) validate() error {
	switch {
	case p.Bands < 1 || p.Bands > 1024:
		return fmt.Errorf("bands = %d, want 1..1024", p.Bands)
	case p.Rows < 1 || p.Rows > 1024:
		return fmt.Errorf("rows = %d, want 1..1024", p.Rows)
	case p.NGram < 1 || p.NGram > 64:
		return fmt.Errorf("ngram = %d, want 1..64", p.NGram)
	}
	return nil
}

// Hasher computes MinHash signatures. It holds scratch buffers, so one
// Hasher serves one goroutine; NewHasher is cheap.
type Hasher struct {
	p      MinHashParams
	a, b   []uint64 // permutation coefficients, Bands*Rows each
	sig    []uint64
	xs     []uint64 // reduced shingle hashes of the current text
	text   []byte
	starts []int
	band   []byte
}

// NewHasher returns a Hasher for p; the coefficients depend only on p.Seed
// and the signature length, so every run and every machine agrees.
func NewHasher(p MinHashParams) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	n := p.Bands * p.Rows
	h := &Hasher{p: p, a: make([]uint64, n), b: make([]uint64, n), sig: make([]uint64, n), band: make([]byte, 8*p.Rows)}
	rng := splitmix64{state: p.Seed}
	for i := range n {
		// a in [1, p), b in [0, p): a must be non-zero to be a permutation.
		h.a[i] = 1 + rng.next()%(mersenne61-1)
		h.b[i] = rng.next() % mersenne61
	}
	return h, nil
}

// Signature returns the Bands*Rows minimum hashes of text's shingles and
// whether the text had any word at all. The slice is reused by the next
// call. A text shorter than NGram words is one shingle of all its words.
func (h *Hasher) Signature(text string) ([]uint64, bool) {
	h.text, h.starts = simplify(h.text, h.starts, text)
	sig := h.sig
	for i := range sig {
		sig[i] = mersenne61 // larger than any reduced value
	}
	nw := len(h.starts)
	if nw == 0 {
		return sig, false
	}
	n := h.p.NGram
	if nw < n {
		n = nw
	}
	xs := h.xs[:0]
	for i := 0; i+n <= nw; i++ {
		end := len(h.text)
		if i+n < nw {
			end = h.starts[i+n] - 1
		}
		x := xxhash.Sum64(h.text[h.starts[i]:end])
		// Reduce x into [0, p) so a*x fits in 122 bits.
		x = (x & mersenne61) + (x >> 61)
		if x >= mersenne61 {
			x -= mersenne61
		}
		xs = append(xs, x)
	}
	h.xs = xs
	// Four shingles per pass over the coefficients: each a[j], b[j] and
	// sig[j] is loaded once for four independent multiply chains.
	a, b := h.a, h.b[:len(h.a)]
	sig = sig[:len(a)]
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		x0, x1, x2, x3 := xs[i], xs[i+1], xs[i+2], xs[i+3]
		for j := range a {
			aj, bj := a[j], b[j]
			m := min(permute(aj, bj, x0), permute(aj, bj, x1), permute(aj, bj, x2), permute(aj, bj, x3))
			if m < sig[j] {
				sig[j] = m
			}
		}
	}
	for ; i < len(xs); i++ {
		x := xs[i]
		for j := range a {
			if v := permute(a[j], b[j], x); v < sig[j] {
				sig[j] = v
			}
		}
	}
	return h.sig, true
}

// permute returns (a*x + b) mod 2^61-1 for a, x, b < 2^61-1.
func permute(a, b, x uint64) uint64 {
	hi, lo := bits.Mul64(a, x)
	// 2^64 = 2^3 * 2^61 = 8 (mod p): fold the 122-bit product.
	v := (lo & mersenne61) + (lo>>61 | hi<<3) + b
	v = (v & mersenne61) + (v >> 61)
	if v >= mersenne61 {
		v -= mersenne61
	}
	return v
}

// BandKeys turns a signature into one 64-bit key per band: equal keys mean
// (up to a 2^-64 collision) equal rows. keys must have room for Bands.
func (h *Hasher) BandKeys(sig []uint64, keys []uint64) {
	r := h.p.Rows
	for bnd := 0; bnd < h.p.Bands; bnd++ {
		for j := 0; j < r; j++ {
			binary.LittleEndian.PutUint64(h.band[8*j:], sig[bnd*r+j])
		}
		keys[bnd] = xxhash.Sum64(h.band)
	}
}

// Shingles returns the set of shingle hashes of text (for tests and for
// exact Jaccard checks).
func (h *Hasher) Shingles(text string) map[uint64]struct{} {
	h.text, h.starts = simplify(h.text, h.starts, text)
	out := make(map[uint64]struct{})
	nw := len(h.starts)
	n := min(h.p.NGram, nw)
	for i := 0; n > 0 && i+n <= nw; i++ {
		end := len(h.text)
		if i+n < nw {
			end = h.starts[i+n] - 1
		}
		out[xxhash.Sum64(h.text[h.starts[i]:end])] = struct{}{}
	}
	return out
}

// splitmix64 is a tiny deterministic generator for the coefficients; it is
// local to NewHasher, so no state is shared.
type splitmix64 struct{ state uint64 }

func (s *splitmix64) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
