// Package writers writes Kiln documents: JSONL (plain or zstd), Parquet,
// and the rejected-documents log, plus the pipeline.Output implementations
// the executor drives, which write one part-%05d file per task.
package writers

import (
	"bufio"
	"fmt"
	"io"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/klauspost/compress/zstd"
)

// JSONL writes documents in Kiln's JSON form (pipeline.MarshalDocument),
// one per line, optionally zstd-compressed.
type JSONL struct {
	bw  *bufio.Writer
	zw  *zstd.Encoder // nil for plain JSONL
	buf []byte
	n   int64
}

// NewJSONL returns a plain JSONL writer on w. Close flushes it; it does
// not close w.
func NewJSONL(w io.Writer) *JSONL {
	return &JSONL{bw: bufio.NewWriterSize(w, 1<<20)}
}

// zstdOptions are fixed so the compressed bytes depend only on the input:
// one encoder goroutine (no concurrency-dependent block framing), a fixed
// level and window, and a checksum so truncation is detected on read.
func zstdOptions() []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(8 << 20),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
	}
}

// NewJSONLZstd returns a zstd-compressed JSONL writer on w with
// deterministic output bytes. Close ends the zstd frame; it does not
// close w.
func NewJSONLZstd(w io.Writer) (*JSONL, error) {
	zw, err := zstd.NewWriter(w, zstdOptions()...)
	if err != nil {
		return nil, fmt.Errorf("zstd writer: %w", err)
	}
	return &JSONL{bw: bufio.NewWriterSize(zw, 1<<20), zw: zw}, nil
}

// Write appends one document line.
func (j *JSONL) Write(d *pipeline.Document) error {
	var err error
	j.buf, err = pipeline.AppendDocument(j.buf[:0], d)
	if err != nil {
		return err
	}
	j.buf = append(j.buf, '\n')
	if _, err := j.bw.Write(j.buf); err != nil {
		return fmt.Errorf("write document %q: %w", d.ID, err)
	}
	j.n++
	return nil
}

// Count returns the number of documents written.
func (j *JSONL) Count() int64 { return j.n }

// Close flushes buffered lines and ends the zstd stream.
func (j *JSONL) Close() error {
	if err := j.bw.Flush(); err != nil {
		return fmt.Errorf("flush jsonl: %w", err)
	}
	if j.zw != nil {
		if err := j.zw.Close(); err != nil {
			return fmt.Errorf("close zstd: %w", err)
		}
	}
	return nil
}
