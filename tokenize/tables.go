package tokenize

import "hash/maphash"

// pairTable maps a (left id, right id) pair to rank<<32 | merged id with
// open addressing in one flat array: a merge lookup is usually a single
// cache line, which matters because BPE does several per word.
type pairTable struct {
	slots []pairSlot
	mask  uint64
	shift uint
}

type pairSlot struct{ k, v uint64 }

const emptyPair = ^uint64(0) // no pair of two int32 ids >= 0 has this key

func newPairTable(n int) *pairTable {
	size, shift := 16, uint(60)
	for size < 2*n {
		size *= 2
		shift--
	}
	t := &pairTable{slots: make([]pairSlot, size), mask: uint64(size - 1), shift: shift}
	for i := range t.slots {
		t.slots[i].k = emptyPair
	}
	return t
}

func (t *pairTable) index(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

// put inserts k if absent and reports whether it did (the first merge of a
// duplicated pair keeps its rank, as in HF).
func (t *pairTable) put(k, v uint64) bool {
	for i := t.index(k); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.k == k {
			return false
		}
		if s.k == emptyPair {
			s.k, s.v = k, v
			return true
		}
	}
}

func (t *pairTable) get(k uint64) (uint64, bool) {
	for i := t.index(k); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.k == k {
			return s.v, true
		}
		if s.k == emptyPair {
			return 0, false
		}
	}
}

// wordCache memoizes pre-token -> ids. Keys and values live in two arenas
// so an entry costs no allocation; when it fills up it is emptied
// wholesale, which bounds memory and cannot change any output.
type wordCache struct {
	slots []cacheSlot
	keys  []byte
	vals  []int32
	n     int
	seed  maphash.Seed
}

type cacheSlot struct {
	hash           uint64 // 0 = empty
	keyOff, valOff uint32
	keyLen, valLen uint32
}

const (
	cacheMinSlots = 1 << 12
	cacheMaxSlots = 1 << 18 // at most 128k words
	cacheMaxKeys  = 4 << 20 // key arena bytes
	cacheMaxVals  = 2 << 20 // value arena ids
	cacheMaxPiece = 64      // longer pieces are rare and not worth keeping
)

func newWordCache() *wordCache {
	return &wordCache{slots: make([]cacheSlot, cacheMinSlots), seed: maphash.MakeSeed()}
}

func (c *wordCache) hash(p string) uint64 { return maphash.String(c.seed, p) | 1 }

func (c *wordCache) get(p string, h uint64) ([]int32, bool) {
	mask := uint64(len(c.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.hash == 0 {
			return nil, false
		}
		if s.hash == h && int(s.keyLen) == len(p) && string(c.keys[s.keyOff:s.keyOff+s.keyLen]) == p {
			return c.vals[s.valOff : s.valOff+s.valLen], true
		}
	}
}

func (c *wordCache) put(p string, h uint64, ids []int32) {
	if len(p) > cacheMaxPiece {
		return
	}
	if 2*(c.n+1) > len(c.slots) {
		if len(c.slots) >= cacheMaxSlots {
			c.reset()
		} else {
			c.grow()
		}
	}
	if len(c.keys)+len(p) > cacheMaxKeys || len(c.vals)+len(ids) > cacheMaxVals {
		c.reset()
	}
	s := cacheSlot{hash: h, keyOff: uint32(len(c.keys)), keyLen: uint32(len(p)), valOff: uint32(len(c.vals)), valLen: uint32(len(ids))}
	c.keys = append(c.keys, p...)
	c.vals = append(c.vals, ids...)
	c.insert(s)
	c.n++
}

func (c *wordCache) insert(s cacheSlot) {
	mask := uint64(len(c.slots) - 1)
	for i := s.hash & mask; ; i = (i + 1) & mask {
		if c.slots[i].hash == 0 {
			c.slots[i] = s
			return
		}
	}
}

func (c *wordCache) grow() {
	old := c.slots
	c.slots = make([]cacheSlot, 2*len(old))
	for _, s := range old {
		if s.hash != 0 {
			c.insert(s)
		}
	}
}

func (c *wordCache) reset() {
	clear(c.slots)
	c.keys, c.vals, c.n = c.keys[:0], c.vals[:0], 0
}
