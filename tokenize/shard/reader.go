package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
)

// Set is an open, memory-mapped shard set. Its methods are safe for
// concurrent use; Doc and LossMask allocate only when dst must grow.
type Set struct {
	dir    string
	man    *Manifest
	shards []openShard
	// firstDoc[k] is the global index of shard k's first document;
	// firstDoc[len(shards)] is NumDocs.
	firstDoc []int
	tb       int
}

type openShard struct {
	data, mask []byte
	offsets    []byte // (docs+1) little-endian uint64, header stripped
	unmap      []func() error
}

// Open memory-maps every shard of the shard set in dir and checks the
// manifest against the files: sizes, index header, monotone offsets.
// Checksums are not recomputed here (see Verify).
func Open(dir string) (*Set, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	s := &Set{dir: dir, man: m, tb: m.TokenBytes, firstDoc: make([]int, 0, len(m.Shards)+1)}
	total := 0
	for _, info := range m.Shards {
		sh, err := openOne(dir, m, info)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.shards = append(s.shards, sh)
		s.firstDoc = append(s.firstDoc, total)
		total += int(info.Docs)
	}
	s.firstDoc = append(s.firstDoc, total)
	return s, nil
}

func openOne(dir string, m *Manifest, info ShardInfo) (sh openShard, err error) {
	base := filepath.Join(dir, filepath.FromSlash(info.Name))
	mp := func(suffix string) ([]byte, error) {
		b, un, err := mapFile(base + suffix)
		if err != nil {
			return nil, fmt.Errorf("open shard %s: %w", info.Name, err)
		}
		sh.unmap = append(sh.unmap, un)
		return b, nil
	}
	defer func() {
		if err != nil {
			sh.close()
		}
	}()
	if sh.data, err = mp(DataSuffix); err != nil {
		return sh, err
	}
	idx, err := mp(IndexSuffix)
	if err != nil {
		return sh, err
	}
	if err := checkIndex(idx, m.TokenBytes, info.Docs, info.Tokens); err != nil {
		return sh, fmt.Errorf("shard %s index: %w", info.Name, err)
	}
	sh.offsets = idx[indexHeaderSize:]
	if info.Tokens > int64(len(sh.data)) || int64(len(sh.data)) != info.Tokens*int64(m.TokenBytes) {
		return sh, fmt.Errorf("shard %s: token file has %d bytes, manifest says %d tokens of %d bytes", info.Name, len(sh.data), info.Tokens, m.TokenBytes)
	}
	if m.HasLossMask {
		if sh.mask, err = mp(MaskSuffix); err != nil {
			return sh, err
		}
		if int64(len(sh.mask)) != info.Tokens {
			return sh, fmt.Errorf("shard %s: mask file has %d bytes for %d tokens", info.Name, len(sh.mask), info.Tokens)
		}
	}
	return sh, nil
}

// checkIndex validates an index file's header and offsets.
func checkIndex(idx []byte, tokenBytes int, docs, tokens int64) error {
	if len(idx) < indexHeaderSize || !bytes.Equal(idx[:8], []byte(indexMagic)) {
		return errors.New("bad magic or short header")
	}
	if v := binary.LittleEndian.Uint32(idx[8:]); v != indexVersion {
		return fmt.Errorf("version %d not supported", v)
	}
	if tb := binary.LittleEndian.Uint32(idx[12:]); int(tb) != tokenBytes {
		return fmt.Errorf("token width %d, manifest says %d", tb, tokenBytes)
	}
	hd, ht := int64(binary.LittleEndian.Uint64(idx[16:])), int64(binary.LittleEndian.Uint64(idx[24:]))
	if hd != docs || ht != tokens {
		return fmt.Errorf("header says %d docs %d tokens, manifest %d docs %d tokens", hd, ht, docs, tokens)
	}
	if docs < 0 || tokens < 0 || docs > int64(len(idx))/8 {
		return fmt.Errorf("%d bytes cannot hold %d documents", len(idx), docs)
	}
	if want := indexHeaderSize + 8*(docs+1); int64(len(idx)) != want {
		return fmt.Errorf("%d bytes, want %d for %d documents", len(idx), want, docs)
	}
	off := idx[indexHeaderSize:]
	prev := binary.LittleEndian.Uint64(off)
	if prev != 0 {
		return fmt.Errorf("first offset %d, want 0", prev)
	}
	for i := int64(1); i <= docs; i++ {
		v := binary.LittleEndian.Uint64(off[8*i:])
		if v < prev {
			return fmt.Errorf("offset %d (%d) below offset %d (%d)", i, v, i-1, prev)
		}
		prev = v
	}
	if prev != uint64(tokens) {
		return fmt.Errorf("last offset %d, want token count %d", prev, tokens)
	}
	return nil
}

