package dedup

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"unicode"

	"github.com/kilnlm/kiln/pipeline"
	"golang.org/x/text/unicode/norm"
)

func TestSimplify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello, World!", "hello world"},
		{"don't stop", "dont stop"},
		{"Call 555-1234 in 2024", "call 0000000 in 0000"},
		{"Café naïve ÉLAN", "cafe naive elan"},
		{"  tabs\tand\nnewlines  ", "tabs and newlines"},
		{"Ärger über Öl", "arger uber ol"},
		{"数据去重", "数 据 去 重"},
		{"東京タワー is tall", "東 京 タ ワ ー is tall"},
		{"x²+y³ = z", "x0y0 z"},
		{"¡Hola! ¿Qué tal?", "hola que tal"},
		{"", ""},
		{"!!! ...", ""},
	}
	for _, tc := range tests {
		got, starts := simplify(nil, nil, tc.in)
		if string(got) != tc.want {
			t.Errorf("simplify(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if n := len(strings.Fields(tc.want)); len(starts) != n {
			t.Errorf("simplify(%q): %d word starts, want %d", tc.in, len(starts), n)
		}
	}
}

func TestSignatureProperties(t *testing.T) {
	h, err := NewHasher(DefaultMinHashParams())
	if err != nil {
		t.Fatal(err)
	}
	a := "The cat sat on the mat while the dog slept by the fire all night long"
	sigA, ok := h.Signature(a)
	if !ok || len(sigA) != 112 {
		t.Fatalf("signature: ok=%v len=%d", ok, len(sigA))
	}
	sigA = slices.Clone(sigA)
	// Normalisation makes these the same shingles.
	sigB, _ := h.Signature("THE CAT SAT ON THE MAT, WHILE THE DOG SLEPT BY THE FIRE ALL NIGHT LONG!!")
	if !slices.Equal(sigA, sigB) {
		t.Error("case and punctuation changed the signature")
	}
	for _, v := range sigA {
		if v >= mersenne61 {
			t.Fatalf("value %d not reduced mod 2^61-1", v)
		}
	}
	if _, ok := h.Signature(" ... "); ok {
		t.Error("text without words reported a signature")
	}
	// Another seed gives other permutations.
	p := DefaultMinHashParams()
	p.Seed = 2
	h2, _ := NewHasher(p)
	sigC, _ := h2.Signature(a)
	if slices.Equal(sigA, sigC) {
		t.Error("seed has no effect")
	}
	// Short texts are one shingle of all their words.
	if n := len(h.Shingles("two words")); n != 1 {
		t.Errorf("short text: %d shingles, want 1", n)
	}
	if _, err := NewHasher(MinHashParams{Bands: 0, Rows: 8, NGram: 5}); err == nil {
		t.Error("bands=0 accepted")
	}
}

// TestMulMod checks the Mersenne folding against math/big-free exact
// arithmetic on small cases and identities.
func TestMulMod(t *testing.T) {
	h := &Hasher{p: MinHashParams{Bands: 1, Rows: 1, NGram: 1}, a: []uint64{mersenne61 - 1}, b: []uint64{0}, sig: make([]uint64, 1)}
	// (p-1)*x mod p = p - x for 0 < x < p: verify with a word whose hash we
	// compute the same way.
	h.text, h.starts = simplify(nil, nil, "word")
	sig, _ := h.Signature("word")
	x := uint64(0)
	for k := range h.Shingles("word") {
		x = k
	}
	x = (x & mersenne61) + (x >> 61)
	if x >= mersenne61 {
		x -= mersenne61
	}
	if want := (mersenne61 - x) % mersenne61; sig[0] != want {
		t.Errorf("(p-1)*x mod p = %d, want %d", sig[0], want)
	}
}

func TestSpillMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	const parts, n = 3, 20000
	// A zero budget: every buffer beyond minBuffer records spills.
	sp := newSpiller(dir, parts, &budget{limit: 0})
	var want [parts][]item
	for i := 0; i < n; i++ {
		r := record{part: uint32(rng.IntN(parts)), hash: uint64(rng.IntN(500)), aux: uint64(rng.IntN(3)), seq: uint32(i)}
		if err := sp.add(r); err != nil {
			t.Fatal(err)
		}
		want[r.part] = append(want[r.part], item{hash: r.hash, aux: r.aux, id: 1000 + r.seq})
	}
	runs, err := sp.finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < n/minBuffer {
		t.Fatalf("%d runs, want >= %d", len(runs), n/minBuffer)
	}
	for _, fan := range []int{2, 3, 64} {
		for p := 0; p < parts; p++ {
			var srcs []source
			for _, r := range runs {
				srcs = append(srcs, source{path: r, part: p, base: 1000})
			}
			var got []item
			tmp := filepath.Join(t.TempDir())
			if err := merge(srcs, fan, tmp, func(it item) error { got = append(got, it); return nil }); err != nil {
				t.Fatal(err)
			}
			w := slices.Clone(want[p])
			slices.SortFunc(w, cmpItem)
			if !slices.Equal(got, w) {
				t.Fatalf("fan-in %d part %d: merged %d items, want %d in order", fan, p, len(got), len(w))
			}
		}
	}
}

