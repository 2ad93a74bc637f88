//go:build beam

package beam

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/manifest"
)

// edge links a document to the first (lowest input order) document of a
// MinHash bucket it shares.
type edge struct {
	A, B member
}

// bandEdgesFn turns one (band, band hash) bucket into a star: every member
// is linked to the bucket's first member. A bucket of n documents gives n-1
// edges instead of n(n-1)/2 pairs, and the stars of all buckets connect
// exactly the documents the local union-find connects.
type bandEdgesFn struct{}

func (bandEdgesFn) ProcessElement(_ string, iter func(*member) bool, emit func(edge)) {
	var first member
	var rest []member
	var m member
	n := 0
	for iter(&m) {
		if n == 0 || m.Ord < first.Ord {
			if n > 0 {
				rest = append(rest, first)
			}
			first = m
		} else {
			rest = append(rest, m)
		}
		n++
	}
	for _, r := range rest {
		emit(edge{A: first, B: r})
	}
}

// componentsFn finds the connected components of the duplicate graph with
// a union-find whose roots are the lowest input order, so the kept document
// of a cluster is the first in input order (the local executor's rule).
// It sees only documents that share a bucket with another one: its memory is
// a few hundred bytes per such document, not per corpus document.
type componentsFn struct{}

func (componentsFn) ProcessElement(_ int, iter func(*edge) bool, emit func(int64, decision)) {
	parent := map[int64]int64{}
	ids := map[int64]string{}
	var find func(x int64) int64
	find = func(x int64) int64 {
		for {
			p := parent[x]
			if p == x {
				return x
			}
			gp := parent[p]
			parent[x] = gp
			x = gp
		}
	}
	add := func(m member) {
		if _, ok := parent[m.Ord]; !ok {
			parent[m.Ord] = m.Ord
			ids[m.Ord] = m.ID
		}
	}
	var e edge
	for iter(&e) {
		add(e.A)
		add(e.B)
		ra, rb := find(e.A.Ord), find(e.B.Ord)
		switch {
		case ra < rb:
			parent[rb] = ra
		case rb < ra:
			parent[ra] = rb
		}
	}
	size := map[int64]int64{}
	nodes := make([]int64, 0, len(parent))
	for x := range parent {
		nodes = append(nodes, x)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i] < nodes[j] })
	for _, x := range nodes {
		size[find(x)]++
	}
	for _, x := range nodes {
		r := find(x)
		if size[r] < 2 {
			continue
		}
		emit(x, decision{Dup: r != x, Root: ids[r], Size: size[r]})
	}
}

// StarRounds is how many large-star + small-star rounds run before the
// final union-find. Each round is one shuffle of the edges; it shrinks the
// edge set towards one edge per duplicate document (a star per cluster
// centred on its first document), which is what bounds the final step's
// memory. The result is exact for any number of rounds, 0 included.
const StarRounds = 2

// connectedComponents turns MinHash buckets into per-document decisions:
// a star per bucket (parallel over buckets), StarRounds rounds of
// large-star/small-star (parallel over documents), then one union-find
// over the remaining edges (docs/distributed.md).
func connectedComponents(s beam.Scope, buckets beam.PCollection) beam.PCollection {
	edges := beam.ParDo(s, &bandEdgesFn{}, buckets)
	for r := 0; r < StarRounds; r++ {
		rs := s.Scope(fmt.Sprintf("round%d", r))
		edges = beam.ParDo(rs, &starFn{Large: true}, beam.GroupByKey(rs, beam.ParDo(rs, bothWays, edges)))
		edges = beam.ParDo(rs, &starFn{Large: false}, beam.GroupByKey(rs, beam.ParDo(rs, bothWays, edges)))
	}
	one := beam.GroupByKey(s, beam.AddFixedKey(s, edges))
	return beam.ParDo(s, &componentsFn{}, one)
}

// adj is one endpoint's view of an edge: itself and its neighbour.
type adj struct {
	Self, Nbr member
}

// bothWays keys an undirected edge by each of its endpoints.
func bothWays(e edge, emit func(int64, adj)) {
	emit(e.A.Ord, adj{Self: e.A, Nbr: e.B})
	emit(e.B.Ord, adj{Self: e.B, Nbr: e.A})
}

// starFn is one half-round of the large-star/small-star algorithm (Kiveris
// et al., "Connected Components in MapReduce and Beyond", 2014). For a node
// u with neighbours N(u) and m the lowest of u and N(u):
//
//	large star: link every neighbour v > u to m
//	small star: link u and every neighbour v < u to m
//
// Both keep each component connected and move every node's links towards
// its component's lowest input order; alternated, they converge to one star
// per component.
type starFn struct {
	Large bool
}

