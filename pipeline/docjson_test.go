package pipeline

import (
	"encoding/json"
	"reflect"
	"testing"
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
