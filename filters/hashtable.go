package filters

// u64Table is an open-addressing hash table from 64-bit hashes to a small
// value, reused across documents: Go maps cost several times more per
// operation, and the repetition filter does nine passes over every word.
type u64Table struct {
	keys []uint64 // 0 marks an empty slot; stored keys are forced odd
	vals []int32
	aux  []int32
	mask uint64
	used []int32 // slots in use, so reset costs what the document used
}

// reset empties the table and sizes it for about n keys.
func (t *u64Table) reset(n int) {
	for _, s := range t.used {
		t.keys[s] = 0
	}
	t.used = t.used[:0]
	size := 64
	for size < 2*n {
		size <<= 1
	}
	if size > len(t.keys) {
		t.keys = make([]uint64, size)
		t.vals = make([]int32, size)
		t.aux = make([]int32, size)
		t.mask = uint64(size - 1)
	}
}

// slot finds k's slot; found says whether k was present. A missing key is
// inserted with value 0.
func (t *u64Table) slot(k uint64) (int, bool) {
	k |= 1
	i := (k * 0x9E3779B97F4A7C15) >> 20 & t.mask
	for {
		switch t.keys[i] {
		case k:
			return int(i), true
		case 0:
			t.keys[i] = k
			t.vals[i] = 0
			t.aux[i] = 0
			t.used = append(t.used, int32(i))
			return int(i), false
		}
		i = (i + 1) & t.mask
	}
}
