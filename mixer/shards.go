package mixer

import (
	"errors"
	"fmt"

	"github.com/kilnlm/kiln/tokenize/shard"
)

// TokenRanger is optionally implemented by a DocSource that can read part
// of a document (shard.Set does): Tokens appends tokens [start, end) of
// document i to dst. The packer then copies only the span it packs, so a
// long document split over many rows is not decoded again for every row.
type TokenRanger interface {
	Tokens(i, start, end int, dst []int32) []int32
}

// Versioner is optionally implemented by a DocSource that knows the
// content version of its data; the loader records it in the state and
// refuses to resume onto different data under the same name.
type Versioner interface {
	VersionID() string
}

// ShardSource adapts a memory-mapped shard set to DocSource, LossMasker,
// TokenRanger and Versioner.
type ShardSource struct{ *shard.Set }

// VersionID is the shard set manifest's version id.
func (s ShardSource) VersionID() string { return s.Manifest().VersionID }

// OpenShards opens the shard set of every source of m that has a path and
// a positive weight in some stage. close releases them all. Sources
// without a path (declared sizes only) are left out: NewLoader then names
// the first one a stage needs.
func OpenShards(m *Mixture) (sources map[string]DocSource, close func() error, err error) {
	var sets []*shard.Set
	close = func() error {
		var errs []error
		for _, s := range sets {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	sources = map[string]DocSource{}
	for d, src := range m.Sources {
		used := false
		for _, st := range m.Stages {
			used = used || st.Weights[d] > 0
		}
		if !used || src.Path == "" {
			continue
		}
		s, err := shard.Open(src.Path)
		if err != nil {
			close()
			return nil, nil, fmt.Errorf("%s:%d: sources.%s: open shard set: %w", orStdin(m.File), src.Line, src.Name, err)
		}
		sets = append(sets, s)
		sources[src.Name] = ShardSource{s}
	}
	return sources, close, nil
}

// Head returns a DocSource showing only the first n documents of src (for
// example to hold out a tail for evaluation). Unlike a struct embedding
// DocSource, it keeps src's optional LossMasker, TokenRanger and Versioner
// behaviour: a wrapper that hid LossMask would silently train on masked
// tokens.
func Head(src DocSource, n int) DocSource {
	n = max(0, min(n, src.NumDocs()))
	return headSource{src: src, n: n}
}

type headSource struct {
	src DocSource
	n   int
}

func (h headSource) NumDocs() int                   { return h.n }
func (h headSource) DocLen(i int) int               { return h.src.DocLen(i) }
func (h headSource) Doc(i int, dst []int32) []int32 { return h.src.Doc(i, dst) }

func (h headSource) LossMask(i int, dst []uint8) []uint8 {
	if m, ok := h.src.(LossMasker); ok {
		return m.LossMask(i, dst)
	}
	return nil
}

func (h headSource) Tokens(i, start, end int, dst []int32) []int32 {
	if r, ok := h.src.(TokenRanger); ok {
		return r.Tokens(i, start, end, dst)
	}
	return append(dst, h.src.Doc(i, nil)[start:end]...)
}

func (h headSource) VersionID() string {
	if v, ok := h.src.(Versioner); ok {
		return fmt.Sprintf("%s[:%d]", v.VersionID(), h.n)
	}
	return ""
}
