package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestRunFiltersOrderAndVerdicts(t *testing.T) {
	reg := newRegistry()
	chain, err := buildFilterChain(reg, "url,pii,gopher_quality", []string{"url.extra_domains=blocked.com", "gopher_quality.min_doc_words=3"})
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 1500 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&in, `{"id": %d, "text": "the cat and the dog %d", "url": "https://blocked.com/x"}`+"\n", i, i)
		case 1:
			fmt.Fprintf(&in, `{"id": "d%d", "text": "write to the admin at admin@example.org with the logs %d", "metadata": {"k": %d}}`+"\n", i, i, i)
		default:
			fmt.Fprintf(&in, `{"text": "no"}`+"\n\n")
		}
	}
	var out bytes.Buffer
	counts, err := runFilters(context.Background(), strings.NewReader(in.String()), &out, chain, 4)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1500 || counts.docs != 1500 || counts.kept != 500 {
		t.Fatalf("%d lines, counts %+v", len(lines), counts)
	}
	for i, l := range lines {
		var rec struct {
			ID       any            `json:"id"`
			Kept     bool           `json:"kept"`
			Reason   string         `json:"reason"`
			Filter   string         `json:"filter"`
			Text     string         `json:"text"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			if rec.Kept || rec.Reason != "domain" || rec.Filter != "url" || rec.ID != float64(i) {
				t.Fatalf("line %d: %s", i, l)
			}
		case 1:
			if !rec.Kept || rec.ID != fmt.Sprintf("d%d", i) || !strings.Contains(rec.Text, "<EMAIL_ADDRESS>") || rec.Metadata["k"] != float64(i) {
				t.Fatalf("line %d: %s", i, l)
			}
		default:
			if rec.Kept || rec.Reason != "gopher_short_doc" {
				t.Fatalf("line %d: %s", i, l)
			}
		}
	}
	if counts.dropped["url/domain"] != 500 || counts.dropped["gopher_quality/gopher_short_doc"] != 500 {
		t.Errorf("counts %v", counts.dropped)
	}
}

func TestRunFiltersErrors(t *testing.T) {
	reg := newRegistry()
	chain, _ := buildFilterChain(reg, "pii", nil)
	for _, c := range []struct{ in, want string }{
		{"{\"text\": \"a\"}\n{\"text\": \"b\"\nnot json\n", "stdin line 2"},
		{"{\"text\": \"a\"}\n\n{\"id\": 3}\n", "stdin line 3: no \"text\""},
	} {
		_, err := runFilters(context.Background(), strings.NewReader(c.in), &bytes.Buffer{}, chain, 2)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("input %q: error %v, want %q", c.in, err, c.want)
		}
	}
	for _, c := range []struct {
		names string
		sets  []string
		want  string
	}{
		{"nope", nil, "unknown filter"},
		{"pii", []string{"pii.bogus=1"}, "unknown parameter"},
		{"pii", []string{"gopher_quality.min_doc_words=1"}, "not in the chain"},
		{"pii", []string{"pii"}, "want NAME.PARAM=VALUE"},
		{"pii,pii", nil, "named twice"},
		{"decontaminate", nil, "eval_file is required"},
	} {
		if _, err := buildFilterChain(reg, c.names, c.sets); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.names, c.sets, err, c.want)
		}
	}
}

func TestListFilters(t *testing.T) {
	var b bytes.Buffer
	if err := listFilters(&b, newRegistry()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gopher_quality.min_doc_words=50", "language.language_threshold=0.65", "gopher_repetition.dup_n_grams=10:0.1,5:0.15", "decontaminate.n_gram=13", "code.max_line_length=1000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("--list lacks %q", want)
		}
	}
}
