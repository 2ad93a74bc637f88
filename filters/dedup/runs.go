package dedup

import (
	"bufio"
	"container/heap"
	"encoding/binary"

	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
)

// record is one key a document contributes: a band key (MinHash), a text
// hash (exact) or a line hash (line dedup). Runs are sorted by
// (part, hash, aux, seq); part is the band, aux a tie-breaker (priority).
type record struct {
	hash uint64
	aux  uint64
	seq  uint32 // document number within its task
	part uint32
}

const recordSize = 24

func cmpRecord(a, b record) int {
	switch {
	case a.part != b.part:
		return cmpU(uint64(a.part), uint64(b.part))
	case a.hash != b.hash:
		return cmpU(a.hash, b.hash)
	case a.aux != b.aux:
		return cmpU(a.aux, b.aux)
	}
	return cmpU(uint64(a.seq), uint64(b.seq))
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// budget is a byte budget shared by every sort buffer of one stage. Buffers
// spill to disk instead of exceeding it, which is how --memory holds.
type budget struct {
	limit int64
	used  atomic.Int64
}

func (b *budget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// minBuffer records are always allowed, so a tiny budget still makes
// progress (with many small runs) instead of failing.
const minBuffer = 4096

// runMagic starts every run file; the header then holds the number of
// parts and the record count of each part, so a reader can seek to a part.
var runMagic = [8]byte{'K', 'D', 'R', 'U', 'N', '1', 0, 0}

// spiller buffers records and writes them as sorted run files.
type spiller struct {
	dir   string
	parts int
	mem   *budget
	buf   []record
	held  int64 // bytes taken from mem
	runs  []string
}

func newSpiller(dir string, parts int, mem *budget) *spiller {
	return &spiller{dir: dir, parts: parts, mem: mem}
}

func (s *spiller) add(r record) error {
	if len(s.buf) == cap(s.buf) {
		grow := max(cap(s.buf), minBuffer)
		if cap(s.buf) == 0 {
			s.buf = make([]record, 0, minBuffer)
		} else if s.mem.take(int64(grow) * recordSize) {
			s.held += int64(grow) * recordSize
			nb := make([]record, len(s.buf), cap(s.buf)+grow)
			copy(nb, s.buf)
			s.buf = nb
		} else if err := s.spill(); err != nil {
			return err
		}
	}
	s.buf = append(s.buf, r)
	return nil
}

// spill sorts the buffer and writes it as the next run.
func (s *spiller) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.SortFunc(s.buf, cmpRecord)
	path := filepath.Join(s.dir, fmt.Sprintf("run-%05d.bin", len(s.runs)))
	if err := writeRun(path, s.parts, s.buf); err != nil {
		return err
	}
	s.runs = append(s.runs, path)
	s.buf = s.buf[:0]
	return nil
}

// finish spills what is left and returns the buffer's memory.
func (s *spiller) finish() ([]string, error) {
	err := s.spill()
	s.release()
	return s.runs, err
}

func (s *spiller) release() {
	s.mem.give(s.held)
	s.held = 0
	s.buf = nil
}

func writeRun(path string, parts int, recs []record) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close run %s: %w", path, cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	counts := make([]uint64, parts)
	for _, r := range recs {
		if int(r.part) >= parts {
			return fmt.Errorf("run %s: part %d out of range %d", path, r.part, parts)
		}
		counts[r.part]++
	}
	hdr := make([]byte, 0, 16+8*parts)
	hdr = append(hdr, runMagic[:]...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(parts))
	for _, c := range counts {
		hdr = binary.LittleEndian.AppendUint64(hdr, c)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write run %s: %w", path, err)
	}
	var b [recordSize]byte
	for _, r := range recs {
		putRecord(b[:], r)
		if _, err := w.Write(b[:]); err != nil {
			return fmt.Errorf("write run %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write run %s: %w", path, err)
	}
	return nil
}

func putRecord(b []byte, r record) {
	binary.LittleEndian.PutUint64(b[0:], r.hash)
	binary.LittleEndian.PutUint64(b[8:], r.aux)
	binary.LittleEndian.PutUint32(b[16:], r.seq)
	binary.LittleEndian.PutUint32(b[20:], r.part)
}

func getRecord(b []byte) record {
	return record{
		hash: binary.LittleEndian.Uint64(b[0:]),
		aux:  binary.LittleEndian.Uint64(b[8:]),
		seq:  binary.LittleEndian.Uint32(b[16:]),
		part: binary.LittleEndian.Uint32(b[20:]),
	}
}

// source is one part of one run file; its documents are numbered from base
// in the corpus-wide dense numbering.
type source struct {
	path string
	part int
	base uint32
}

// item is a merged record: id is the dense document id.
type item struct {
	hash, aux uint64
	id        uint32
}

func cmpItem(a, b item) int {
	switch {
	case a.hash != b.hash:
		return cmpU(a.hash, b.hash)
	case a.aux != b.aux:
		return cmpU(a.aux, b.aux)
	}
	return cmpU(uint64(a.id), uint64(b.id))
}

// cursor reads one source's records in order.
type cursor struct {
	src  source
	f    *os.File
	r    *bufio.Reader
	left uint64
	cur  item
	buf  [recordSize]byte
}

// mergeBufSize is each open run's read buffer; the merge fan-in is chosen so
// that fanIn*mergeBufSize fits the budget.
const mergeBufSize = 1 << 16

func openCursor(s source) (*cursor, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("open run: %w", err)
	}
	c := &cursor{src: s, f: f}
	var hdr [16]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || [8]byte(hdr[:8]) != runMagic {
		f.Close()
		return nil, fmt.Errorf("run %s: bad header (%v)", s.path, err)
	}
	parts := binary.LittleEndian.Uint64(hdr[8:])
	if uint64(s.part) >= parts {
		f.Close()
		return nil, fmt.Errorf("run %s: part %d not in %d parts", s.path, s.part, parts)
	}
	counts := make([]byte, 8*parts)
	if _, err := io.ReadFull(f, counts); err != nil {
		f.Close()
		return nil, fmt.Errorf("run %s: truncated header: %w", s.path, err)
	}
	var skip uint64
	for p := 0; p < s.part; p++ {
		skip += binary.LittleEndian.Uint64(counts[8*p:])
	}
	c.left = binary.LittleEndian.Uint64(counts[8*s.part:])
	if _, err := f.Seek(int64(16+8*parts+skip*recordSize), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("run %s: seek: %w", s.path, err)
	}
	c.r = bufio.NewReaderSize(f, mergeBufSize)
	return c, nil
}

