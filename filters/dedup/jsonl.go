package dedup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kilnlm/kiln/pipeline"
)

// Record is one JSONL line of `kiln dedup` input: an object with an `id`
// (string or number), a `text` string and any other fields, which are kept
// verbatim and passed through to the output.
type Record struct {
	ID     string
	Text   string
	Fields map[string]json.RawMessage
	Raw    []byte // the object as read, surrounding white space trimmed
}

// ParseRecord parses one JSONL line. A missing id becomes fallbackID (the
// line number), so every document still has a stable name.
func ParseRecord(line []byte, fallbackID string) (Record, error) {
	var fields map[string]json.RawMessage
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Record{}, fmt.Errorf("want a JSON object")
	}
	if err := json.Unmarshal(line, &fields); err != nil {
		return Record{}, err
	}
	r := Record{ID: fallbackID, Fields: fields, Raw: line}
	if raw, ok := fields["text"]; ok {
		if err := json.Unmarshal(raw, &r.Text); err != nil {
			return Record{}, fmt.Errorf("field text: want a string")
		}
	}
	if raw, ok := fields["id"]; ok {
		switch {
		case len(raw) > 0 && raw[0] == '"':
			if err := json.Unmarshal(raw, &r.ID); err != nil {
				return Record{}, fmt.Errorf("field id: %w", err)
			}
		case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
			r.ID = string(raw)
		case string(raw) == "null":
		default:
			return Record{}, fmt.Errorf("field id: want a string or a number, got %.20s", raw)
		}
	}
	return r, nil
}

// Document turns the record into a pipeline document; scalar fields other
// than id and text become metadata (url for exact dedup on URLs, numeric
// fields for priorities).
func (r Record) Document(file string, line int64) *pipeline.Document {
	d := &pipeline.Document{ID: r.ID, Text: r.Text, Prov: pipeline.Provenance{File: file, Record: line, Offset: -1}}
	for k, raw := range r.Fields {
		if k == "id" || k == "text" || len(raw) == 0 {
			continue
		}
		switch c := raw[0]; {
		case c == '"':
			var s string
			if json.Unmarshal(raw, &s) == nil {
				d.SetMeta(k, s)
			}
		case c == '-' || c >= '0' && c <= '9':
			if x, err := strconv.ParseFloat(string(raw), 64); err == nil {
				d.SetMeta(k, x)
			}
		}
	}
	return d
}
