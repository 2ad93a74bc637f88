package readers

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSplitObject checks the member scanner against encoding/json on
// every valid input: same keys, same decoded values (last duplicate wins).
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{
		`{"text":"a\"b\\","id":12,"m":{"x":[1,"]}",{"y":null}]},"e":""}`,
		` { "k\u00e9y" : true , "t" : -1.5e3 } `,
		`{}`, `[]`, `"s"`, `null`, `{"a":1,"a":2}`, `{"a":"\ud800"}`, `{"a":"x\ud83d\ude00\ud800\u0041\/\b\f"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || !utf8.Valid(b) { // the reader checks both first
			return
		}
		var want map[string]any
		wantErr := json.Unmarshal(b, &want)
		fields, ok := splitObject(b, nil)
		if !ok {
			if wantErr == nil && want != nil {
				t.Fatalf("scanner rejected object %q", b)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("scanner accepted %q that encoding/json rejects: %v", b, wantErr)
		}
		got := map[string]any{}
		for _, fl := range fields {
			v, err := jsonAny(fl.val)
			if err != nil {
				t.Fatalf("%q: field %q: %v", b, fl.key, err)
			}
			got[fl.key] = v
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got  %#v\n want %#v", b, got, want)
		}
	})
}

// validJSONCases are inputs around every rule validJSON's string scan
// decides, each placed so the 8-byte skip meets it at several offsets.
var validJSONCases = []string{
	``, ` `, `{}`, `[]`, `""`, `"`, `"\`, `"\"`, `"a\"b"`, `{"a":"b"}`, `{"a":"b}`, `{"a":b"}`, `{"a" "b"}`,
	`{"a":"\u00e9\/\b\f\n\r\t\\\""}`, `"\u00"`, `"\u00g0"`, `"\uABCD"`, `"\x"`, `"\'"`, "\"a\x01b\"", "\"a\x1fb\"",
	"\"a\x7fb\"", `"é—“quoted”"`, `{"text":"` + "line one\\nline two" + `","id":3}`, `tru""`, `"a"b"`, `"a""b"`,
	`{"a":[1,"]",{"b":"}"}]}`, `{"a":1,}`, `[1 2]`, `"\ud800"`, `{"k":"v"} `, ` {"k":"v"}x`,
}

// TestValidJSONMatchesStdlib holds validJSON to json.Valid on the cases,
// each padded so the string scan's 8-byte steps cross every position.
func TestValidJSONMatchesStdlib(t *testing.T) {
	var skel []byte
	// Inside long strings: each byte that matters at every offset of an
	// 8-byte step, and the bytes just outside each class.
	for _, c := range []string{"\x00", "\x1f", "\x20", "\"", "\\", "\\n", "\\u00e9", "\\q", "\x7f", "é", "!", "#", "[", "]"} {
		for pos := 0; pos < 17; pos++ {
			s := `{"t":"` + strings.Repeat("a", pos) + c + strings.Repeat("b", 20) + `"}`
			var got bool
			if got, skel = validJSON([]byte(s), skel); got != json.Valid([]byte(s)) {
				t.Fatalf("validJSON(%q) = %v, json.Valid says %v", s, got, !got)
			}
		}
	}
	for _, c := range validJSONCases {
		for pad := 0; pad < 9; pad++ {
			for _, s := range []string{c, `{"p":"` + strings.Repeat("x", pad) + `","v":` + c + `}`, `["` + strings.Repeat("y", pad) + c + `"]`} {
				var got bool
				if got, skel = validJSON([]byte(s), skel); got != json.Valid([]byte(s)) {
					t.Fatalf("validJSON(%q) = %v, json.Valid says %v", s, got, !got)
				}
			}
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) { // the reader checks UTF-8 first
			return
		}
		if got, _ := validJSON(b, nil); got != json.Valid(b) {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, !got)
		}
	})
}