// next advances; false at the end of the source.
func (c *cursor) next() (bool, error) {
	if c.left == 0 {
		return false, nil
	}
	if _, err := io.ReadFull(c.r, c.buf[:]); err != nil {
		return false, fmt.Errorf("run %s: truncated: %w", c.src.path, err)
	}
	c.left--
	r := getRecord(c.buf[:])
	c.cur = item{hash: r.hash, aux: r.aux, id: c.src.base + r.seq}
	return true, nil
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return cmpItem(h[i].cur, h[j].cur) < 0 }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// merge streams the items of srcs in (hash, aux, id) order to fn. When there
// are more sources than fanIn it first merges groups of them into
// intermediate runs under tmp, so open files and read buffers stay bounded
// however many runs the observers wrote.
func merge(srcs []source, fanIn int, tmp string, fn func(item) error) error {
	fanIn = max(fanIn, 2)
	owned := false // whether srcs are intermediate runs of ours
	removeOwned := func() {
		if owned {
			for _, s := range srcs {
				os.Remove(s.path)
			}
		}
	}
	for pass := 0; len(srcs) > fanIn; pass++ {
		var next []source
		for g := 0; g*fanIn < len(srcs); g++ {
			group := srcs[g*fanIn : min((g+1)*fanIn, len(srcs))]
			path := filepath.Join(tmp, fmt.Sprintf("merge-%d-%05d.bin", pass, g))
			if err := mergeToRun(group, path); err != nil {
				removeOwned()
				return err
			}
			next = append(next, source{path: path})
		}
		removeOwned()
		srcs, owned = next, true
	}
	err := mergeDirect(srcs, fn)
	removeOwned()
	return err
}

// mergeToRun writes the merge of srcs as a one-part run whose seq field
// holds dense ids (base 0).
func mergeToRun(srcs []source, path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create merge run: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<16)
	// Header with a placeholder count, patched after writing.
	hdr := make([]byte, 24)
	copy(hdr, runMagic[:])
	binary.LittleEndian.PutUint64(hdr[8:], 1)
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	var n uint64
	var b [recordSize]byte
	err = mergeDirect(srcs, func(it item) error {
		putRecord(b[:], record{hash: it.hash, aux: it.aux, seq: it.id})
		n++
		_, err := w.Write(b[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	binary.LittleEndian.PutUint64(hdr[16:], n)
	if _, err := f.WriteAt(hdr[16:24], 16); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func mergeDirect(srcs []source, fn func(item) error) (err error) {
	h := make(cursorHeap, 0, len(srcs))
	defer func() {
		for _, c := range h {
			c.f.Close()
		}
	}()
	for _, s := range srcs {
		c, err := openCursor(s)
		if err != nil {
			return err
		}
		ok, err := c.next()
		if err != nil {
			c.f.Close()
			return err
		}
		if !ok {
			c.f.Close()
			continue
		}
		h = append(h, c)
	}
	heap.Init(&h)
	for len(h) > 0 {
		c := h[0]
		if err := fn(c.cur); err != nil {
			return err
		}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			c.f.Close()
			heap.Pop(&h)
		}
	}
	return nil
}
