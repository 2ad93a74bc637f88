package pipeline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMarshalDocumentRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		doc  Document
		want string
	}{
		{"plain", Document{ID: "a", Text: "hi", Source: "web", Prov: Provenance{File: "f.jsonl", Record: 3, Offset: 10}},
			`{"id":"a","text":"hi","source":"web","metadata":{},"provenance":{"file":"f.jsonl","record":3,"offset":10}}`},
		{"escapes", Document{ID: "<&>", Text: "a\"b\\c\n\t\x01\u2028é", Meta: map[string]any{"z": 1.5, "a": "x<y", "m": map[string]any{"b": true, "a": nil}}, Prov: Provenance{Offset: -1}},
			`{"id":"<&>","text":"a\"b\\c\n\t\u0001\u2028é","source":"","metadata":{"a":"x<y","m":{"a":null,"b":true},"z":1.5},"provenance":{"file":"","record":0,"offset":-1}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := MarshalDocument(&c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Fatalf("got  %s\nwant %s", b, c.want)
			}
			if !json.Valid(b) {
				t.Fatalf("invalid json %s", b)
			}
			var back Document
			if err := UnmarshalDocument(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, c.doc) {
				t.Fatalf("round trip: got %+v want %+v", back, c.doc)
			}
		})
	}
}

func TestMarshalDocumentInvalidUTF8(t *testing.T) {
	b, err := MarshalDocument(&Document{Text: "a\xffb"})
	if err != nil {
		t.Fatal(err)
	}
	var d Document
	if err := UnmarshalDocument(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.Text != "a\uFFFDb" {
		t.Fatalf("got %q", d.Text)
	}
}

func TestUnmarshalDocumentErrors(t *testing.T) {
	for _, in := range []string{`{"id":"x"}`, `{"text":1}`, `not json`, `{"text":"a","metadata":[]}`} {
		var d Document
		if err := UnmarshalDocument([]byte(in), &d); err == nil {
			t.Errorf("%s: want error", in)
		}
	}
}

func FuzzUnmarshalDocument(f *testing.F) {
	f.Add([]byte(`{"id":"a","text":"hi","source":"web","metadata":{"k":[1,2]},"provenance":{"file":"f","record":1,"offset":0}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Document
		if UnmarshalDocument(b, &d) != nil {
			return
		}
		out, err := MarshalDocument(&d)
		if err != nil {
			t.Fatal(err)
		}
		var d2 Document
		if err := UnmarshalDocument(out, &d2); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		out2, _ := MarshalDocument(&d2)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// refAppendJSONString is AppendJSONString before its 8-byte skip: the
// output must stay byte-identical (run outputs are hashed).
func refAppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
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

func checkAppendJSONString(t *testing.T, s string) {
	t.Helper()
	if got, want := AppendJSONString([]byte("x"), s), refAppendJSONString([]byte("x"), s); string(got) != string(want) {
		t.Fatalf("AppendJSONString(%q) = %q, reference %q", s, got, want)
	}
}

func TestAppendJSONStringMatchesReference(t *testing.T) {
	specials := []string{"\"", "\\", "\x00", "\x1f", "\n", "\t", "\x7f", " ", "~", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "😀"}
	for _, c := range specials {
		for pos := 0; pos < 17; pos++ {
			checkAppendJSONString(t, strings.Repeat("a", pos)+c+strings.Repeat("b", 17-pos))
			checkAppendJSONString(t, strings.Repeat("a", pos)+c)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain ascii text, longer than eight bytes")
	f.Add("quote\" back\\ ctl\x01 é \u2028 \xff")
	f.Fuzz(checkAppendJSONString)
}
