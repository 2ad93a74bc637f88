// Package readers turns input files into Kiln documents: JSONL (plain, gzip
// or zstd, detected by magic bytes), Parquet, WARC/WET, source trees and
// plain text. Every reader streams with bounded memory, counts each record
// it cannot use as a pipeline.Skip with a short reason, and returns an error
// naming the file and record for fatal problems such as truncated
// compression.
//
// Invalid UTF-8: JSONL lines, Parquet text values, text files and source
// files that are not valid UTF-8 are skipped with reason "invalid_utf8" (or
// "binary_file" for source files with NUL bytes): JSON and Parquet strings
// must be UTF-8, and a corrupt record is safer dropped and counted than
// silently altered. WARC response bodies are the exception: web pages
// declare many charsets, so they are decoded from the declared or sniffed
// charset to UTF-8, and any remaining invalid bytes become U+FFFD with
// Meta["utf8_repaired"]=true.
//
// Provenance: Record is the 1-based line (JSONL), record (WARC), row
// (Parquet), paragraph (text) or sorted-file index (source tree) within
// the input; Offset is the byte offset in the decompressed stream (-1 for
// Parquet). Ids missing from the input are "<file>#<record>" (text
// paragraphs: "<file>@<offset>"; tree files: their path; WARC: the
// WARC-Record-ID). Blank JSONL lines are counted as "empty_line" skips, so
// lines in = documents + skips exactly. Parquet "string", "large_string"
// and "binary" text columns are all BYTE_ARRAY on disk and read alike.
package readers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Options configures a reader. The zero value of each field means its
// default.
type Options struct {
	Format     string   // "jsonl", "parquet", "warc", "wet", "tree", "text"; "" = detect from extension/magic
	Source     string   // source kind put into Document.Source (web, code, math, user name)
	TextField  string   // default "text" (jsonl, parquet)
	IDField    string   // default "id"; missing ids are derived deterministically from provenance (file + record)
	MetaFields []string // fields copied into Document.Meta; nil = all other fields
	Paragraphs bool     // text: one document per blank-line-separated paragraph
	// MaxFileBytes: tree: skip (counted, "too_large") files larger than
	// this; default 1 MiB.
	MaxFileBytes int64
	// TaskBytes splits large uncompressed JSONL/text files into byte-range
	// tasks of about this size, and groups Parquet row groups into tasks of
	// about this compressed size; 0 = one task per file.
	TaskBytes int64
	// MaxRecordBytes bounds one record (a JSONL line, a WARC record, a
	// paragraph, a Parquet text value): larger ones are skipped with reason
	// "too_large" and streamed past without being held. Default 64 MiB.
	MaxRecordBytes int64
	// TreeTaskFiles is how many files of a source tree make one task;
	// default 1000.
	TreeTaskFiles int
}

// Defaults for Options fields left zero.
const (
	DefaultMaxFileBytes   = 1 << 20
	DefaultMaxRecordBytes = 64 << 20
	DefaultTreeTaskFiles  = 1000
)

func (o Options) withDefaults() Options {
	if o.TextField == "" {
		o.TextField = "text"
	}
	if o.IDField == "" {
		o.IDField = "id"
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.TreeTaskFiles <= 0 {
		o.TreeTaskFiles = DefaultTreeTaskFiles
	}
	return o
}

// Formats lists the accepted Options.Format values.
var Formats = []string{"jsonl", "parquet", "warc", "wet", "tree", "text"}

// New returns a reader for o. With Format "" each input's format is
// detected from its extension, then from its first bytes.
func New(o Options) (pipeline.Reader, error) {
	switch o.Format {
	case "", "jsonl", "parquet", "warc", "wet", "tree", "text":
	default:
		return nil, fmt.Errorf("readers: unknown format %q (known: %s)", o.Format, strings.Join(Formats, ", "))
	}
	if o.MaxFileBytes < 0 || o.TaskBytes < 0 || o.MaxRecordBytes < 0 {
		return nil, fmt.Errorf("readers: negative size limit")
	}
	return &reader{opt: o.withDefaults()}, nil
}

// reader implements pipeline.Reader for every format. Its caches only
// speed up repeated work (line counts before byte-range tasks, source tree
// listings); Read recomputes whatever is missing, so a reader used without
// Plan (a resumed run, a Beam worker) gives the same documents.
type reader struct {
	opt Options

	mu        sync.Mutex
	lineBase  map[lineKey]int64   // lines before a byte-range task's Start
	treeFiles map[string][]string // sorted regular files under a tree root
}

type lineKey struct {
	path  string
	start int64
}

// Plan splits paths into tasks, in the given order.
func (r *reader) Plan(paths []string) ([]pipeline.Task, error) {
	var tasks []pipeline.Task
	for _, p := range paths {
		format, err := r.format(p)
		if err != nil {
			return nil, err
		}
		var ts []pipeline.Task
		switch format {
		case "tree":
			ts, err = r.planTree(p)
		case "parquet":
			ts, err = r.planParquet(p)
		case "jsonl":
			ts, err = r.planByteRanges(p)
		default:
			ts = []pipeline.Task{{Path: p, End: -1}}
		}
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, ts...)
	}
	for i := range tasks {
		tasks[i].Index = i
	}
	return tasks, nil
}

