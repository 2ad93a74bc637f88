package readers

import (
	"bytes"
	"encoding/json"

	"github.com/kilnlm/kiln/pipeline"
)

// jsonField is one top-level member of a JSON object: its decoded key and
// its raw value bytes.
type jsonField struct {
	key string
	val []byte
}

// splitObject splits a JSON object into its top-level members without
// decoding the values, so the reader pays for decoding only the fields it
// uses. The input must already be known valid (json.Valid): the scanner
// relies on that and only tracks strings and nesting; it must also be
// valid UTF-8 (checked by the reader), so escape-free strings can be
// copied as they are. It returns false
// when the value is valid JSON but not an object.
func splitObject(b []byte, dst []jsonField) ([]jsonField, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return dst, false
	}
	i++
	for {
		i = skipWS(b, i)
		if b[i] == '}' {
			return dst, true
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
		kEnd := stringEnd(b, i)
		key := pipeline.UnquoteJSONString(b[i:kEnd])
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // the colon
		vEnd := valueEnd(b, i)
		dst = append(dst, jsonField{key: key, val: b[i:vEnd]})
		i = skipWS(b, vEnd)
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the closing quote of the string
// starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexAny(b[i:], `"\`)
		i += j
		if b[i] == '"' {
			return i + 1
		}
		i += 2 // a backslash escapes the next byte (\uXXXX needs no care)
	}
}

// valueEnd returns the index after the value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jsonAny decodes a raw JSON value into a Go value as encoding/json would
// (float64 numbers, map[string]any objects), with a fast path for
// strings.
func jsonAny(raw []byte) (any, error) {
	if len(raw) > 0 && raw[0] == '"' {
		return pipeline.UnquoteJSONString(raw), nil
	}
	var x any
	err := json.Unmarshal(raw, &x)
	return x, err
}

// validJSON reports whether b is valid JSON, as json.Valid does, for b
// already known to be valid UTF-8. A JSONL record is mostly one long
// string (the text), which json.Valid walks through its state machine a
// byte at a time. Here each string is checked by a fast scan (8 bytes at a
// time for the plain run between escapes: no raw control characters, valid
// escapes, a closing quote) and replaced by "" in a small skeleton of the
// record; the skeleton, whose structure is the record's, goes to
// json.Valid. skel is scratch, returned possibly grown.
func validJSON(b, skel []byte) (bool, []byte) {
	skel = skel[:0]
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			skel = append(skel, b[i:]...)
			break
		}
		skel = append(skel, b[i:i+q]...)
		end, ok := pipeline.ScanJSONString(b, i+q+1)
		if !ok {
			return false, skel
		}
		skel = append(skel, '"', '"')
		i = end
	}
	return json.Valid(skel), skel
}
