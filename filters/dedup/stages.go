package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/kilnlm/kiln/pipeline"
)

// ExactConfig configures exact_dedup.
type ExactConfig struct {
	Key      string `param:"key" help:"what to hash: text (normalised: NFC, lowercase, white space collapsed) or url (metadata url; documents without one are kept)"`
	Priority string `param:"priority" help:"numeric metadata field; the document with the highest value is kept, ties and missing values in input order. Empty: keep the first seen"`
	Memory   string `param:"memory" help:"memory budget of the stage (sort buffers, merge buffers, cluster arrays), e.g. 512MiB, 1GiB"`
}

// MinHashConfig configures minhash_dedup; the defaults are datatrove's.
type MinHashConfig struct {
	Bands  int    `param:"bands" help:"LSH bands"`
	Rows   int    `param:"rows" help:"hashes per band"`
	NGram  int    `param:"ngram" help:"words per shingle"`
	Seed   uint64 `param:"seed" help:"seed of the (a*x+b) mod 2^61-1 permutations"`
	Memory string `param:"memory" help:"memory budget of the stage (sort buffers, merge buffers, union-find arrays), e.g. 512MiB, 1GiB"`
}

// LineConfig configures line_dedup.
type LineConfig struct {
	Mode    string `param:"mode" help:"unit of deduplication: lines, or sentences3 (C4's three-sentence spans within each line)"`
	MaxDocs int    `param:"max_docs" help:"a unit found in more than this many documents is removed from all but the first"`
	Memory  string `param:"memory" help:"memory budget of the stage, e.g. 512MiB, 1GiB"`
}

// DefaultMemory is a stage's memory budget when none is configured.
const DefaultMemory = "1GiB"

// Register adds the dedup steps to r.
func Register(r *pipeline.Registry) {
	r.Add(pipeline.StepDef{
		Name: "exact_dedup", Kind: pipeline.KindGlobal,
		Help:     "drop documents whose normalised text (or url) hash was seen before; keeps the first (or highest priority) one",
		Defaults: func() any { return &ExactConfig{Key: "text", Memory: DefaultMemory} },
		New:      func(cfg any) (any, error) { return NewExact(*cfg.(*ExactConfig)) },
	})
	r.Add(pipeline.StepDef{
		Name: "minhash_dedup", Kind: pipeline.KindGlobal,
		Help:     "MinHash LSH near-duplicate removal (datatrove defaults: 5-gram words, 14 bands x 8 rows); keeps the first document of each cluster",
		Defaults: func() any { return DefaultMinHashConfig() },
		New:      func(cfg any) (any, error) { return NewMinHash(*cfg.(*MinHashConfig)) },
	})
	r.Add(pipeline.StepDef{
		Name: "line_dedup", Kind: pipeline.KindGlobal,
		Help:     "remove lines (or 3-sentence spans) found in more than max_docs documents, keeping the first occurrence",
		Defaults: func() any { return &LineConfig{Mode: "lines", MaxDocs: 1, Memory: DefaultMemory} },
		New:      func(cfg any) (any, error) { return NewLine(*cfg.(*LineConfig)) },
	})
}

// DefaultMinHashConfig returns minhash_dedup's defaults.
func DefaultMinHashConfig() *MinHashConfig {
	p := DefaultMinHashParams()
	return &MinHashConfig{Bands: p.Bands, Rows: p.Rows, NGram: p.NGram, Seed: p.Seed, Memory: DefaultMemory}
}

// ParseSize parses a byte size such as 1GiB, 512MB, 300M or 1048576.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
	}
	mult := int64(1)
	low := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(low, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	x, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x*float64(mult) < 1 || x*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("bad size %q: want e.g. 512MiB or 1GiB", s)
	}
	return int64(x * float64(mult)), nil
}

