package readers

import (
	"encoding/json"
	"reflect"
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
