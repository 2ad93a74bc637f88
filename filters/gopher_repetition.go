package filters

import (
	"fmt"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/kilnlm/kiln/filters/text"
	"github.com/kilnlm/kiln/pipeline"
)

// GopherRepetitionConfig holds the Gopher repetition thresholds (datatrove
// GopherRepetitionFilter). A zero threshold disables its rule.
type GopherRepetitionConfig struct {
	DupLineFrac     float64         `param:"dup_line_frac" help:"max fraction of lines that repeat an earlier line"`
	DupParaFrac     float64         `param:"dup_para_frac" help:"max fraction of paragraphs that repeat an earlier one"`
	DupLineCharFrac float64         `param:"dup_line_char_frac" help:"max fraction of chars in repeated lines"`
	DupParaCharFrac float64         `param:"dup_para_char_frac" help:"max fraction of chars in repeated paragraphs"`
	TopNGrams       map[int]float64 `param:"top_n_grams" help:"n:max fraction of chars covered by the most frequent n-gram"`
	DupNGrams       map[int]float64 `param:"dup_n_grams" help:"n:max fraction of chars in repeated n-grams"`
}

// DefaultGopherRepetitionConfig returns the published defaults.
func DefaultGopherRepetitionConfig() *GopherRepetitionConfig {
	return &GopherRepetitionConfig{
		DupLineFrac: 0.3, DupParaFrac: 0.3, DupLineCharFrac: 0.2, DupParaCharFrac: 0.2,
		TopNGrams: map[int]float64{2: 0.2, 3: 0.18, 4: 0.16},
		DupNGrams: map[int]float64{5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
	}
}

type nFrac struct {
	n    int
	frac float64
}

// GopherRepetition is the Gopher repetition filter.
type GopherRepetition struct {
	cfg     GopherRepetitionConfig
	top     []nFrac
	dup     []nFrac
	maxN    int
	scratch sync.Pool
	noBound bool // tests: check every n-gram size (reference behaviour)
	// features is shared with the registry's other filters; nil computes locally.
	features *featureCache
}

type repScratch struct {
	words  []string // from the document's features (read-only)
	pieces []string // paragraphs or lines of the document, cleared after use
	clen   []int32  // per-word char length (read-only)
	prefix []uint64 // polynomial prefix hash over word hashes
	pow    []uint64 // base powers
	table  u64Table
}

const polyBase = 0x100000001B3 // odd 64-bit multiplier for the rolling hash

// NewGopherRepetition builds the filter.
func NewGopherRepetition(cfg GopherRepetitionConfig) (*GopherRepetition, error) {
	g := &GopherRepetition{cfg: cfg}
	for _, src := range []struct {
		m   map[int]float64
		dst *[]nFrac
	}{{cfg.TopNGrams, &g.top}, {cfg.DupNGrams, &g.dup}} {
		for n, f := range src.m {
			if n < 1 || n > 64 {
				return nil, fmt.Errorf("n-gram size %d out of range 1..64", n)
			}
			*src.dst = append(*src.dst, nFrac{n, f})
			g.maxN = max(g.maxN, n)
		}
		s := *src.dst
		// Check in increasing n as datatrove does, so reasons are stable.
		for i := 1; i < len(s); i++ {
			for j := i; j > 0 && s[j].n < s[j-1].n; j-- {
				s[j], s[j-1] = s[j-1], s[j]
			}
		}
	}
	g.scratch.New = func() any { return &repScratch{} }
	return g, nil
}

// Name implements pipeline.Stage.
func (*GopherRepetition) Name() string { return "gopher_repetition" }

// Apply implements pipeline.Stage.
func (g *GopherRepetition) Apply(d *pipeline.Document) string {
	c := &g.cfg
	s := d.Text
	if s == "" {
		return ""
	}
	feat := g.features.get(s)
	defer g.features.release(feat)
	textLen := float64(feat.chars)
	sc := g.scratch.Get().(*repScratch)
	defer func() {
		clear(sc.pieces) // do not keep this text alive from the pool
		g.scratch.Put(sc)
	}()

	if c.DupParaFrac > 0 || c.DupParaCharFrac > 0 {
		paras := text.AppendParagraphs(sc.pieces[:0], strings.TrimSpace(s))
		sc.pieces = paras
		dups, chars := findDuplicates(&sc.table, paras)
		if c.DupParaFrac > 0 && float64(dups)/float64(len(paras)) > c.DupParaFrac {
			return "dup_para_frac"
		}
		if c.DupParaCharFrac > 0 && float64(chars)/textLen > c.DupParaCharFrac {
			return "dup_para_char_frac"
		}
	}
	if c.DupLineFrac > 0 || c.DupLineCharFrac > 0 {
		clear(sc.pieces) // the paragraphs, if any
		lines := text.AppendNonEmptyLines(sc.pieces[:0], s)
		sc.pieces = lines
		if len(lines) > 0 {
			dups, chars := findDuplicates(&sc.table, lines)
			if c.DupLineFrac > 0 && float64(dups)/float64(len(lines)) > c.DupLineFrac {
				return "dup_line_frac"
			}
			if c.DupLineCharFrac > 0 && float64(chars)/textLen > c.DupLineCharFrac {
				return "dup_line_char_frac"
			}
		}
	}
	if len(g.top) == 0 && len(g.dup) == 0 {
		return ""
	}
	sc.words, sc.clen = feat.words, feat.clen
	defer func() { sc.words, sc.clen = nil, nil }()
	nw := len(sc.words)
	// prefix[i] = sum_{j<i} h_j * B^(i-1-j): the hash of words[a:b] is
	// prefix[b] - prefix[a]*B^(b-a), so every n-gram hashes in O(1).
	sc.prefix = append(sc.prefix[:0], 0)
	var p uint64
	for _, h := range feat.hashes {
		p = p*polyBase + h
		sc.prefix = append(sc.prefix, p)
	}
	if len(sc.pow) <= g.maxN {
		sc.pow = sc.pow[:0]
		b := uint64(1)
		for i := 0; i <= g.maxN; i++ {
			sc.pow = append(sc.pow, b)
			b *= polyBase
		}
	}
	// Bound for the top n-gram rules, checked in increasing n: every
	// occurrence of an n-gram starts an occurrence of its (n-1)-word
	// prefix, so no n-gram occurs more often than the most frequent
	// (n-1)-gram, and none is longer than the longest n-gram of the text.
	// When that product cannot exceed the threshold the pass is skipped;
	// for typical prose this clears the 3- and 4-gram rules after the
	// 2-gram pass.
	prevN, prevCount := 0, 0
	for _, t := range g.top {
		n := t.n
		if nw < n {
			continue
		}
		if !g.noBound && prevN == n-1 && float64(prevCount*maxNGramChars(sc.clen, n))/textLen <= t.frac {
			// The same bound holds for n+1 through this n's count,
			// which is at most prevCount.
			prevN = n
			continue
		}
		top, count := g.topNGramChars(sc, n)
		if float64(top)/textLen > t.frac {
			return fmt.Sprintf("top_%d_gram", n)
		}
		prevN, prevCount = n, count
	}
	// Bound: the chars datatrove counts for repeated n-grams never exceed
	// the chars of words covered by some non-first occurrence of an
	// n-gram (cover_n), and cover_{n+1} is inside cover_n, because a
	// repeated (n+1)-gram repeats the n-grams it starts and ends with. One
	// pass for the smallest n therefore clears every larger n at once for
	// the typical document, instead of one pass per n.
	bound := -1
	for _, t := range g.dup {
		n := t.n
		if nw < n {
			continue
		}
		if bound < 0 {
			bound = g.coverChars(sc, n)
		}
		if !g.noBound && float64(bound)/textLen <= t.frac {
			continue
		}
		dup := g.dupNGramChars(sc, n)
		if float64(dup)/textLen > t.frac {
			return fmt.Sprintf("duplicated_%d_n_grams", n)
		}
	}
	return ""
}

func (g *GopherRepetition) ngramHash(sc *repScratch, i, n int) uint64 {
	h := sc.prefix[i+n] - sc.prefix[i]*sc.pow[n]
	return h ^ uint64(n)<<56
}

// maxNGramChars returns the length of the longest n-gram (n words joined
// by single spaces).
func maxNGramChars(clen []int32, n int) int {
	sum := 0
	for _, c := range clen[:n] {
		sum += int(c)
	}
	best := sum
	for i := n; i < len(clen); i++ {
		sum += int(clen[i]) - int(clen[i-n])
		best = max(best, sum)
	}
	return best + n - 1
}

// topNGramChars returns the length of the most frequent n-gram (words
// joined by single spaces) times its count, and that count; ties go to
// the n-gram seen first, as Python's Counter.most_common does.
func (g *GopherRepetition) topNGramChars(sc *repScratch, n int) (int, int) {
	nw := len(sc.words)
	t := &sc.table
	t.reset(nw - n + 1)
	bestCount, bestFirst := int32(0), int32(0)
	for i := 0; i+n <= nw; i++ {
		s, found := t.slot(g.ngramHash(sc, i, n))
		if !found {
			t.aux[s] = int32(i)
		}
		t.vals[s]++
		if v := t.vals[s]; v > bestCount || v == bestCount && t.aux[s] < bestFirst {
			bestCount, bestFirst = v, t.aux[s]
		}
	}
	length := n - 1
	for j := int(bestFirst); j < int(bestFirst)+n; j++ {
		length += int(sc.clen[j])
	}
	return length * int(bestCount), int(bestCount)
}

// dupNGramChars counts the chars of n-grams (words concatenated) that
// repeat an earlier n-gram, skipping past each repeat as datatrove does.
func (g *GopherRepetition) dupNGramChars(sc *repScratch, n int) int {
	nw := len(sc.words)
	t := &sc.table
	t.reset(nw - n + 1)
	repeated := 0
	for i := 0; i+n <= nw; {
		_, found := t.slot(g.ngramHash(sc, i, n))
		if found {
			for j := i; j < i+n; j++ {
				repeated += int(sc.clen[j])
			}
			i += n
			continue
		}
		i++
	}
	return repeated
}

// coverChars returns the chars of the words covered by any occurrence of
// an n-gram seen earlier in the document.
func (g *GopherRepetition) coverChars(sc *repScratch, n int) int {
	nw := len(sc.words)
	t := &sc.table
	t.reset(nw - n + 1)
	covered, until := 0, 0 // words [.., until) already counted
	for i := 0; i+n <= nw; i++ {
		if _, found := t.slot(g.ngramHash(sc, i, n)); !found {
			continue
		}
		for j := max(i, until); j < i+n; j++ {
			covered += int(sc.clen[j])
		}
		until = i + n
	}
	return covered
}

// findDuplicates counts elements equal to an earlier element and their
// characters.
func findDuplicates(t *u64Table, elems []string) (dups, chars int) {
	t.reset(len(elems))
	for _, e := range elems {
		if _, found := t.slot(xxhash.Sum64String(e)); found {
			dups++
			chars += runeLen(e)
		}
	}
	return dups, chars
}