func TestUnionFindMinRoot(t *testing.T) {
	uf := newUnionFind(10)
	for _, e := range [][2]uint32{{9, 7}, {7, 5}, {3, 8}, {8, 5}, {1, 2}} {
		uf.union(e[0], e[1])
	}
	want := []uint32{0, 1, 1, 3, 4, 3, 6, 3, 3, 3}
	for i, w := range want {
		if got := uf.find(uint32(i)); got != w {
			t.Errorf("find(%d) = %d, want %d", i, got, w)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1GiB", 1 << 30, true}, {"512MiB", 512 << 20, true}, {"1gb", 1e9, true},
		{"300M", 300 << 20, true}, {"1048576", 1 << 20, true}, {"1.5GiB", 3 << 29, true},
		{"", 0, false}, {"-1G", 0, false}, {"lots", 0, false}, {"0", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestExactPriorityAndURL(t *testing.T) {
	doc := func(id, text string, meta map[string]any) *pipeline.Document {
		return &pipeline.Document{ID: id, Text: text, Meta: meta}
	}
	tests := []struct {
		name string
		cfg  ExactConfig
		docs []*pipeline.Document
		want []string
	}{
		{"first seen", ExactConfig{Key: "text", Memory: "16MiB"},
			[]*pipeline.Document{doc("a", "x", nil), doc("b", "X ", nil), doc("c", "y", nil)},
			[]string{"", "exact_duplicate", ""}},
		{"priority", ExactConfig{Key: "text", Priority: "score", Memory: "16MiB"},
			[]*pipeline.Document{doc("a", "x", map[string]any{"score": 0.1}), doc("b", "x", map[string]any{"score": 0.9}), doc("c", "x", nil), doc("d", "x", map[string]any{"score": -3.0})},
			[]string{"exact_duplicate", "", "exact_duplicate", "exact_duplicate"}},
		{"url", ExactConfig{Key: "url", Memory: "16MiB"},
			[]*pipeline.Document{doc("a", "x", map[string]any{"url": "http://a"}), doc("b", "y", map[string]any{"url": "http://a"}), doc("c", "x", nil), doc("d", "x", nil)},
			[]string{"", "exact_duplicate", "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewExact(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := runStage(t, e, t.TempDir(), [][]*pipeline.Document{tc.docs[:1], tc.docs[1:]}, 2)
			if !slices.Equal(got, tc.want) {
				t.Errorf("reasons %q, want %q", got, tc.want)
			}
		})
	}
	if priorityAux(doc("a", "", map[string]any{"p": math.Inf(1)}), "p") == math.MaxUint64 {
		t.Error("+Inf priority treated as missing")
	}
}

func TestConfigMismatch(t *testing.T) {
	dir := t.TempDir()
	a, _ := NewMinHash(*DefaultMinHashConfig())
	o, err := a.Observe(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	cfg := DefaultMinHashConfig()
	cfg.Bands = 20
	b, _ := NewMinHash(*cfg)
	if _, err := b.Observe(dir, 1); err == nil || !strings.Contains(err.Error(), "fresh dir") {
		t.Errorf("state made with other params accepted: %v", err)
	}
}

func TestRegisterDefaults(t *testing.T) {
	r := pipeline.NewRegistry()
	Register(r)
	s, _, err := r.Build("minhash_dedup", pipeline.Params{"bands": "20", "rows": "5", "seed": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if m := s.(*MinHash); m.p != (MinHashParams{Bands: 20, Rows: 5, NGram: 5, Seed: 7}) {
		t.Errorf("params %+v", m.p)
	}
	for _, name := range []string{"exact_dedup", "minhash_dedup", "line_dedup"} {
		if _, _, err := r.Build(name, nil); err != nil {
			t.Errorf("%s with defaults: %v", name, err)
		}
	}
	if _, _, err := r.Build("line_dedup", pipeline.Params{"mode": "words"}); err == nil {
		t.Error("bad mode accepted")
	}
}

func TestSpans3(t *testing.T) {
	got := spans3("One. Two! Three? Four. Five")
	want := []string{"One. Two! Three?", " Four. Five"}
	if !slices.Equal(got, want) {
		t.Errorf("spans3 = %q, want %q", got, want)
	}
	if strings.Join(spans3("a.b. c"), "") != "a.b. c" {
		t.Error("spans do not rebuild the line")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"id":"a","text":"hello"}`))
	f.Add([]byte(`{"id":12,"text":"x","url":"http://u","score":0.5}`))
	f.Add([]byte(`{"text":"no id"}`))
	f.Add([]byte(`{"id":null}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"text":5}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line, "7")
		if err != nil {
			return
		}
		if r.Fields == nil {
			t.Fatal("parsed record without fields")
		}
		if _, ok := r.Fields["id"]; !ok && r.ID != "7" {
			t.Fatalf("missing id became %q", r.ID)
		}
		d := r.Document("f", 1)
		if d.ID != r.ID || d.Text != r.Text {
			t.Fatal("document differs from record")
		}
	})
}

func TestLineDedupModes(t *testing.T) {
	doc := func(id, text string) *pipeline.Document { return &pipeline.Document{ID: id, Text: text} }
	tests := []struct {
		name      string
		cfg       LineConfig
		texts     []string
		wantTexts []string
		reasons   []string
	}{
		{"max_docs 2: a line in 3 documents stays only in the first", LineConfig{Mode: "lines", MaxDocs: 2, Memory: "16MiB"},
			[]string{"nav\na", "nav\nb", "Nav \nc", "d"},
			[]string{"nav\na", "b", "c", "d"}, []string{"", "", "", ""}},
		{"sentences3 removes repeated spans", LineConfig{Mode: "sentences3", MaxDocs: 1, Memory: "16MiB"},
			[]string{"We use cookies. Accept them. Or leave. Real text here.", "We use cookies. Accept them. Or leave. Other text.", "We use cookies. Accept them. Or leave."},
			[]string{"We use cookies. Accept them. Or leave. Real text here.", "Other text.", ""},
			[]string{"", "", "line_dedup_empty"}},
		{"blank lines are never units", LineConfig{Mode: "lines", MaxDocs: 1, Memory: "16MiB"},
			[]string{"a\n\nb", "c\n\nd"},
			[]string{"a\n\nb", "c\n\nd"}, []string{"", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLine(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var docs []*pipeline.Document
			for i, s := range tc.texts {
				docs = append(docs, doc(string(rune('a'+i)), s))
			}
			got := runStage(t, l, t.TempDir(), [][]*pipeline.Document{docs[:1], docs[1:]}, 1)
			if !slices.Equal(got, tc.reasons) {
				t.Errorf("reasons %q, want %q", got, tc.reasons)
			}
			for i, d := range docs {
				if tc.reasons[i] == "" && d.Text != tc.wantTexts[i] {
					t.Errorf("doc %d text %q, want %q", i, d.Text, tc.wantTexts[i])
				}
			}
		})
	}
}

func FuzzSimplify(f *testing.F) {
	for _, s := range []string{"Hello, World!", "Café 123", "数据去重 ok", "a\u0301\u0301 b", "İstanbul", "\xff\xfe bad utf8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, starts := simplify(nil, nil, s)
		if len(out) > 0 && (out[0] == ' ' || out[len(out)-1] == ' ') || strings.Contains(string(out), "  ") {
			t.Fatalf("simplify(%q) = %q: stray spaces", s, out)
		}
		if len(starts) != len(strings.Split(string(out), " ")) && len(out) > 0 {
			t.Fatalf("simplify(%q) = %q: %d starts", s, out, len(starts))
		}
		for i, st := range starts {
			if st > 0 && out[st-1] != ' ' || i == 0 && st != 0 {
				t.Fatalf("simplify(%q) = %q: start %d at %d", s, out, i, st)
			}
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1GiB", "512mb", "3", "1.5t", "", "-1", "1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n <= 0 {
			t.Fatalf("ParseSize(%q) = %d without error", s, n)
		}
	})
}

// TestFilterDetectsMisalignedReplay: a Filter pass that does not see the
// Observe pass's documents is reported at Close, not silently misapplied.
func TestFilterDetectsMisalignedReplay(t *testing.T) {
	e, _ := NewExact(ExactConfig{Key: "text", Memory: "16MiB"})
	dir := t.TempDir()
	docs := []*pipeline.Document{{ID: "a", Text: "x"}, {ID: "b", Text: "x"}}
	runStage(t, e, dir, [][]*pipeline.Document{docs}, 1)
	for _, replay := range [][]*pipeline.Document{
		{{ID: "z", Text: "x"}, {ID: "b", Text: "x"}}, // other document first
		{{ID: "a", Text: "x"}},                       // one document short
	} {
		f, err := e.Filter(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range replay {
			f.Apply(d)
		}
		if err := f.Close(); err == nil {
			t.Errorf("replay %v: no error", replay)
		}
	}
}

// refLightNormalize is the rune-by-rune form lightNormalize replaced.
// lightNormalize returns the form exact and line dedup hash: Unicode NFC,
// lowercase, runs of white space collapsed to one space, trimmed. It keeps
// punctuation and digits, so "page 1" and "page 2" stay distinct.
func refLightNormalize(b *strings.Builder, s string) string {
	b.Reset()
	s = norm.NFC.String(s)
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func checkLightNormalize(t *testing.T, s string) {
	t.Helper()
	var a, b strings.Builder
	if got, want := lightNormalize(&a, s), refLightNormalize(&b, s); got != want {
		t.Fatalf("lightNormalize(%q) = %q, reference %q", s, got, want)
	}
}

func TestLightNormalizeMatchesReference(t *testing.T) {
	for _, s := range []string{"", " ", "  Hello,  WORLD\t\n x ", "ÀB\u00a0C\u0085d\u2003E", "e\u0301 É", "\xff\xfeA b", "ABC", "a\vb\fc\rd",
		"Ünïcödé   TEXT\n\npage 1", "İstanbul ΣΑΣ", "tab\there", " lead", "trail "} {
		checkLightNormalize(t, s)
	}
	// Every ASCII byte, alone and between letters.
	for c := range 128 {
		checkLightNormalize(t, string(rune(c)))
		checkLightNormalize(t, "a"+string(rune(c))+"B "+string(rune(c)))
	}
}

func FuzzLightNormalize(f *testing.F) {
	f.Add("  Hello,  WORLD\t\n x ")
	f.Add("ÀB\u00a0C\u0085d e\u0301 \xff")
	f.Fuzz(checkLightNormalize)
}
