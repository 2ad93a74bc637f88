package shard

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// Index file layout (little-endian): a 32-byte header, then NumDocs+1
// uint64 token offsets, the first 0 and the last the shard's token count.
const (
	indexMagic      = "KILNIDX1"
	indexHeaderSize = 32
	indexVersion    = 1
)

// WriterOptions configure a shard-set writer.
type WriterOptions struct {
	// VocabSize decides the token width: uint16 when it is <= 65536.
	VocabSize int
	// ShardBytes is the target size of one shard's token file; a shard is
	// closed once it reaches it (documents never straddle shards). 0 means
	// DefaultShardBytes.
	ShardBytes int64
	// LossMask makes every AddDoc carry a mask (one byte per token).
	LossMask bool
	// Prefix is prepended to shard file names ("" gives shard-00000).
	Prefix string
	// Manifest fields recorded as given.
	Tokenizer     string
	TokenizerHash string
	Dataset       string
	AddBOS        bool
	AddEOS        bool
	BOSID         int
	EOSID         int
	// NoManifest leaves manifest writing to the caller (Close still returns
	// it through Manifest()); used by per-task writers that get merged.
	NoManifest bool
}

// Writer appends documents to a shard set.
type Writer struct {
	dir  string
	opts WriterOptions
	man  Manifest
	cur  *shardWriter
	buf  []byte
	err  error
}

type shardWriter struct {
	info               ShardInfo
	data, idx, mask    *os.File
	dataW, idxW, maskW *bufio.Writer
	dataH, maskH       hash.Hash
	tokens             int64
	scratch            [8]byte
}

// NewWriter creates dir (if needed) and returns a writer for a new shard set.
func NewWriter(dir string, opts WriterOptions) (*Writer, error) {
	if opts.VocabSize <= 0 {
		return nil, errors.New("shard writer: VocabSize must be positive")
	}
	if opts.ShardBytes <= 0 {
		opts.ShardBytes = DefaultShardBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shard writer: %w", err)
	}
	tb := 4
	if opts.VocabSize <= 1<<16 {
		tb = 2
	}
	w := &Writer{dir: dir, opts: opts}
	w.man = Manifest{
		Tokenizer: opts.Tokenizer, TokenizerHash: opts.TokenizerHash, Dataset: opts.Dataset,
		VocabSize: opts.VocabSize, TokenBytes: tb, AddBOS: opts.AddBOS, AddEOS: opts.AddEOS,
		BOSID: opts.BOSID, EOSID: opts.EOSID, HasLossMask: opts.LossMask,
		Sources: map[string]SourceCount{},
	}
	return w, nil
}

func (w *Writer) openShard() error {
	name := fmt.Sprintf("%sshard-%05d", w.opts.Prefix, len(w.man.Shards))
	s := &shardWriter{info: ShardInfo{Name: name}, dataH: sha256.New()}
	w.cur = s
	var err error
	create := func(suffix string) (*os.File, error) {
		return os.Create(filepath.Join(w.dir, name+suffix))
	}
	if s.data, err = create(DataSuffix); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	if s.idx, err = create(IndexSuffix); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	s.dataW = bufio.NewWriterSize(io.MultiWriter(s.data, s.dataH), 1<<20)
	s.idxW = bufio.NewWriterSize(s.idx, 1<<16)
	if w.opts.LossMask {
		if s.mask, err = create(MaskSuffix); err != nil {
			return fmt.Errorf("shard writer: %w", err)
		}
		s.maskH = sha256.New()
		s.maskW = bufio.NewWriterSize(io.MultiWriter(s.mask, s.maskH), 1<<18)
	}
	// Offsets stream to disk so memory stays bounded however many documents
	// a shard holds; the header's counts are patched in at close.
	var hdr [indexHeaderSize]byte
	if _, err := s.idxW.Write(hdr[:]); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	return s.putOffset(0)
}

func (s *shardWriter) putOffset(v uint64) error {
	binary.LittleEndian.PutUint64(s.scratch[:], v)
	_, err := s.idxW.Write(s.scratch[:])
	return err
}

