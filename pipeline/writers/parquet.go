package writers

import (
	"fmt"
	"io"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// ParquetOptions configures the Parquet writer.
type ParquetOptions struct {
	// Compression: "zstd" (default), "snappy" or "none".
	Compression string
	// RowGroupBytes ends a row group once its text reaches about this many
	// bytes, bounding the writer's memory; default 128 MiB.
	RowGroupBytes int64
	// RowGroupRows caps rows per row group; default 1,000,000.
	RowGroupRows int64
}

// parquetRow is the on-disk schema: the document fields, metadata as a
// JSON string (schemas of metadata vary per corpus; a JSON column keeps
// one stable schema) and provenance.
type parquetRow struct {
	ID       string `parquet:"id"`
	Text     string `parquet:"text"`
	Source   string `parquet:"source,dict"`
	Metadata string `parquet:"metadata"`
	File     string `parquet:"file,dict"`
	Record   int64  `parquet:"record"`
}

// Parquet writes documents as a Parquet file with columns id, text,
// source, metadata (JSON), file and record.
type Parquet struct {
	w       *parquet.GenericWriter[parquetRow]
	opts    ParquetOptions
	rows    []parquetRow
	groupB  int64
	n       int64
	metaBuf []byte
}

// NewParquet returns a Parquet writer on w. Close writes the footer; it
// does not close w.
func NewParquet(w io.Writer, opts ParquetOptions) (*Parquet, error) {
	if opts.RowGroupBytes <= 0 {
		opts.RowGroupBytes = 128 << 20
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = 1_000_000
	}
	var codec compress.Codec
	switch opts.Compression {
	case "", "zstd":
		codec = &zstd.Codec{Level: zstd.SpeedDefault, Concurrency: 1}
	case "snappy":
		codec = &snappy.Codec{}
	case "none":
		codec = &uncompressed.Codec{}
	default:
		return nil, fmt.Errorf("parquet: unknown compression %q (zstd, snappy, none)", opts.Compression)
	}
	pw := parquet.NewGenericWriter[parquetRow](w,
		parquet.Compression(codec),
		parquet.CreatedBy("kiln", "", ""),
		parquet.MaxRowsPerRowGroup(opts.RowGroupRows),
	)
	return &Parquet{w: pw, opts: opts}, nil
}

// Write adds one document; rows are handed to the Parquet writer in small
// batches and a row group is flushed once its text passes RowGroupBytes.
func (p *Parquet) Write(d *pipeline.Document) error {
	var err error
	p.metaBuf, err = pipeline.AppendMetaJSON(p.metaBuf[:0], d.Meta)
	if err != nil {
		return fmt.Errorf("document %q: %w", d.ID, err)
	}
	p.rows = append(p.rows, parquetRow{
		ID: d.ID, Text: d.Text, Source: d.Source, Metadata: string(p.metaBuf),
		File: d.Prov.File, Record: d.Prov.Record,
	})
	p.groupB += int64(len(d.Text) + len(p.metaBuf) + len(d.ID))
	p.n++
	if len(p.rows) >= 256 || p.groupB >= p.opts.RowGroupBytes {
		return p.flushRows()
	}
	return nil
}

func (p *Parquet) flushRows() error {
	if len(p.rows) > 0 {
		if _, err := p.w.Write(p.rows); err != nil {
			return fmt.Errorf("parquet write: %w", err)
		}
		clear(p.rows) // drop string references
		p.rows = p.rows[:0]
	}
	if p.groupB >= p.opts.RowGroupBytes {
		if err := p.w.Flush(); err != nil {
			return fmt.Errorf("parquet flush row group: %w", err)
		}
		p.groupB = 0
	}
	return nil
}

// Count returns the number of documents written.
func (p *Parquet) Count() int64 { return p.n }

// Close writes the remaining rows and the footer.
func (p *Parquet) Close() error {
	if err := p.flushRows(); err != nil {
		return err
	}
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("parquet close: %w", err)
	}
	return nil
}