func newCore(name string, parts int, memory string, cfg any) (*core, error) {
	limit, err := ParseSize(memory)
	if err != nil {
		return nil, fmt.Errorf("%s: memory: %w", name, err)
	}
	if limit < 1<<20 {
		return nil, fmt.Errorf("%s: memory = %s, want at least 1MiB", name, memory)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	// Sort buffers of concurrent observers share half the budget; Build's
	// arrays and merge buffers use the rest (Observe and Build never overlap).
	return &core{name: name, parts: parts, limit: limit, mem: &budget{limit: limit / 2}, config: b}, nil
}

// Exact is the exact_dedup stage.
type Exact struct {
	*core
	cfg ExactConfig
}

// NewExact builds exact_dedup.
func NewExact(cfg ExactConfig) (*Exact, error) {
	if cfg.Key != "text" && cfg.Key != "url" {
		return nil, fmt.Errorf("exact_dedup: key = %q, want text or url", cfg.Key)
	}
	c, err := newCore("exact_dedup", 1, cfg.Memory, cfg)
	if err != nil {
		return nil, err
	}
	e := &Exact{core: c, cfg: cfg}
	c.keys = func() (keyFunc, error) {
		var sb strings.Builder
		return func(d *pipeline.Document, emit func(uint32, uint64, uint64) error) error {
			h, aux, ok := ExactKey(&sb, &cfg, d)
			if !ok {
				return nil
			}
			return emit(0, h, aux)
		}, nil
	}
	return e, nil
}

// ExactKey is exact_dedup's grouping key for d: the xxhash of the lightly
// normalised text (or of the trimmed url when cfg.Key is url), and the
// priority sort key (lower sorts first). ok is false for a document without
// a url under key url: it is never a duplicate. The Beam runner groups by
// the same key, so both executors keep the same documents.
func ExactKey(sb *strings.Builder, cfg *ExactConfig, d *pipeline.Document) (hash, aux uint64, ok bool) {
	if cfg.Key == "url" {
		u := d.MetaString("url")
		if u == "" {
			return 0, 0, false
		}
		hash = xxhash.Sum64String(strings.TrimSpace(u))
	} else {
		hash = xxhash.Sum64String(lightNormalize(sb, d.Text))
	}
	return hash, priorityAux(d, cfg.Priority), true
}

// priorityAux maps a priority to a sort key where the highest priority
// sorts first and a missing or non-numeric one last.
func priorityAux(d *pipeline.Document, field string) uint64 {
	if field == "" {
		return 0
	}
	var x float64
	switch v := d.Meta[field].(type) {
	case float64:
		x = v
	case float32:
		x = float64(v)
	case int:
		x = float64(v)
	case int64:
		x = float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return math.MaxUint64
		}
		x = f
	default:
		return math.MaxUint64
	}
	if math.IsNaN(x) {
		return math.MaxUint64
	}
	// Order-preserving float -> uint64, then inverted so larger sorts first.
	b := math.Float64bits(x)
	if b>>63 == 1 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return ^b - 1 // never MaxUint64, which means "no priority"
}

// Name implements pipeline.GlobalStage.
func (e *Exact) Name() string { return "exact_dedup" }

// Build groups equal hashes; the first of each group in (priority, input
// order) is kept.
func (e *Exact) Build(ctx context.Context, dir string, tasks, workers int) error {
	return build(ctx, e.name, dir, tasks, func(ctx context.Context, c *corpus, tmp string) error {
		rep := make([]uint32, c.n)
		for i := range rep {
			rep[i] = uint32(i)
		}
		var keeper uint32
		var prev uint64
		first := true
		n := 0
		err := merge(c.sources(0), fanIn(e.limit/4), tmp, func(it item) error {
			if n++; n&0xffff == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if first || it.hash != prev {
				keeper, prev, first = it.id, it.hash, false
				return nil
			}
			rep[it.id] = keeper
			return nil
		})
		if err != nil {
			return err
		}
		return writeDecisions(ctx, c, rep, tmp)
	})
}

// Filter implements pipeline.GlobalStage.
func (e *Exact) Filter(dir string, task int) (pipeline.TaskFilter, error) {
	return openClusterFilter(dir, task, "exact_duplicate", "exact")
}

// MinHash is the minhash_dedup stage.
type MinHash struct {
	*core
	p MinHashParams
}

