package executor

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
)

// spoolTestDocs are documents whose spool lines exercise every part of
// the layout decoder: escapes and control characters, invalid UTF-8
// (written as U+FFFD), nested metadata with exact big integers, metadata
// that itself holds a "provenance" key, negative offsets.
func spoolTestDocs() []*pipeline.Document {
	var ctl strings.Builder
	for c := range 0x20 {
		ctl.WriteByte(byte(c))
	}
	texts := []string{"", "plain text", "quote \" backslash \\ slash / tab\t nl\n", ctl.String(), "é—“curly”😀\u2028\u2029",
		"bad \xff\xfe utf8", strings.Repeat("long line with \\n escapes\n", 200), `{"id":"x","text":"inner"}`}
	metas := []map[string]any{nil, {}, {"url": "https://e.com/a?b=1&c=<d>"},
		{"n": json.Number("12345678901234567890"), "f": json.Number("0.65"), "b": true, "z": nil, "arr": []any{json.Number("1"), "two", map[string]any{"k": "v"}}},
		{"provenance": map[string]any{"file": "fake", "record": json.Number("9")}, "x": `,"provenance":{"file":`}}
	var docs []*pipeline.Document
	for i, text := range texts {
		for j, m := range metas {
			docs = append(docs, &pipeline.Document{
				ID: strings.Repeat("id\"", i%3) + "é", Text: text, Source: []string{"web", "", "co\\de"}[j%3], Meta: m,
				Prov: pipeline.Provenance{File: "/data/f\"" + text[:min(len(text), 5)], Record: int64(i * j), Offset: int64(j - 1)},
			})
		}
	}
	return docs
}

// TestSpoolLayoutMatchesJSON holds the layout decoder to the general one
// on every test document's spool line.
func TestSpoolLayoutMatchesJSON(t *testing.T) {
	for _, d := range spoolTestDocs() {
		line, err := pipeline.AppendDocument(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		line = append(line, '\n')
		var fast, slow pipeline.Document
		if !decodeSpoolLayout(line, &fast) {
			t.Fatalf("layout decoder rejected Kiln's own line %q", line)
		}
		if err := decodeSpoolJSON(line, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("line %q:\nlayout  %+v\ngeneral %+v", line, fast, slow)
		}
	}
}

// FuzzSpoolDecode: on any line the layout decoder accepts, the general
// decoder gives the same document; lines built from fuzzed fields are
// always accepted.
func FuzzSpoolDecode(f *testing.F) {
	for _, d := range spoolTestDocs() {
		line, _ := pipeline.AppendDocument(nil, d)
		f.Add(line, d.Text, d.ID)
	}
	f.Fuzz(func(t *testing.T, line []byte, text, id string) {
		var fast, slow pipeline.Document
		if decodeSpoolLayout(line, &fast) {
			if err := decodeSpoolJSON(line, &slow); err != nil {
				t.Fatalf("layout accepted %q, general decoder: %v", line, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("line %q:\nlayout  %+v\ngeneral %+v", line, fast, slow)
			}
		}
		d := &pipeline.Document{ID: id, Text: text, Source: "web", Meta: map[string]any{"k": text}, Prov: pipeline.Provenance{File: id, Record: 7, Offset: -1}}
		built, err := pipeline.AppendDocument(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		fast, slow = pipeline.Document{}, pipeline.Document{}
		if !decodeSpoolLayout(built, &fast) {
			t.Fatalf("layout decoder rejected Kiln's own line %q", built)
		}
		if err := decodeSpoolJSON(built, &slow); err != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("line %q: layout %+v, general %+v (%v)", built, fast, slow, err)
		}
	})
}
