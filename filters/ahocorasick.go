package filters

import "sort"

// acMatcher is an Aho-Corasick automaton over bytes: it finds every
// pattern occurring in a text in one pass, linear in the text length plus
// the matches, whatever the number of patterns.
type acMatcher struct {
	// Trie edges per node, sorted by byte; lists are short, so a binary
	// search beats a 256-entry table on memory for large pattern lists.
	edges [][]acEdge
	fail  []int32
	// out[node] lists pattern ids ending at node (own and via fail links).
	out      [][]int32
	patterns []string
}

type acEdge struct {
	b    byte
	next int32
}

func newACMatcher(patterns []string) *acMatcher {
	m := &acMatcher{edges: [][]acEdge{nil}, out: [][]int32{nil}, patterns: patterns}
	for id, p := range patterns {
		if p == "" {
			continue
		}
		node := int32(0)
		for i := 0; i < len(p); i++ {
			nx := m.child(node, p[i])
			if nx < 0 {
				nx = int32(len(m.edges))
				m.edges = append(m.edges, nil)
				m.out = append(m.out, nil)
				es := append(m.edges[node], acEdge{p[i], nx})
				sort.Slice(es, func(a, b int) bool { return es[a].b < es[b].b })
				m.edges[node] = es
			}
			node = nx
		}
		m.out[node] = append(m.out[node], int32(id))
	}
	// Breadth-first failure links.
	m.fail = make([]int32, len(m.edges))
	queue := []int32{}
	for _, e := range m.edges[0] {
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		node := queue[0]
		queue = queue[1:]
		for _, e := range m.edges[node] {
			f := m.fail[node]
			for f > 0 && m.child(f, e.b) < 0 {
				f = m.fail[f]
			}
			if nx := m.child(f, e.b); nx >= 0 && nx != e.next {
				m.fail[e.next] = nx
			}
			m.out[e.next] = append(m.out[e.next], m.out[m.fail[e.next]]...)
			queue = append(queue, e.next)
		}
	}
	return m
}

func (m *acMatcher) child(node int32, b byte) int32 {
	es := m.edges[node]
	lo, hi := 0, len(es)
	for lo < hi {
		mid := (lo + hi) / 2
		if es[mid].b < b {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(es) && es[lo].b == b {
		return es[lo].next
	}
	return -1
}

// each calls fn(patternID, end) for every occurrence in s; fn returns false
// to stop.
func (m *acMatcher) each(s string, fn func(id int32, end int) bool) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		b := s[i]
		for {
			if nx := m.child(node, b); nx >= 0 {
				node = nx
				break
			}
			if node == 0 {
				break
			}
			node = m.fail[node]
		}
		for _, id := range m.out[node] {
			if !fn(id, i+1) {
				return
			}
		}
	}
}
