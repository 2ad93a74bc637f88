package dedup

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

type verdict struct {
	RawID       json.RawMessage `json:"id"`
	ID          string          `json:"-"`
	Text        string          `json:"text"`
	Kept        bool            `json:"kept"`
	Reason      string          `json:"reason"`
	Cluster     string          `json:"cluster"`
	ClusterSize int             `json:"cluster_size"`
	Lines       int             `json:"lines_removed"`
}

func runJSONL(t *testing.T, in string, o Options) []verdict {
	t.Helper()
	var out bytes.Buffer
	if _, err := Run(context.Background(), strings.NewReader(in), &out, o); err != nil {
		t.Fatal(err)
	}
	var vs []verdict
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var v verdict
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		v.ID = strings.Trim(string(v.RawID), `"`)
		vs = append(vs, v)
	}
	return vs
}

func TestRunMethods(t *testing.T) {
	fox := "The quick brown fox jumps over the lazy dog and then runs far away into the green forest"
	tests := []struct {
		name   string
		method string
		in     []string
		want   []verdict // ID, Kept, Reason, Cluster, ClusterSize compared
	}{
		{
			name:   "exact normalises case and space",
			method: "exact",
			in:     []string{`{"id":"a","text":"Hello  World"}`, `{"id":"b","text":"hello world"}`, `{"id":"c","text":"hello world!"}`},
			want: []verdict{
				{ID: "a", Kept: true, ClusterSize: 2},
				{ID: "b", Reason: "exact_duplicate", Cluster: "a", ClusterSize: 2},
				{ID: "c", Kept: true},
			},
		},
		{
			name:   "minhash near copy and numeric ids",
			method: "minhash",
			in:     []string{`{"id":1,"text":"` + fox + `"}`, `{"id":"x","text":"unrelated words make a different document entirely, nothing shared"}`, `{"id":3,"text":"` + strings.ToUpper(fox) + `!!"}`},
			want: []verdict{
				{ID: "1", Kept: true, ClusterSize: 2},
				{ID: "x", Kept: true},
				{ID: "3", Reason: "minhash_duplicate", Cluster: "1", ClusterSize: 2},
			},
		},
		{
			name:   "line dedup keeps the first occurrence",
			method: "line",
			in:     []string{`{"id":"a","text":"Accept cookies\nhello"}`, `{"id":"b","text":"accept  cookies\nbye"}`, `{"id":"c","text":"Accept cookies"}`},
			want: []verdict{
				{ID: "a", Kept: true},
				{ID: "b", Kept: true, Lines: 1},
				{ID: "c", Reason: "line_dedup_empty", Lines: 1},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runJSONL(t, strings.Join(tc.in, "\n")+"\n", Options{Method: tc.method, Memory: 64 << 20, WorkDir: t.TempDir()})
			if len(got) != len(tc.want) {
				t.Fatalf("got %d verdicts, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ID != w.ID || g.Kept != w.Kept || g.Reason != w.Reason || g.Cluster != w.Cluster || g.ClusterSize != w.ClusterSize || g.Lines != w.Lines {
					t.Errorf("doc %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestRunPassThroughAndErrors(t *testing.T) {
	in := `{"id":"a","text":"same text","url":"http://x","n":1}
{"id":"b","text":"same text","kept":"user field"}

{}
`
	var out bytes.Buffer
	st, err := Run(context.Background(), strings.NewReader(in), &out, Options{Method: "exact"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"a","text":"same text","url":"http://x","n":1,"kept":true,"reason":"","cluster_size":2}
{"cluster":"a","cluster_size":2,"id":"b","kept":false,"reason":"exact_duplicate","text":"same text"}
{"kept":true,"reason":""}
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if st.Docs != 3 || st.Dropped != 1 {
		t.Errorf("stats %+v", st)
	}
	bad := []struct{ in, msg string }{
		{"{\"id\":\"a\"}\n[1]\n", "line 2"},
		{"{\"id\":\"a\"}\n\n{\"text\": 5}\n", "line 3"},
		{"{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"a\",\"text\n", "line 2"},
	}
	for _, b := range bad {
		_, err := Run(context.Background(), strings.NewReader(b.in), io.Discard, Options{Method: "minhash", ChunkBytes: 1})
		if err == nil || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("input %q: error %v, want one naming %s", b.in, err, b.msg)
		}
	}
	if _, err := Run(context.Background(), strings.NewReader(""), io.Discard, Options{Method: "fuzzy"}); err == nil {
		t.Error("unknown method accepted")
	}
}
