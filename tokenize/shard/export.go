package shard

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Export formats.
const (
	FormatDatatrove = "ds"       // datatrove / nanotron .ds + .ds.index (+ .ds.loss, .ds.metadata)
	FormatMegatron  = "megatron" // Megatron-LM .bin + .idx (MMIDIDX version 1)
	FormatLLMC      = "llmc"     // llm.c .bin (256 int32 header + uint16 tokens)
)

// ExportFormats lists the accepted export format names.
var ExportFormats = []string{FormatDatatrove, FormatMegatron, FormatLLMC}

// Export writes the shard set s into out in another tool's format and
// returns the files written (relative to out). Layouts are in
// docs/shard-format.md.
func Export(s *Set, format, out string) ([]string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	switch format {
	case FormatDatatrove:
		return exportDatatrove(s, out)
	case FormatMegatron:
		return exportMegatron(s, out)
	case FormatLLMC:
		return exportLLMC(s, out)
	}
	return nil, fmt.Errorf("export: unknown format %q (known: ds, megatron, llmc)", format)
}

// fileOut is a buffered output file that reports the first error once.
type fileOut struct {
	f   *os.File
	w   *bufio.Writer
	err error
	buf [8]byte
}

func createOut(path string) (*fileOut, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &fileOut{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (o *fileOut) write(b []byte) {
	if o.err == nil {
		_, o.err = o.w.Write(b)
	}
}

func (o *fileOut) u64(v uint64) {
	binary.LittleEndian.PutUint64(o.buf[:], v)
	o.write(o.buf[:8])
}

func (o *fileOut) u32(v uint32) {
	binary.LittleEndian.PutUint32(o.buf[:], v)
	o.write(o.buf[:4])
}

func (o *fileOut) close() error {
	if o.err == nil {
		o.err = o.w.Flush()
	}
	if err := o.f.Close(); o.err == nil {
		o.err = err
	}
	if o.err != nil {
		return fmt.Errorf("export %s: %w", o.f.Name(), o.err)
	}
	return nil
}

// humanTokens writes a count the way datatrove's metadata does ("776 kT").
func humanTokens(n int64) string {
	units := []string{"", "k", "M", "G", "T", "P"}
	f := float64(n)
	u := 0
	for f >= 1000 && u < len(units)-1 {
		f /= 1000
		u++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + " " + units[u] + "T"
}

// exportDatatrove writes one .ds file per shard: the tokens exactly as
// stored (same width), uint64 cumulative document ends, the loss mask and
// the metadata text nanotron reads ("tokenizer|token_size", token count).
func exportDatatrove(s *Set, out string) ([]string, error) {
	var files []string
	name := s.man.Tokenizer
	if name == "" {
		name = s.man.TokenizerHash
	}
	for k, info := range s.man.Shards {
		sh := &s.shards[k]
		base := fmt.Sprintf("%05d_kiln.ds", k)
		tok, err := createOut(filepath.Join(out, base))
		if err != nil {
			return files, err
		}
		tok.write(sh.data)
		if err := tok.close(); err != nil {
			return files, err
		}
		idx, err := createOut(filepath.Join(out, base+".index"))
		if err != nil {
			return files, err
		}
		for j := int64(1); j <= info.Docs; j++ {
			idx.u64(binary.LittleEndian.Uint64(sh.offsets[8*j:]))
		}
		if err := idx.close(); err != nil {
			return files, err
		}
		files = append(files, base, base+".index")
		if s.man.HasLossMask {
			l, err := createOut(filepath.Join(out, base+".loss"))
			if err != nil {
				return files, err
			}
			l.write(sh.mask)
			if err := l.close(); err != nil {
				return files, err
			}
			files = append(files, base+".loss")
		}
		meta := fmt.Sprintf("%s|%d\n%d\n%s", name, s.tb, info.Tokens, humanTokens(info.Tokens))
		if err := os.WriteFile(filepath.Join(out, base+".metadata"), []byte(meta), 0o644); err != nil {
			return files, fmt.Errorf("export: %w", err)
		}
		files = append(files, base+".metadata")
	}
	return files, nil
}

// Megatron dtype codes (megatron/core/datasets/indexed_dataset.py).
const (
	megatronUint16 = 8
	megatronInt32  = 4
)

// exportMegatron writes one tokens.bin/tokens.idx pair for the whole set:
// one sequence per document, document boundaries 0..N.
func exportMegatron(s *Set, out string) ([]string, error) {
	code, width := byte(megatronUint16), int64(2)
	if s.tb == 4 {
		code, width = megatronInt32, 4 // ids < 2^31, so int32 holds them
	}
	bin, err := createOut(filepath.Join(out, "tokens.bin"))
	if err != nil {
		return nil, err
	}
	for k := range s.shards {
		bin.write(s.shards[k].data)
	}
	if err := bin.close(); err != nil {
		return nil, err
	}
	idx, err := createOut(filepath.Join(out, "tokens.idx"))
	if err != nil {
		return nil, err
	}
	n := uint64(s.NumDocs())
	idx.write([]byte("MMIDIDX\x00\x00"))
	idx.u64(1)
	idx.write([]byte{code})
	idx.u64(n)
	idx.u64(n + 1)
	for i := 0; i < s.NumDocs(); i++ {
		l := s.DocLen(i)
		if l > 1<<31-1 {
			idx.f.Close()
			return nil, fmt.Errorf("export megatron: document %d has %d tokens, over int32", i, l)
		}
		idx.u32(uint32(int32(l)))
	}
	var ptr int64
	for i := 0; i < s.NumDocs(); i++ {
		idx.u64(uint64(ptr))
		ptr += int64(s.DocLen(i)) * width
	}
	for i := uint64(0); i <= n; i++ {
		idx.u64(i)
	}
	if err := idx.close(); err != nil {
		return nil, err
	}
	return []string{"tokens.bin", "tokens.idx"}, nil
}

// llm.c's data file header (dev/data/data_common.py).
const (
	llmcMagic   = 20240520
	llmcVersion = 1
	llmcHeader  = 256
)

// exportLLMC writes one llm.c .bin per shard. The format has neither a
// document index nor room for ids above 65535; documents stay separable
// only through the EOS/BOS tokens the shard set's policy inserted.
func exportLLMC(s *Set, out string) ([]string, error) {
	if s.tb != 2 {
		return nil, fmt.Errorf("export llmc: llm.c stores uint16 tokens; this set's vocabulary (%d) needs 4 bytes", s.man.VocabSize)
	}
	var files []string
	for k, info := range s.man.Shards {
		if info.Tokens > 1<<31-1 {
			return files, fmt.Errorf("export llmc: shard %s has %d tokens, over llm.c's int32 count", info.Name, info.Tokens)
		}
		name := fmt.Sprintf("kiln_%06d.bin", k)
		f, err := createOut(filepath.Join(out, name))
		if err != nil {
			return files, err
		}
		hdr := make([]byte, 4*llmcHeader)
		binary.LittleEndian.PutUint32(hdr[0:], llmcMagic)
		binary.LittleEndian.PutUint32(hdr[4:], llmcVersion)
		binary.LittleEndian.PutUint32(hdr[8:], uint32(info.Tokens))
		f.write(hdr)
		f.write(s.shards[k].data)
		if err := f.close(); err != nil {
			return files, err
		}
		files = append(files, name)
	}
	return files, nil
}
