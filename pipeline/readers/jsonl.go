package readers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	var rec map[string]json.RawMessage
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
		if len(line) == 0 || isBlank(line) {
			out.Skip(pipeline.Skip{Reason: "empty_line", File: t.Path, Record: record})
			continue
		}
		if !utf8.Valid(line) {
			out.Skip(pipeline.Skip{Reason: "invalid_utf8", File: t.Path, Record: record})
			continue
		}
		clear(rec)
		if err := json.Unmarshal(line, &rec); err != nil {
			reason := "invalid_json"
			if json.Valid(line) { // valid JSON, but an array, string or number
				reason = "wrong_type"
			}
			out.Skip(pipeline.Skip{Reason: reason, File: t.Path, Record: record, Err: err})
			continue
		}
		if rec == nil { // the line was JSON null
			out.Skip(pipeline.Skip{Reason: "wrong_type", File: t.Path, Record: record, Err: errors.New("line is not a JSON object")})
			continue
		}
		d, reason, err := r.docFromFields(rec, t.Path, record, off)
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

// docFromFields builds a document from one decoded JSON object. A non-empty
// reason means the record is skipped.
func (r *reader) docFromFields(rec map[string]json.RawMessage, file string, record, off int64) (*pipeline.Document, string, error) {
	raw, ok := rec[r.opt.TextField]
	if !ok || string(raw) == "null" {
		return nil, "missing_text", fmt.Errorf("no %q field", r.opt.TextField)
	}
	d := &pipeline.Document{Source: r.opt.Source, Prov: pipeline.Provenance{File: file, Record: record, Offset: off}}
	if err := json.Unmarshal(raw, &d.Text); err != nil {
		return nil, "wrong_type", fmt.Errorf("field %q: want a string: %w", r.opt.TextField, err)
	}
	if idRaw, ok := rec[r.opt.IDField]; ok && string(idRaw) != "null" {
		var id any
		if err := json.Unmarshal(idRaw, &id); err != nil {
			return nil, "invalid_json", err
		}
		switch v := id.(type) {
		case string:
			d.ID = v
		case float64:
			d.ID = string(idRaw) // keep the literal: no float formatting of big ints
		default:
			return nil, "wrong_type", fmt.Errorf("field %q: want a string or number", r.opt.IDField)
		}
	}
	if d.ID == "" {
		d.ID = deriveID(file, record)
	}
	copyField := func(k string, v json.RawMessage) error {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
		d.SetMeta(k, x)
		return nil
	}
	if r.opt.MetaFields == nil {
		for k, v := range rec {
			if k == r.opt.TextField || k == r.opt.IDField {
				continue
			}
			if err := copyField(k, v); err != nil {
				return nil, "invalid_json", err
			}
		}
	} else {
		for _, k := range r.opt.MetaFields {
			if v, ok := rec[k]; ok {
				if err := copyField(k, v); err != nil {
					return nil, "invalid_json", err
				}
			}
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