// Read streams one task's documents.
func (r *reader) Read(ctx context.Context, t pipeline.Task, out pipeline.Emitter) error {
	format, err := r.format(t.Path)
	if err != nil {
		return err
	}
	switch format {
	case "tree":
		return r.readTree(ctx, t, out)
	case "parquet":
		return r.readParquet(ctx, t, out)
	case "warc", "wet":
		return r.readWARC(ctx, t, out)
	case "text":
		return r.readText(ctx, t, out)
	default:
		return r.readJSONL(ctx, t, out)
	}
}

// format returns the configured format, or detects it for path.
func (r *reader) format(path string) (string, error) {
	if r.opt.Format != "" {
		if r.opt.Format == "wet" {
			return "warc", nil
		}
		return r.opt.Format, nil
	}
	return DetectFormat(path)
}

// DetectFormat guesses a file's format: a directory is a source tree; known
// extensions decide next; otherwise the first bytes (after gzip or zstd
// decompression) do.
func DetectFormat(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("detect format: %w", err)
	}
	if st.IsDir() {
		return "tree", nil
	}
	name := strings.ToLower(filepath.Base(path))
	for _, ext := range []string{".gz", ".zst", ".zstd"} {
		name = strings.TrimSuffix(name, ext)
	}
	switch filepath.Ext(name) {
	case ".parquet":
		return "parquet", nil
	case ".warc", ".wet", ".arc":
		return "warc", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	case ".txt", ".md", ".text":
		return "text", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("detect format: %w", err)
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if n == 4 && string(magic[:]) == "PAR1" {
		return "parquet", nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("detect format %s: %w", path, err)
	}
	dr, _, closeFn, err := decompress(bufio.NewReader(f))
	if err != nil {
		return "", fmt.Errorf("detect format %s: %w", path, err)
	}
	defer closeFn()
	head, _ := dr.Peek(512)
	head = bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case bytes.HasPrefix(head, []byte("WARC/")):
		return "warc", nil
	case bytes.HasPrefix(head, []byte("{")):
		return "jsonl", nil
	}
	return "text", nil
}

// compression names what decompress found.
type compression int

const (
	compNone compression = iota
	compGzip
	compZstd
)

// decompress looks at br's first bytes and wraps it in a gzip (all members
// of a multi-member file) or zstd decoder when they match; the returned
// close function releases the decoder.
func decompress(br *bufio.Reader) (*bufio.Reader, compression, func(), error) {
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, compGzip, nil, fmt.Errorf("gzip header: %w", err)
		}
		return bufio.NewReaderSize(zr, 1<<20), compGzip, func() { zr.Close() }, nil
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		// One decoder goroutine and a bounded window keep memory flat;
		// 128 MiB bounds hostile window sizes (zstd -long uses up to 2 GiB).
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, compZstd, nil, fmt.Errorf("zstd header: %w", err)
		}
		return bufio.NewReaderSize(zr, 1<<20), compZstd, zr.Close, nil
	}
	return br, compNone, func() {}, nil
}

