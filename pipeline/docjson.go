package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/kilnlm/kiln/internal/swar"
)

// MarshalDocument returns Kiln's on-disk JSON form of d, one object with the
// keys in this fixed order:
//
//	{"id":..,"text":..,"source":..,"metadata":{..},"provenance":{"file":..,"record":..,"offset":..}}
//
// The bytes are deterministic: metadata keys are sorted (at every depth),
// HTML characters are not escaped, and invalid UTF-8 in strings is written
// as U+FFFD. There is no trailing newline; JSONL writers add it.
func MarshalDocument(d *Document) ([]byte, error) {
	return AppendDocument(nil, d)
}

// AppendDocument appends MarshalDocument's bytes for d to dst, so writers
// can reuse one buffer across documents.
func AppendDocument(dst []byte, d *Document) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, d.ID)
	dst = append(dst, `,"text":`...)
	dst = AppendJSONString(dst, d.Text)
	dst = append(dst, `,"source":`...)
	dst = AppendJSONString(dst, d.Source)
	dst = append(dst, `,"metadata":`...)
	var err error
	dst, err = AppendMetaJSON(dst, d.Meta)
	if err != nil {
		return nil, fmt.Errorf("document %q: %w", d.ID, err)
	}
	dst = append(dst, `,"provenance":{"file":`...)
	dst = AppendJSONString(dst, d.Prov.File)
	dst = append(dst, `,"record":`...)
	dst = strconv.AppendInt(dst, d.Prov.Record, 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, d.Prov.Offset, 10)
	dst = append(dst, "}}"...)
	return dst, nil
}

// AppendMetaJSON appends m as a JSON object with sorted keys; nil is {}.
func AppendMetaJSON(dst []byte, m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return append(dst, "{}"...), nil
	}
	// encoding/json sorts map keys at every depth, which is what makes the
	// bytes deterministic; SetEscapeHTML(false) keeps URLs readable.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal. Control characters,
// quotes and backslashes are escaped, U+2028/U+2029 too (so the output is
// also valid JavaScript), and invalid UTF-8 becomes U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Copy 8 bytes at a time while none needs a look: no quote,
		// backslash, control character or non-ASCII byte.
		for i+8 <= len(s) {
			x := swar.Load8(s, i)
			if swar.Equal(x, '"')|swar.Equal(x, '\\')|swar.Below(x, 0x20)|x&swar.High != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// docJSON mirrors MarshalDocument's layout for decoding.
type docJSON struct {
	ID         string         `json:"id"`
	Text       *string        `json:"text"`
	Source     string         `json:"source"`
	Metadata   map[string]any `json:"metadata"`
	Provenance *Provenance    `json:"provenance"`
}

// UnmarshalDocument decodes one line of Kiln's document JSON into d,
// replacing its contents. Unknown top-level keys (such as the rejected
// writer's "reason") are ignored; a missing "text" is an error, and a
// missing provenance gives Offset -1.
func UnmarshalDocument(b []byte, d *Document) error {
	var j docJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("document json: %w", err)
	}
	if j.Text == nil {
		return fmt.Errorf("document json: missing \"text\"")
	}
	*d = Document{ID: j.ID, Text: *j.Text, Source: j.Source, Prov: Provenance{Offset: -1}}
	if len(j.Metadata) > 0 {
		d.Meta = j.Metadata
	}
	if j.Provenance != nil {
		d.Prov = *j.Provenance
	}
	return nil
}
