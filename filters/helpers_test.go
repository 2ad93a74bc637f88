package filters

import (
	"os"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"

	"github.com/kilnlm/kiln/pipeline"
)

var wordPool = []string{"quick", "brown", "foxes", "jumps", "over", "lazy", "dogs", "the", "and", "with"}

// ws returns n words cycling over wordPool (3 stop words in every 10, mean
// length 4.2).
func ws(n int) string { return cycle(n, wordPool) }

func cycle(n int, pool []string) string {
	out := make([]string, n)
	for i := range out {
		out[i] = pool[i%len(pool)]
	}
	return strings.Join(out, " ")
}

func rep(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// filterCase is one row of a filter's table: the text, an optional config
// change, and the reason expected ("" = kept).
type filterCase struct {
	name string
	text string
	meta map[string]any
	want string
}

func runCases(t *testing.T, st pipeline.Stage, cases []filterCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &pipeline.Document{Text: c.text}
			for k, v := range c.meta {
				d.SetMeta(k, v)
			}
			if got := st.Apply(d); got != c.want {
				t.Errorf("%s: reason %q, want %q", st.Name(), got, c.want)
			}
		})
	}
}

// uniqueWords returns n distinct lowercase words of 4 letters starting
// with prefix letter p.
func uniqueWords(n int, p byte) []string {
	out := make([]string, n)
	for i := range out {
		b := []byte{p, 'a' + byte(i/676%26), 'a' + byte(i/26%26), 'a' + byte(i%26)}
		out[i] = string(b)
	}
	return out
}

func docOf(s string) *pipeline.Document { return &pipeline.Document{Text: s} }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func shareddataWeb(tb testing.TB, name string) string {
	return shareddata.Path(tb, "corpus", "web", name)
}
