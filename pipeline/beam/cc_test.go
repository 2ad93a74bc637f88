//go:build beam

package beam

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// runStar applies one starFn half-round to edges in memory, grouping by
// node as the GroupByKey would (in a shuffled order, as a runner may).
func runStar(large bool, edges []edge, rng *rand.Rand) []edge {
	groups := map[int64][]adj{}
	for _, e := range edges {
		bothWays(e, func(k int64, a adj) { groups[k] = append(groups[k], a) })
	}
	var out []edge
	for k, g := range groups {
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		i := 0
		(&starFn{Large: large}).ProcessElement(k, func(a *adj) bool {
			if i == len(g) {
				return false
			}
			*a = g[i]
			i++
			return true
		}, func(e edge) { out = append(out, e) })
	}
	return out
}

func components(edges []edge) map[int64]decision {
	got := map[int64]decision{}
	i := 0
	componentsFn{}.ProcessElement(0, func(e *edge) bool {
		if i == len(edges) {
			return false
		}
		*e = edges[i]
		i++
		return true
	}, func(k int64, d decision) { got[k] = d })
	return got
}

// TestStarRoundsKeepComponents checks on random graphs that large-star and
// small-star rounds keep every component (the final decisions equal those
// of a union-find over the original edges) and converge to one star per
// component: |V| - |C| edges, each to the component's lowest node.
func TestStarRoundsKeepComponents(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 2 + rng.IntN(60)
		var edges []edge
		for e := rng.IntN(2 * n); e > 0; e-- {
			a, b := int64(rng.IntN(n)), int64(rng.IntN(n))
			if a == b {
				continue
			}
			edges = append(edges, edge{A: member{Ord: a, ID: fmt.Sprint("d", a)}, B: member{Ord: b, ID: fmt.Sprint("d", b)}})
		}
		want := components(edges)
		cur := edges
		for r := 0; r < 2; r++ {
			cur = runStar(true, cur, rng)
			cur = runStar(false, cur, rng)
		}
		if got := components(cur); !sameDecisions(got, want) {
			t.Fatalf("trial %d: after %d rounds components changed:\n got %v\nwant %v", trial, 2, got, want)
		}
		for r := 0; r < 40; r++ {
			cur = runStar(true, cur, rng)
			cur = runStar(false, cur, rng)
		}
		uniq := map[[2]int64]bool{}
		for _, e := range cur {
			a, b := min(e.A.Ord, e.B.Ord), max(e.A.Ord, e.B.Ord)
			uniq[[2]int64{a, b}] = true
			if d := want[b]; d.Root != e.A.ID && d.Root != e.B.ID {
				t.Fatalf("trial %d: converged edge %d-%d does not touch the root %s", trial, a, b, d.Root)
			}
		}
		dups := 0
		for _, d := range want {
			if d.Dup {
				dups++
			}
		}
		if len(uniq) != dups {
			t.Fatalf("trial %d: converged to %d distinct edges, want one per non-root node (%d)", trial, len(uniq), dups)
		}
		if got := components(cur); !sameDecisions(got, want) {
			t.Fatalf("trial %d: converged components differ", trial)
		}
	}
}

func sameDecisions(a, b map[int64]decision) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]int64, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
