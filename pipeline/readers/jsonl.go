package readers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/kilnlm/kiln/pipeline"
)

// readJSONL streams one JSONL task: a whole (possibly compressed) file or
// a byte range of an uncompressed one.
func (r *reader) readJSONL(ctx context.Context, t pipeline.Task, out pipeline.Emitter) error {
	rr, record, closeFn, err := r.openRecords(t)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Path, err)
	}
	defer closeFn()
	var fields []jsonField
	var skel []byte // validJSON's scratch
	for {
		if err := checkCtx(ctx, record); err != nil {
			return err
		}
		line, off, tooLarge, err := rr.next()
		if err == io.EOF {
			return nil
		}
		record++
		if err != nil {
			return fmt.Errorf("read %s line %d: %w", t.Path, record, wrapTruncated(err))
		}
		if t.End >= 0 && off >= t.End {
			return nil
		}
		if tooLarge {
			out.Skip(pipeline.Skip{Reason: "too_large", File: t.Path, Record: record,
				Err: fmt.Errorf("line over %d bytes", r.opt.MaxRecordBytes)})
			continue
		}
		if off == 0 {
			// A UTF-8 byte order mark (files saved by some Windows
			// tools) is not part of the first record.
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 || isBlank(line) {
			out.Skip(pipeline.Skip{Reason: "empty_line", File: t.Path, Record: record})
			continue
		}
		if !utf8.Valid(line) {
			out.Skip(pipeline.Skip{Reason: "invalid_utf8", File: t.Path, Record: record})
			continue
		}
		var valid bool
		if valid, skel = validJSON(line, skel); !valid {
			var x any
			err := json.Unmarshal(line, &x) // for the error's position
			out.Skip(pipeline.Skip{Reason: "invalid_json", File: t.Path, Record: record, Err: err})
			continue
		}
		var ok bool
		if fields, ok = splitObject(line, fields[:0]); !ok {
			out.Skip(pipeline.Skip{Reason: "wrong_type", File: t.Path, Record: record, Err: errors.New("line is not a JSON object")})
			continue
		}
		d, reason, err := r.docFromFields(fields, t.Path, record, off)
		if reason != "" {
			out.Skip(pipeline.Skip{Reason: reason, File: t.Path, Record: record, Err: err})
			continue
		}
		if err := out.Doc(d); err != nil {
			return err
		}
	}
}

// openRecords opens a task's records and returns the number of records
// before the first one.
func (r *reader) openRecords(t pipeline.Task) (*recordReader, int64, func(), error) {
	if t.Start > 0 {
		base, err := r.linesBefore(t)
		if err != nil {
			return nil, 0, nil, err
		}
		br, pos, closeFn, err := openRange(t)
		if err != nil {
			return nil, 0, nil, err
		}
		return &recordReader{br: br, max: r.opt.MaxRecordBytes, offset: pos}, base, closeFn, nil
	}
	br, _, closeFn, err := openStream(t.Path)
	if err != nil {
		return nil, 0, nil, err
	}
	return &recordReader{br: br, max: r.opt.MaxRecordBytes}, 0, closeFn, nil
}

// docFromFields builds a document from one JSON object's members. A
// non-empty reason means the record is skipped. With duplicate keys the
// last one wins, as in encoding/json.
func (r *reader) docFromFields(fields []jsonField, file string, record, off int64) (*pipeline.Document, string, error) {
	var textRaw, idRaw []byte
	for _, f := range fields {
		switch f.key {
		case r.opt.TextField:
			textRaw = f.val
		case r.opt.IDField:
			idRaw = f.val
		}
	}
	if textRaw == nil || string(textRaw) == "null" {
		return nil, "missing_text", fmt.Errorf("no %q field", r.opt.TextField)
	}
	if textRaw[0] != '"' {
		return nil, "wrong_type", fmt.Errorf("field %q: want a string, got %.20s", r.opt.TextField, textRaw)
	}
	d := &pipeline.Document{
		Text:   pipeline.UnquoteJSONString(textRaw),
		Source: r.opt.Source,
		Prov:   pipeline.Provenance{File: file, Record: record, Offset: off},
	}
	if idRaw != nil && string(idRaw) != "null" {
		switch c := idRaw[0]; {
		case c == '"':
			d.ID = pipeline.UnquoteJSONString(idRaw)
		case c == '-' || c >= '0' && c <= '9':
			d.ID = string(idRaw) // keep the literal: no float formatting of big ints
		default:
			return nil, "wrong_type", fmt.Errorf("field %q: want a string or number", r.opt.IDField)
		}
	}
	if d.ID == "" {
		d.ID = deriveID(file, record)
	}
	copyField := func(f jsonField) error {
		x, err := jsonAny(f.val)
		if err != nil {
			return fmt.Errorf("field %q: %w", f.key, err)
		}
		d.SetMeta(f.key, x)
		return nil
	}
	for _, f := range fields {
		if f.key == r.opt.TextField || f.key == r.opt.IDField {
			continue
		}
		if r.opt.MetaFields != nil && !slices.Contains(r.opt.MetaFields, f.key) {
			continue
		}
		if err := copyField(f); err != nil {
			return nil, "invalid_json", err
		}
	}
	return d, "", nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// wrapTruncated names the usual cause of an unexpected EOF inside a
// compressed stream.
func wrapTruncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated input (compressed stream ends early): %w", err)
	}
	return err
}
