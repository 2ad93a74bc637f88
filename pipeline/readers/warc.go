package readers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kilnlm/kiln/pipeline"
	"golang.org/x/net/html/charset"
)

// warcRecord is one record's header fields and its block.
type warcRecord struct {
	typ, uri, id, date, contentType string
	length                          int64
	offset                          int64
}

// readWARC streams a WARC or WET file (plain, or gzip with one member per
// record, or zstd). WET "conversion" records become documents with their
// URL; WARC "response" records with an HTML payload become documents whose
// text is extracted from the HTML, keeping the HTML in Meta["html"]. Every
// other record (warcinfo, request, metadata, non-HTML responses) is a
// counted skip, so records in = documents + skips.
func (r *reader) readWARC(ctx context.Context, t pipeline.Task, out pipeline.Emitter) error {
	br, _, closeFn, err := openStream(t.Path)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Path, err)
	}
	defer closeFn()
	wr := &warcReader{br: br}
	var record int64
	for {
		if err := checkCtx(ctx, record); err != nil {
			return err
		}
		rec, err := wr.header()
		if err == io.EOF {
			return nil
		}
		record++
		if err != nil {
			return fmt.Errorf("read %s record %d (offset %d): %w", t.Path, record, wr.pos, wrapTruncated(err))
		}
		skip := func(reason string, err error) {
			out.Skip(pipeline.Skip{Reason: reason, File: t.Path, Record: record, Err: err})
		}
		if rec.length > r.opt.MaxRecordBytes {
			if err := wr.discard(rec.length); err != nil {
				return fmt.Errorf("read %s record %d: %w", t.Path, record, wrapTruncated(err))
			}
			skip("too_large", fmt.Errorf("record of %d bytes over %d", rec.length, r.opt.MaxRecordBytes))
			continue
		}
		if rec.typ != "conversion" && rec.typ != "response" {
			if err := wr.discard(rec.length); err != nil {
				return fmt.Errorf("read %s record %d: %w", t.Path, record, wrapTruncated(err))
			}
			skip("warc_"+sanitizeReason(rec.typ), nil)
			continue
		}
		block, err := wr.block(rec.length)
		if err != nil {
			return fmt.Errorf("read %s record %d: %w", t.Path, record, wrapTruncated(err))
		}
		d := &pipeline.Document{
			ID:     strings.Trim(rec.id, "<>"),
			Source: r.opt.Source,
			Prov:   pipeline.Provenance{File: t.Path, Record: record, Offset: rec.offset},
		}
		if d.ID == "" {
			d.ID = deriveID(t.Path, record)
		}
		if rec.uri != "" {
			d.SetMeta("url", rec.uri)
		}
		if rec.date != "" {
			d.SetMeta("warc_date", rec.date)
		}
		var reason string
		if rec.typ == "conversion" {
			reason, err = convertWET(d, block)
		} else {
			reason, err = convertResponse(d, block)
		}
		if reason != "" {
			skip(reason, err)
			continue
		}
		if err := out.Doc(d); err != nil {
			return err
		}
	}
}

func sanitizeReason(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "untyped"
	}
	return b.String()
}

// convertWET fills d from a WET conversion record's plain text.
func convertWET(d *pipeline.Document, block []byte) (string, error) {
	if !utf8.Valid(block) {
		return "invalid_utf8", nil
	}
	text := strings.TrimSpace(string(block))
	if text == "" {
		return "empty_text", nil
	}
	d.Text = text
	return "", nil
}

// convertResponse fills d from a WARC response record: it parses the HTTP
// response (undoing chunked transfer encoding), decodes the declared or
// sniffed charset to UTF-8 and extracts the text.
func convertResponse(d *pipeline.Document, block []byte) (string, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(block)), nil)
	if err != nil {
		return "invalid_http", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid_http", err
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "" {
		mt = http.DetectContentType(body)
		mt, _, _ = mime.ParseMediaType(mt)
	}
	if mt != "text/html" && mt != "application/xhtml+xml" {
		return "non_html", fmt.Errorf("content type %q", mt)
	}
	d.SetMeta("http_status", resp.StatusCode)
	if enc, name, _ := charset.DetermineEncoding(body, ct); name != "utf-8" {
		if u, err := enc.NewDecoder().Bytes(body); err == nil {
			body = u
		}
	}
	if !utf8.Valid(body) {
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
		d.SetMeta("utf8_repaired", true)
	}
	text, title := HTMLText(bytes.NewReader(body))
	if text == "" {
		return "empty_text", nil
	}
	d.Text = text
	d.SetMeta("html", string(body))
	if title != "" {
		d.SetMeta("title", title)
	}
	return "", nil
}

// warcReader parses WARC record framing and tracks the byte position.
type warcReader struct {
	br  *bufio.Reader
	pos int64
}

// line reads one header line (bounded at 64 KiB) without its CRLF.
func (w *warcReader) line() (string, error) {
	var buf []byte
	for {
		chunk, err := w.br.ReadSlice('\n')
		w.pos += int64(len(chunk))
		buf = append(buf, chunk...)
		if len(buf) > 64<<10 {
			return "", errors.New("WARC header line over 64 KiB")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		return strings.TrimRight(string(buf), "\r\n"), nil
	}
}

// header reads the next record's version line and header fields.
func (w *warcReader) header() (*warcRecord, error) {
	var first string
	var start int64
	for {
		start = w.pos
		l, err := w.line()
		if err != nil {
			return nil, err // io.EOF between records is the normal end
		}
		if l != "" {
			first = l
			break
		}
	}
	rec := &warcRecord{offset: start, length: -1}
	if !strings.HasPrefix(first, "WARC/") {
		return nil, fmt.Errorf("want a WARC version line, got %q", truncate(first, 40))
	}
	for n := 0; ; n++ {
		l, err := w.line()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if l == "" {
			break
		}
		if n > 1000 {
			return nil, errors.New("over 1000 WARC header fields")
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue // tolerate a malformed field; Content-Length is checked below
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "warc-type":
			rec.typ = strings.ToLower(v)
		case "warc-target-uri":
			rec.uri = strings.Trim(v, "<>")
		case "warc-record-id":
			rec.id = v
		case "warc-date":
			rec.date = v
		case "content-type":
			rec.contentType = v
		case "content-length":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", v)
			}
			rec.length = n
		}
	}
	if rec.length < 0 {
		return nil, errors.New("WARC record without Content-Length")
	}
	return rec, nil
}

// block reads a record's content block.
func (w *warcReader) block(n int64) ([]byte, error) {
	b := make([]byte, n)
	m, err := io.ReadFull(w.br, b)
	w.pos += int64(m)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// discard skips a record's content block without holding it.
func (w *warcReader) discard(n int64) error {
	m, err := io.CopyN(io.Discard, w.br, n)
	w.pos += m
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