func (sh *openShard) close() error {
	var first error
	for _, un := range sh.unmap {
		if err := un(); err != nil && first == nil {
			first = err
		}
	}
	sh.unmap = nil
	return first
}

// Close unmaps every shard. Slices returned earlier stay valid because Doc
// and LossMask copy into caller memory.
func (s *Set) Close() error {
	var first error
	for i := range s.shards {
		if err := s.shards[i].close(); err != nil && first == nil {
			first = err
		}
	}
	s.shards = nil
	return first
}

// Manifest returns the set's manifest. Callers must not modify it.
func (s *Set) Manifest() *Manifest { return s.man }

// Dir returns the folder the set was opened from.
func (s *Set) Dir() string { return s.dir }

// NumDocs is the number of documents in the set.
func (s *Set) NumDocs() int { return s.firstDoc[len(s.firstDoc)-1] }

// NumTokens is the number of tokens in the set.
func (s *Set) NumTokens() int64 { return s.man.NumTokens }

// locate maps a global document index to (shard, start token, end token).
func (s *Set) locate(i int) (*openShard, int, int) {
	if i < 0 || i >= s.NumDocs() {
		panic(fmt.Sprintf("shard: document %d out of range [0,%d)", i, s.NumDocs()))
	}
	k := sort.Search(len(s.shards), func(k int) bool { return s.firstDoc[k+1] > i }) // first shard ending after i
	sh := &s.shards[k]
	j := i - s.firstDoc[k]
	a := binary.LittleEndian.Uint64(sh.offsets[8*j:])
	b := binary.LittleEndian.Uint64(sh.offsets[8*j+8:])
	return sh, int(a), int(b)
}

// DocLen is the number of tokens in document i.
func (s *Set) DocLen(i int) int {
	_, a, b := s.locate(i)
	return b - a
}

// Doc appends document i's tokens to dst and returns the extended slice.
func (s *Set) Doc(i int, dst []int32) []int32 {
	sh, a, b := s.locate(i)
	return appendTokens(dst, sh.data, s.tb, a, b)
}

// Tokens appends the tokens [start,end) of document i to dst, for readers
// that take part of a long document.
func (s *Set) Tokens(i, start, end int, dst []int32) []int32 {
	sh, a, b := s.locate(i)
	if start < 0 || end < start || a+end > b {
		panic(fmt.Sprintf("shard: token range [%d,%d) outside document %d of %d tokens", start, end, i, b-a))
	}
	return appendTokens(dst, sh.data, s.tb, a+start, a+end)
}

func appendTokens(dst []int32, data []byte, tb, a, b int) []int32 {
	n := len(dst)
	dst = grow(dst, b-a)
	out := dst[n:]
	if tb == 2 {
		src := data[2*a : 2*b]
		for j := range out {
			out[j] = int32(binary.LittleEndian.Uint16(src[2*j:]))
		}
	} else {
		src := data[4*a : 4*b]
		for j := range out {
			out[j] = int32(binary.LittleEndian.Uint32(src[4*j:]))
		}
	}
	return dst
}

func grow(dst []int32, n int) []int32 {
	if cap(dst)-len(dst) < n {
		nd := make([]int32, len(dst), len(dst)+n)
		copy(nd, dst)
		dst = nd
	}
	return dst[:len(dst)+n]
}

// LossMask appends document i's per-token loss mask (1 = train on the
// token) to dst; it returns nil when the set has no mask.
func (s *Set) LossMask(i int, dst []uint8) []uint8 {
	if !s.man.HasLossMask {
		return nil
	}
	sh, a, b := s.locate(i)
	return append(dst, sh.mask[a:b]...)
}
