package tokenize

// bpeModel is a byte-level BPE model over raw bytes.
type bpeModel struct {
	byteID [256]int32 // id of each single byte, -1 when absent
	// merges maps (left id, right id) to rank<<32 | merged id.
	merges  *pairTable
	vocab   map[string]int32 // raw bytes -> id, for ignore_merges and lookups
	ignore  bool             // ignore_merges: a piece in the vocab is one token
	unkID   int32            // -1 when the model has no unk token
	fuseUnk bool
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// symbol is one node of the doubly linked list BPE merges over.
type symbol struct {
	id         int32
	prev, next int32 // indices, -1 at the ends
	dead       bool
}

// mergeCand is a candidate merge at position pos (left symbol index).
type mergeCand struct {
	rank int32
	pos  int32
	id   int32
}

// bpeScratch is per-encoder scratch space so a word's encoding allocates
// nothing once warm.
type bpeScratch struct {
	syms []symbol
	heap []mergeCand
}

func candLess(a, b mergeCand) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

func (s *bpeScratch) push(c mergeCand) {
	h := append(s.heap, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	s.heap = h
}

func (s *bpeScratch) pop() mergeCand {
	h := s.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && candLess(h[r], h[l]) {
			m = r
		}
		if !candLess(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}

// encodeWord appends the ids of one pre-token (raw bytes) to dst. Merges
// are applied lowest rank first, leftmost first among equal ranks, exactly
// as HF's BPE does with its priority queue.
func (m *bpeModel) encodeWord(word string, s *bpeScratch, dst []int32) []int32 {
	if m.ignore {
		if id, ok := m.vocab[word]; ok {
			return append(dst, id)
		}
	}
	if len(word) <= smallWord {
		if out, ok := m.encodeSmall(word, dst); ok {
			return out
		}
	}
	return m.encodeHeap(word, s, dst)
}

// encodeHeap is the general path: a binary heap of candidate merges over a
// linked list of symbols, O(n log n) for long pieces.
func (m *bpeModel) encodeHeap(word string, s *bpeScratch, dst []int32) []int32 {
	syms := s.syms[:0]
	for i := 0; i < len(word); i++ {
		id := m.byteID[word[i]]
		if id < 0 {
			if m.unkID < 0 {
				// HF drops characters it cannot map when the model has no
				// unk token; byte-level vocabularies have all 256 bytes, so
				// this only happens with incomplete hand-made vocabularies.
				continue
			}
			if m.fuseUnk && len(syms) > 0 && syms[len(syms)-1].id == m.unkID {
				continue
			}
			id = m.unkID
		}
		syms = append(syms, symbol{id: id, prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1})
	}
	if len(syms) == 0 {
		s.syms = syms
		return dst
	}
	syms[len(syms)-1].next = -1
	s.heap = s.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if v, ok := m.merges.get(pairKey(syms[i].id, syms[i+1].id)); ok {
			s.push(mergeCand{rank: int32(v >> 32), pos: int32(i), id: int32(uint32(v))})
		}
	}
	for len(s.heap) > 0 {
		c := s.pop()
		left := &syms[c.pos]
		if left.dead || left.next < 0 {
			continue
		}
		right := &syms[left.next]
		v, ok := m.merges.get(pairKey(left.id, right.id))
		if !ok || int32(v>>32) != c.rank || int32(uint32(v)) != c.id {
			continue // stale: one side was merged since this was queued
		}
		left.id = c.id
		right.dead = true
		left.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = c.pos
		}
		if left.prev >= 0 {
			p := left.prev
			if v, ok := m.merges.get(pairKey(syms[p].id, left.id)); ok {
				s.push(mergeCand{rank: int32(v >> 32), pos: p, id: int32(uint32(v))})
			}
		}
		if left.next >= 0 {
			if v, ok := m.merges.get(pairKey(left.id, syms[left.next].id)); ok {
				s.push(mergeCand{rank: int32(v >> 32), pos: c.pos, id: int32(uint32(v))})
			}
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		dst = append(dst, syms[i].id)
	}
	s.syms = syms
	return dst
}

// smallWord is the longest pre-token encodeSmall handles. Most words are
// short; for them a linear scan for the lowest-ranked pair beats the heap
// (no pushes, pops or stale-entry lookups) and gives the same merges.
const smallWord = 24

// encodeSmall is encodeWord for short words on stack arrays. It reports
// false (doing nothing) when a byte has no token, leaving that case to the
// general path.
func (m *bpeModel) encodeSmall(word string, dst []int32) ([]int32, bool) {
	var ids, next [smallWord]int32
	var ranks [smallWord]int32
	n := len(word)
	for i := 0; i < n; i++ {
		id := m.byteID[word[i]]
		if id < 0 {
			return dst, false
		}
		ids[i] = id
	}
	const none = int32(1<<31 - 1)
	pair := func(i int) {
		if v, ok := m.merges.get(pairKey(ids[i], ids[i+1])); ok {
			ranks[i], next[i] = int32(v>>32), int32(uint32(v))
		} else {
			ranks[i] = none
		}
	}
	for i := 0; i+1 < n; i++ {
		pair(i)
	}
	for n > 1 {
		best, br := -1, none
		for i := 0; i+1 < n; i++ {
			if ranks[i] < br {
				best, br = i, ranks[i]
			}
		}
		if best < 0 {
			break
		}
		ids[best] = next[best]
		copy(ids[best+1:], ids[best+2:n])
		if best+2 < n-1 { // pairs right of the merged one shift left by one
			copy(ranks[best+1:], ranks[best+2:n-1])
			copy(next[best+1:], next[best+2:n-1])
		}
		n--
		if best+1 < n {
			pair(best)
		}
		if best > 0 {
			pair(best - 1)
		}
	}
	return append(dst, ids[:n]...), true
}
