package pipeline

import (
	"bytes"
	"encoding/binary"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/kilnlm/kiln/internal/swar"
)

// UnquoteJSONString decodes a valid JSON string literal (quotes
// included). Escape-free strings are copied directly (valid JSON has no raw
// control characters in strings); escapes are decoded as encoding/json
// does, lone surrogates becoming U+FFFD. The caller guarantees validity
// (json.Valid, or bytes Kiln wrote itself).
func UnquoteJSONString(raw []byte) string {
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

// ScanJSONString checks the string body starting at b[i] (just after
// the opening quote) and returns the index after its closing quote; ok is
// false for an unterminated string, a raw control character or a bad
// escape.
func ScanJSONString(b []byte, i int) (int, bool) {
	for {
		// Skip 8 bytes at a time while none is '"', '\\' or below 0x20.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if swar.Equal(x, '"')|swar.Equal(x, '\\')|swar.Below(x, 0x20) != 0 {
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
