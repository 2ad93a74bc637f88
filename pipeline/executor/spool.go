package executor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/klauspost/compress/zstd"
)

// The spool holds the documents that reached a global stage, one zstd JSONL
// file per task, so the second pass (Filter) sees exactly what Observe saw
// without re-reading and re-filtering the raw input.

type spoolWriter struct {
	f   *os.File
	bw  *bufio.Writer
	zw  *zstd.Encoder
	buf []byte
}

func newSpoolWriter(path string) (*spoolWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	// One encoder goroutine per task: tasks already run in parallel, and a
	// fixed setup keeps the bytes independent of the machine.
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &spoolWriter{f: f, bw: bw, zw: zw}, nil
}

func (s *spoolWriter) Write(d *pipeline.Document) error {
	var err error
	s.buf, err = pipeline.AppendDocument(s.buf[:0], d)
	if err != nil {
		return err
	}
	s.buf = append(s.buf, '\n')
	_, err = s.zw.Write(s.buf)
	return err
}

func (s *spoolWriter) Close() error {
	err := s.zw.Close()
	if e := s.bw.Flush(); err == nil {
		err = e
	}
	if e := s.f.Close(); err == nil {
		err = e
	}
	return err
}

// abort closes without caring about errors (the file is discarded).
func (s *spoolWriter) abort() {
	s.zw.Close()
	s.f.Close()
}

// readSpool calls fn for each document of a spool file in order.
func readSpool(path string, fn func(d *pipeline.Document) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(bufio.NewReaderSize(f, 1<<20), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<34))
	if err != nil {
		return err
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 1<<20)
	var line int64
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			d := new(pipeline.Document)
			if derr := decodeSpoolDoc(b, d); derr != nil {
				return fmt.Errorf("spool %s line %d: %w", path, line, derr)
			}
			if ferr := fn(d); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("spool %s line %d: %w", path, line+1, err)
		}
	}
}

type spoolDoc struct {
	ID         string               `json:"id"`
	Text       string               `json:"text"`
	Source     string               `json:"source"`
	Metadata   map[string]any       `json:"metadata"`
	Provenance *pipeline.Provenance `json:"provenance"`
}

// decodeSpoolDoc is UnmarshalDocument with numbers kept as json.Number, so
// metadata integers survive the spool exactly (float64 would round ids
// above 2^53) and re-encode to the same bytes.
func decodeSpoolDoc(b []byte, d *pipeline.Document) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var j spoolDoc
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*d = pipeline.Document{ID: j.ID, Text: j.Text, Source: j.Source, Prov: pipeline.Provenance{Offset: -1}}
	if len(j.Metadata) > 0 {
		d.Meta = j.Metadata
	}
	if j.Provenance != nil {
		d.Prov = *j.Provenance
	}
	return nil
}
