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