// NewMinHash builds minhash_dedup.
func NewMinHash(cfg MinHashConfig) (*MinHash, error) {
	p := MinHashParams{Bands: cfg.Bands, Rows: cfg.Rows, NGram: cfg.NGram, Seed: cfg.Seed}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("minhash_dedup: %w", err)
	}
	c, err := newCore("minhash_dedup", p.Bands, cfg.Memory, cfg)
	if err != nil {
		return nil, err
	}
	m := &MinHash{core: c, p: p}
	c.keys = func() (keyFunc, error) {
		h, err := NewHasher(p)
		if err != nil {
			return nil, err
		}
		keys := make([]uint64, p.Bands)
		return func(d *pipeline.Document, emit func(uint32, uint64, uint64) error) error {
			sig, ok := h.Signature(d.Text)
			if !ok {
				// No words: nothing to compare, never a near-duplicate.
				return nil
			}
			h.BandKeys(sig, keys)
			for b, k := range keys {
				if err := emit(uint32(b), k, 0); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	return m, nil
}

// Name implements pipeline.GlobalStage.
func (m *MinHash) Name() string { return "minhash_dedup" }

// Build matches equal band keys by a streaming merge of every run, band by
// band, with the bands spread over workers; each worker unions into its own
// union-find over dense ids, and the forests are folded together. The
// components, and so the output, do not depend on the worker count.
func (m *MinHash) Build(ctx context.Context, dir string, tasks, workers int) error {
	return build(ctx, m.name, dir, tasks, func(ctx context.Context, c *corpus, tmp string) error {
		workers = max(1, min(workers, m.p.Bands))
		// Each worker's forest costs 4 bytes per document; stay in budget.
		for workers > 1 && int64(workers)*4*int64(c.n) > m.limit/2 {
			workers--
		}
		mergeBytes := max(m.limit/2-int64(workers)*4*int64(c.n), 0) / int64(workers)
		forests := make([]unionFind, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				uf := newUnionFind(c.n)
				wtmp := filepath.Join(tmp, fmt.Sprintf("w%d", w))
				errs[w] = mkdir(wtmp)
				for band := w; band < m.p.Bands && errs[w] == nil; band += workers {
					var first uint32
					var prev uint64
					have := false
					n := 0
					errs[w] = merge(c.sources(band), fanIn(mergeBytes), wtmp, func(it item) error {
						if n++; n&0xffff == 0 && ctx.Err() != nil {
							return ctx.Err()
						}
						if have && it.hash == prev {
							uf.union(first, it.id)
							return nil
						}
						first, prev, have = it.id, it.hash, true
						return nil
					})
				}
				forests[w] = uf
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		uf := forests[0]
		for _, o := range forests[1:] {
			for i := range uint32(c.n) {
				if r := o.find(i); r != i {
					uf.union(i, r)
				}
			}
		}
		forests = nil
		rep := make([]uint32, c.n)
		for i := range rep {
			rep[i] = uf.find(uint32(i))
		}
		return writeDecisions(ctx, c, rep, tmp)
	})
}

// Filter implements pipeline.GlobalStage.
func (m *MinHash) Filter(dir string, task int) (pipeline.TaskFilter, error) {
	return openClusterFilter(dir, task, "minhash_duplicate", "minhash")
}

// unionFind is a disjoint-set forest over dense ids whose roots are always
// the smallest id of their set, so the kept document of a cluster is the
// first in input order whatever order unions arrive in.
type unionFind []uint32

func newUnionFind(n uint32) unionFind {
	uf := make(unionFind, n)
	for i := range uf {
		uf[i] = uint32(i)
	}
	return uf
}

func (uf unionFind) find(x uint32) uint32 {
	for uf[x] != x {
		uf[x] = uf[uf[x]] // path halving
		x = uf[x]
	}
	return x
}

func (uf unionFind) union(a, b uint32) {
	ra, rb := uf.find(a), uf.find(b)
	switch {
	case ra < rb:
		uf[rb] = ra
	case rb < ra:
		uf[ra] = rb
	}
}