func (f *starFn) ProcessElement(_ int64, iter func(*adj) bool, emit func(edge)) {
	var self member
	nbrs := map[int64]member{}
	var a adj
	for iter(&a) {
		self = a.Self
		if a.Nbr.Ord != self.Ord {
			nbrs[a.Nbr.Ord] = a.Nbr
		}
	}
	m := self
	for _, v := range nbrs {
		if v.Ord < m.Ord && (f.Large || v.Ord < self.Ord) {
			m = v
		}
	}
	if f.Large {
		for _, v := range nbrs {
			if v.Ord > self.Ord && v.Ord != m.Ord {
				emit(edge{A: m, B: v})
			}
		}
		// A neighbour w < u rewires u itself in w's own large star (u > w),
		// so u's links below it need no edge from here.
		return
	}
	if m.Ord != self.Ord {
		emit(edge{A: m, B: self})
	}
	for _, v := range nbrs {
		if v.Ord < self.Ord && v.Ord != m.Ord {
			emit(edge{A: m, B: v})
		}
	}
	// Neighbours above u are handled by their own small star (u is below
	// them), so no edge is lost.
}

// finishFn runs once, after every task is written: it merges the outputs
// (Output.Finish, e.g. the shard manifest) and writes stats.json and
// recipe.yaml in the local executor's formats.
type finishFn struct {
	Spec  Spec
	Tasks int64
	b     *built
}

func (f *finishFn) Setup() error {
	b, err := f.Spec.build(need{Outputs: true})
	f.b = b
	return err
}

func (f *finishFn) ProcessElement(ctx context.Context, _ int, iter func(*stat) bool) error {
	tot := map[string]int64{}
	var st stat
	for iter(&st) {
		tot[st.Key] += st.N
	}
	if tot["tasks_written"] != f.Tasks {
		return fmt.Errorf("beam finish: %d of %d tasks written", tot["tasks_written"], f.Tasks)
	}
	outs := append(append([]pipeline.Output{}, f.b.docsOuts...), f.b.stepOuts...)
	for i, o := range outs {
		if err := o.Finish(f.b.outDirs[i], int(f.Tasks)); err != nil {
			return fmt.Errorf("beam finish: output %s: %w", o.Name(), err)
		}
	}
	s := RunStats(f.b, tot)
	s.Tasks = int(f.Tasks)
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := manifest.WriteFileAtomic(filepath.Join(f.Spec.Out, "stats.json"), append(b, '\n')); err != nil {
		return err
	}
	header := fmt.Sprintf("# Recipe %q as run on Beam (normalised: every parameter explicit).\n", f.b.rec.Name)
	return manifest.WriteFileAtomic(filepath.Join(f.Spec.Out, "recipe.yaml"), append([]byte(header), f.Spec.Recipe...))
}

// RunStats turns the summed counters into the executor's stats.json shape.
// Per-stage In/Out follow from where each document left: a document
// dropped at stage j entered stages 0..j and passed 0..j-1.
func RunStats(b *built, tot map[string]int64) *executor.Stats {
	s := &executor.Stats{Name: b.rec.Name, DroppedBy: map[string]int64{}, SkippedBy: map[string]int64{}}
	s.Records, s.Docs, s.BytesIn = tot["records"], tot["docs"], tot["bytes_in"]
	s.Stages = make([]executor.StageStats, len(b.stages))
	for i, st := range b.rec.Stages {
		s.Stages[i] = executor.StageStats{Name: st.Name, Kind: b.kinds[i].String()}
	}
	droppedAt := make([]int64, len(b.stages))
	for k, n := range tot {
		switch {
		case strings.HasPrefix(k, "skip/"):
			s.SkippedBy[k[5:]] += n
			s.Skipped += n
		case strings.HasPrefix(k, "drop/"):
			rest := k[5:]
			j := strings.IndexByte(rest, '/')
			i, err := strconv.Atoi(rest[:j])
			if err != nil || i < 0 || i >= len(b.stages) {
				continue
			}
			reason := rest[j+1:]
			s.DroppedBy[reason] += n
			s.Dropped += n
			droppedAt[i] += n
			if s.Stages[i].Dropped == nil {
				s.Stages[i].Dropped = map[string]int64{}
			}
			s.Stages[i].Dropped[reason] += n
		case strings.HasPrefix(k, "kept/"):
			s.Kept += n
		case strings.HasPrefix(k, "kept_bytes/"):
			s.BytesOut += n
		}
	}
	in := s.Docs
	for i := range s.Stages {
		s.Stages[i].In = in
		in -= droppedAt[i]
		s.Stages[i].Out = in
	}
	return s
}
