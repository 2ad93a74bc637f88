package readers

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
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
		key := jsonStringValue(b[i:kEnd])
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

// jsonStringValue decodes a valid JSON string literal. Escape-free
// strings are copied directly (valid JSON has no raw control characters in
// strings); escapes are decoded as encoding/json does, lone surrogates
// becoming U+FFFD.
func jsonStringValue(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	first := bytes.IndexByte(inner, '\\')
	if first < 0 {
		return string(inner)
	}
	out := make([]byte, 0, len(inner))
	out = append(out, inner[:first]...)
	for i := first; i < len(inner); {
		c := inner[i]
		if c != '\\' {
			j := bytes.IndexByte(inner[i:], '\\')
			if j < 0 {
				out = append(out, inner[i:]...)
				break
			}
			out = append(out, inner[i:i+j]...)
			i += j
			continue
		}
		e := inner[i+1]
		i += 2
		switch e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			r := rune(hex4(inner[i:]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := unicode.ReplacementChar
				if i+6 <= len(inner) && inner[i] == '\\' && inner[i+1] == 'u' {
					if d := utf16.DecodeRune(r, rune(hex4(inner[i+2:]))); d != unicode.ReplacementChar {
						r2 = d
						i += 6
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, e)
		}
	}
	return string(out)
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c - 'a' + 10)
		default:
			n |= int(c - 'A' + 10)
		}
	}
	return n
}

// jsonAny decodes a raw JSON value into a Go value as encoding/json would
// (float64 numbers, map[string]any objects), with a fast path for
// strings.
func jsonAny(raw []byte) (any, error) {
	if len(raw) > 0 && raw[0] == '"' {
		return jsonStringValue(raw), nil
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
		end, ok := scanJSONString(b, i+q+1)
		if !ok {
			return false, skel
		}
		skel = append(skel, '"', '"')
		i = end
	}
	return json.Valid(skel), skel
}

// scanJSONString checks the string body starting at b[i] (just after the
// opening quote) and returns the index after its closing quote; ok is
// false for an unterminated string, a raw control character or a bad
// escape.
func scanJSONString(b []byte, i int) (int, bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for {
		// Skip 8 bytes at a time while none is '"', '\\' or below 0x20
		// (each test is exact on whether any byte qualifies).
		for i+8 <= len(b) {
			x := uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
				uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
			q, bs := x^('"'*ones), x^('\\'*ones)
			if ((q-ones)&^q|(bs-ones)&^bs|(x-0x20*ones)&^x)&highs != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default:
			i++
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' }