func encodeIndexHeader(tokenBytes int, docs, tokens int64) []byte {
	hdr := make([]byte, indexHeaderSize)
	copy(hdr, indexMagic)
	binary.LittleEndian.PutUint32(hdr[8:], indexVersion)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(tokenBytes))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(docs))
	binary.LittleEndian.PutUint64(hdr[24:], uint64(tokens))
	return hdr
}

func (w *Writer) closeShard() error {
	s := w.cur
	w.cur = nil
	if err := s.dataW.Flush(); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	if err := s.idxW.Flush(); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	if _, err := s.idx.WriteAt(encodeIndexHeader(w.man.TokenBytes, s.info.Docs, s.tokens), 0); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	s.info.Tokens = s.tokens
	s.info.DataSHA256 = hex.EncodeToString(s.dataH.Sum(nil))
	if _, err := s.idx.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("shard writer: %w", err)
	}
	ih := sha256.New()
	if _, err := io.Copy(ih, s.idx); err != nil {
		return fmt.Errorf("shard writer: hash index: %w", err)
	}
	s.info.IndexSHA256 = hex.EncodeToString(ih.Sum(nil))
	files := []*os.File{s.data, s.idx}
	if s.mask != nil {
		if err := s.maskW.Flush(); err != nil {
			return fmt.Errorf("shard writer: %w", err)
		}
		s.info.MaskSHA256 = hex.EncodeToString(s.maskH.Sum(nil))
		files = append(files, s.mask)
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return fmt.Errorf("shard writer: %w", err)
		}
	}
	w.man.Shards = append(w.man.Shards, s.info)
	return nil
}

// Close finishes the last shard and writes the manifest (unless
// NoManifest). A set with no documents has no shards and an empty manifest.
func (w *Writer) Close() error {
	if w.err != nil {
		if w.cur != nil {
			for _, f := range []*os.File{w.cur.data, w.cur.idx, w.cur.mask} {
				if f != nil {
					f.Close()
				}
			}
		}
		return w.err
	}
	if w.cur != nil {
		if err := w.closeShard(); err != nil {
			w.err = err
			return err
		}
	}
	w.err = errors.New("shard writer: closed")
	w.man.Finalize()
	if w.opts.NoManifest {
		return nil
	}
	return WriteManifest(w.dir, &w.man)
}

// Manifest returns the manifest as it stands (complete after Close).
func (w *Writer) Manifest() *Manifest { return &w.man }

// AddDoc appends one document's tokens (and its loss mask when the set has
// one; len(mask) must equal len(tokens)) under the given source name.
func (w *Writer) AddDoc(tokens []int32, mask []uint8, source string) error {
	if w.err != nil {
		return w.err
	}
	if w.opts.LossMask && len(mask) != len(tokens) {
		return fmt.Errorf("shard writer: mask has %d entries for %d tokens", len(mask), len(tokens))
	}
	if !w.opts.LossMask && mask != nil {
		return errors.New("shard writer: mask given but the set was created without LossMask")
	}
	if w.cur == nil {
		if err := w.openShard(); err != nil {
			w.err = err
			return err
		}
	}
	s := w.cur
	tb := w.man.TokenBytes
	need := len(tokens) * tb
	if cap(w.buf) < need {
		w.buf = make([]byte, need)
	}
	b := w.buf[:need]
	for i, t := range tokens {
		if t < 0 || int(t) >= w.opts.VocabSize {
			return fmt.Errorf("shard writer: token %d at position %d out of vocab range [0,%d)", t, i, w.opts.VocabSize)
		}
		if tb == 2 {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(t))
		} else {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(t))
		}
	}
	if _, err := s.dataW.Write(b); err != nil {
		w.err = fmt.Errorf("shard writer: %w", err)
		return w.err
	}
	if w.opts.LossMask {
		if _, err := s.maskW.Write(mask); err != nil {
			w.err = fmt.Errorf("shard writer: %w", err)
			return w.err
		}
	}
	s.tokens += int64(len(tokens))
	if err := s.putOffset(uint64(s.tokens)); err != nil {
		w.err = fmt.Errorf("shard writer: %w", err)
		return w.err
	}
	s.info.Docs++
	c := w.man.Sources[source]
	c.Docs++
	c.Tokens += int64(len(tokens))
	w.man.Sources[source] = c
	if s.tokens*int64(tb) >= w.opts.ShardBytes {
		if err := w.closeShard(); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}
