package executor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

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
//
// Spool lines are Kiln's own pipeline.AppendDocument output, so the fixed
// layout is parsed directly first (the text, nearly all of a line, is
// found and unquoted without json's per-byte state machine); anything
// else takes the general decoder.
func decodeSpoolDoc(b []byte, d *pipeline.Document) error {
	if decodeSpoolLayout(b, d) {
		return nil
	}
	return decodeSpoolJSON(b, d)
}

// decodeSpoolJSON is the general decoder.
func decodeSpoolJSON(b []byte, d *pipeline.Document) error {
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

// decodeSpoolLayout decodes a line in AppendDocument's exact layout:
//
//	{"id":S,"text":S,"source":S,"metadata":{...},"provenance":{"file":S,"record":N,"offset":N}}
//
// It reports false, leaving d unspecified, for anything else. Strings are
// checked to be well-formed literals (an escape is a backslash and a
// known letter, \u with four hex digits; no raw control characters).
func decodeSpoolLayout(b []byte, d *pipeline.Document) bool {
	// Kiln writes valid UTF-8 (invalid input becomes U+FFFD); anything
	// else goes to the general decoder, which replaces invalid bytes.
	if !utf8.Valid(b) {
		return false
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	var id, text, source, file string
	var meta []byte
	var ok bool
	if b, ok = cutPrefix(b, `{"id":`); !ok {
		return false
	}
	if id, b, ok = cutString(b); !ok {
		return false
	}
	if b, ok = cutPrefix(b, `,"text":`); !ok {
		return false
	}
	if text, b, ok = cutString(b); !ok {
		return false
	}
	if b, ok = cutPrefix(b, `,"source":`); !ok {
		return false
	}
	if source, b, ok = cutString(b); !ok {
		return false
	}
	if b, ok = cutPrefix(b, `,"metadata":`); !ok {
		return false
	}
	// The metadata object is small: the general decoder takes it (json
	// numbers kept exact), up to the provenance that closes the line.
	p := bytes.LastIndex(b, []byte(`,"provenance":{"file":`))
	if p < 0 {
		return false
	}
	meta, b = b[:p], b[p+len(`,"provenance":{"file":`):]
	if file, b, ok = cutString(b); !ok {
		return false
	}
	var record, offset int64
	if b, ok = cutPrefix(b, `,"record":`); !ok {
		return false
	}
	if record, b, ok = cutInt(b); !ok {
		return false
	}
	if b, ok = cutPrefix(b, `,"offset":`); !ok {
		return false
	}
	if offset, b, ok = cutInt(b); !ok || string(b) != "}}" {
		return false
	}
	*d = pipeline.Document{ID: id, Text: text, Source: source,
		Prov: pipeline.Provenance{File: file, Record: record, Offset: offset}}
	if string(meta) != "{}" {
		dec := json.NewDecoder(bytes.NewReader(meta))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil || m == nil || dec.InputOffset() != int64(len(meta)) {
			return false
		}
		if len(m) > 0 {
			d.Meta = m
		}
	}
	return true
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}

// cutString decodes the well-formed JSON string literal at the start of b.
func cutString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", b, false
	}
	end, ok := pipeline.ScanJSONString(b, 1)
	if !ok {
		return "", b, false
	}
	return pipeline.UnquoteJSONString(b[:end]), b[end:], true
}

// cutInt parses the decimal integer (optional '-') at the start of b, in
// strconv.AppendInt's form.
func cutInt(b []byte) (int64, []byte, bool) {
	n := 0
	if n < len(b) && b[n] == '-' {
		n++
	}
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	v, err := strconv.ParseInt(string(b[:n]), 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != string(b[:n]) {
		return 0, b, false
	}
	return v, b[n:], true
}