// openStream opens path and returns its decompressed contents.
func openStream(path string) (*bufio.Reader, compression, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	br, c, closeFn, err := decompress(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	return br, c, func() { closeFn(); f.Close() }, nil
}

// recordReader yields newline-terminated records with a size bound.
// Records over max are not held: they are read through and reported as
// too large, with their length.
type recordReader struct {
	br     *bufio.Reader
	max    int64
	buf    []byte
	offset int64 // offset of the next record
}

// next returns the next record without its line terminator, its offset,
// and whether it was too large (rec is then nil). At the end it returns
// io.EOF; a final record without a newline is still returned.
func (rr *recordReader) next() (rec []byte, off int64, tooLarge bool, err error) {
	off = rr.offset
	rr.buf = rr.buf[:0]
	var n int64
	for {
		chunk, e := rr.br.ReadSlice('\n')
		n += int64(len(chunk))
		if !tooLarge {
			if n > rr.max+1 { // +1: the newline does not count
				tooLarge = true
				rr.buf = rr.buf[:0]
			} else {
				rr.buf = append(rr.buf, chunk...)
			}
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		rr.offset += n
		if e != nil && (e != io.EOF || n == 0) {
			return nil, off, false, e
		}
		break
	}
	if tooLarge {
		return nil, off, true, nil
	}
	rec = rr.buf
	rec = bytes.TrimSuffix(rec, []byte("\n"))
	rec = bytes.TrimSuffix(rec, []byte("\r"))
	if int64(len(rec)) > rr.max {
		return nil, off, true, nil
	}
	return rec, off, false, nil
}

// planByteRanges gives one task per file, or byte-range tasks of about
// TaskBytes for large uncompressed files. Ranges are cut at arbitrary
// bytes; Read owns the records that start inside its range.
// Text files stay whole: a paragraph cut by a range boundary could not be
// told from two paragraphs without reading backwards.
func (r *reader) planByteRanges(path string) ([]pipeline.Task, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	size := st.Size()
	if r.opt.TaskBytes <= 0 || size <= r.opt.TaskBytes {
		return []pipeline.Task{{Path: path, End: -1}}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	defer f.Close()
	var magic [4]byte
	if n, _ := io.ReadFull(f, magic[:]); n >= 2 && (magic[0] == 0x1f && magic[1] == 0x8b || n == 4 && magic == [4]byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return []pipeline.Task{{Path: path, End: -1}}, nil // compressed: one stream
	}
	var tasks []pipeline.Task
	for s := int64(0); s < size; s += r.opt.TaskBytes {
		e := min(s+r.opt.TaskBytes, size)
		if e == size {
			e = -1
		}
		tasks = append(tasks, pipeline.Task{Path: path, Start: s, End: e})
	}
	// One pass counts the lines before each range start, so records keep
	// their line numbers within the file.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	bases, err := countLinesBefore(f, tasks)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	r.mu.Lock()
	if r.lineBase == nil {
		r.lineBase = make(map[lineKey]int64)
	}
	for i, t := range tasks {
		r.lineBase[lineKey{path, t.Start}] = bases[i]
	}
	r.mu.Unlock()
	return tasks, nil
}

// countLinesBefore returns, for each task, the number of records that
// start before its first owned record: the newlines in [0, Start-1) plus
// the one that ends the record straddling Start.
func countLinesBefore(f io.Reader, tasks []pipeline.Task) ([]int64, error) {
	out := make([]int64, len(tasks))
	buf := make([]byte, 1<<20)
	var pos, lines int64
	ti := 0
	for ti < len(tasks) && tasks[ti].Start <= 0 {
		ti++
	}
	for ti < len(tasks) {
		n, err := f.Read(buf)
		chunk := buf[:n]
		for ti < len(tasks) && pos+int64(len(chunk)) >= tasks[ti].Start-1 {
			cut := tasks[ti].Start - 1 - pos
			// +1: the newline at or after Start-1 that ends the record
			// straddling Start, which openRange skips.
			out[ti] = lines + int64(bytes.Count(chunk[:cut], []byte{'\n'})) + 1
			ti++
		}
		lines += int64(bytes.Count(chunk, []byte{'\n'}))
		pos += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// linesBefore returns the cached count for a task, or counts now.
func (r *reader) linesBefore(t pipeline.Task) (int64, error) {
	if t.Start <= 0 {
		return 0, nil
	}
	r.mu.Lock()
	n, ok := r.lineBase[lineKey{t.Path, t.Start}]
	r.mu.Unlock()
	if ok {
		return n, nil
	}
	f, err := os.Open(t.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	out, err := countLinesBefore(f, []pipeline.Task{t})
	if err != nil {
		return 0, err
	}
	return out[0], nil
}

// openRange opens an uncompressed file positioned at the first record that
// starts at or after t.Start (a record starts after a newline), limited so
// that records starting before t.End are read in full.
func openRange(t pipeline.Task) (*bufio.Reader, int64, func(), error) {
	f, err := os.Open(t.Path)
	if err != nil {
		return nil, 0, nil, err
	}
	pos := int64(0)
	if t.Start > 0 {
		pos = t.Start - 1
		if _, err := f.Seek(pos, io.SeekStart); err != nil {
			f.Close()
			return nil, 0, nil, err
		}
	}
	br := bufio.NewReaderSize(f, 1<<20)
	if t.Start > 0 {
		// Skip through the newline that ends the record straddling Start.
		for {
			chunk, err := br.ReadSlice('\n')
			pos += int64(len(chunk))
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, 0, nil, err
			}
			break
		}
	}
	return br, pos, func() { f.Close() }, nil
}

// deriveID makes a stable id from provenance when the input has none.
func deriveID(file string, record int64) string {
	return fmt.Sprintf("%s#%d", file, record)
}

// checkCtx returns ctx's error every 1024 records, to keep the check cheap.
func checkCtx(ctx context.Context, n int64) error {
	if n&1023 == 0 {
		return ctx.Err()
	}
	return nil
}
