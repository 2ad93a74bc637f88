package dedup

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/pipeline"
)

// loadRealDocs reads up to n documents of at least minWords words from the
// shared corpus: DCLM web pages, then MATH problems with their solutions.
func loadRealDocs(t testing.TB, n, minWords int) []string {
	t.Helper()
	var out []string
	add := func(path string, text func(map[string]any) string) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for line := 1; sc.Scan() && len(out) < n; line++ {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s line %d: %v", path, line, err)
			}
			if s := text(m); len(strings.Fields(s)) >= minWords {
				out = append(out, s)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	add(shareddata.Path(t, "corpus", "web", "dclm_labeled.jsonl"), func(m map[string]any) string { return str(m, "text") })
	add(shareddata.Path(t, "corpus", "math", "math_test.jsonl"), func(m map[string]any) string {
		return str(m, "problem") + "\n\n" + str(m, "solution")
	})
	return out
}

// nearCopy derives a copy of text whose 5-gram Jaccard similarity is near
// target, by one of four operations: edit (replace words), insert words,
// delete words, or shuffle paragraphs and then edit. Changing a fraction r of
// the words keeps about (1-r)^5 of the shingles, and J = s/(2-s) for a
// surviving fraction s, which gives r.
func nearCopy(rng *rand.Rand, text string, target float64, op int, vocab []string) string {
	s := 2 * target / (1 + target)
	r := 1 - math.Pow(s, 1.0/5)
	if op == 3 {
		paras := strings.Split(text, "\n")
		rng.Shuffle(len(paras), func(i, j int) { paras[i], paras[j] = paras[j], paras[i] })
		text = strings.Join(paras, "\n")
		op = 0
	}
	words := strings.Fields(text)
	out := make([]string, 0, len(words)+len(words)/4)
	for _, w := range words {
		if rng.Float64() >= r {
			out = append(out, w)
			continue
		}
		switch op {
		case 0: // edit
			out = append(out, vocab[rng.IntN(len(vocab))])
		case 1: // insert
			out = append(out, w, vocab[rng.IntN(len(vocab))])
		case 2: // delete
		}
	}
	return strings.Join(out, " ")
}

func jaccard(a, b map[uint64]struct{}) float64 {
	if len(a) > len(b) {
		a, b = b, a
	}
	inter := 0
	for k := range a {
		if _, ok := b[k]; ok {
			inter++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// runStage drives a GlobalStage the way the executor does: Observe every
// task, Build, then Filter the same documents in the same order.
func runStage(t testing.TB, g pipeline.GlobalStage, dir string, tasks [][]*pipeline.Document, workers int) []string {
	t.Helper()
	for i, docs := range tasks {
		o, err := g.Observe(dir, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if err := o.Add(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Build(context.Background(), dir, len(tasks), workers); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for i, docs := range tasks {
		f, err := g.Filter(dir, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			reasons = append(reasons, f.Apply(d))
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return reasons
}

func sCurve(j float64, bands, rows int) float64 {
	return 1 - math.Pow(1-math.Pow(j, float64(rows)), float64(bands))
}

// TestMinHashQuality plants near-copies of real documents at controlled
// Jaccard similarities, measures the true Jaccard by brute force on the
// 5-gram sets and checks the stage's clusters against it: recall for
// J >= 0.8, false positives for J <= 0.5, and the detection probability
// of the LSH bands against the theoretical S-curve 1-(1-J^8)^14.
func TestMinHashQuality(t *testing.T) {
	nBase := 1600
	if testing.Short() {
		nBase = 600
	}
	bases := loadRealDocs(t, nBase, 60)
	rng := rand.New(rand.NewPCG(42, 4))
	var vocab []string
	for _, b := range bases[:50] {
		vocab = append(vocab, strings.Fields(b)...)
	}
	type pair struct {
		a, b int // corpus positions
		j    float64
		op   int
	}
	var docs []string
	var pairs []pair
	for i, b := range bases {
		target := 0.3 + 0.7*rng.Float64()
		docs = append(docs, b, nearCopy(rng, b, target, i%4, vocab))
		pairs = append(pairs, pair{a: 2 * i, b: 2*i + 1, op: i % 4})
	}
	// Unrelated pairs: documents derived from different bases.
	for k := 0; k < 2000; k++ {
		a, b := rng.IntN(len(docs)), rng.IntN(len(docs))
		if a/2 != b/2 {
			pairs = append(pairs, pair{a: a, b: b, op: -1})
		}
	}
	p := DefaultMinHashParams()
	h, err := NewHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	sets := make([]map[uint64]struct{}, len(docs))
	keys := make([][]uint64, len(docs))
	for i, d := range docs {
		sets[i] = h.Shingles(d)
		sig, _ := h.Signature(d)
		keys[i] = make([]uint64, p.Bands)
		h.BandKeys(sig, keys[i])
	}
	for i := range pairs {
		pairs[i].j = jaccard(sets[pairs[i].a], sets[pairs[i].b])
	}

	// Shuffle the corpus so copies sometimes come before their originals,
	// and split it into three tasks.
	perm := rng.Perm(len(docs))
	var tasks [][]*pipeline.Document
	for k, i := range perm {
		if k%(len(docs)/3+1) == 0 {
			tasks = append(tasks, nil)
		}
		tasks[len(tasks)-1] = append(tasks[len(tasks)-1], &pipeline.Document{ID: fmt.Sprintf("d%05d", i), Text: docs[i]})
	}
	m, err := NewMinHash(*DefaultMinHashConfig())
	if err != nil {
		t.Fatal(err)
	}
	runStage(t, m, t.TempDir(), tasks, 2)
	cluster := make([]string, len(docs)) // kept id of each doc's cluster
	for _, task := range tasks {
		for _, d := range task {
			c := d.MetaString("minhash_cluster")
			if c == "" {
				c = d.ID
			}
			var i int
			fmt.Sscanf(d.ID, "d%05d", &i)
			cluster[i] = c
		}
	}

	var hi, hiHit, lo, loHit, loVar, loVarHit int
	type bin struct {
		n, band, stage int
		theory         float64
	}
	centers := []float64{0.5, 0.7, 0.8, 0.9}
	bins := make([]bin, len(centers))
	for _, pr := range pairs {
		same := cluster[pr.a] == cluster[pr.b]
		band := false
		for x := range keys[pr.a] {
			if keys[pr.a][x] == keys[pr.b][x] {
				band = true
			}
		}
		if pr.j >= 0.8 {
			hi++
			if same {
				hiHit++
			}
		}
		if pr.j <= 0.5 {
			lo++
			if same {
				loHit++
			}
			if pr.op >= 0 {
				loVar++
				if same {
					loVarHit++
				}
			}
		}
		for c, center := range centers {
			if math.Abs(pr.j-center) < 0.025 {
				b := &bins[c]
				b.n++
				b.theory += sCurve(pr.j, p.Bands, p.Rows)
				if band {
					b.band++
				}
				if same {
					b.stage++
				}
			}
		}
	}
	recall := float64(hiHit) / float64(hi)
	fpr := float64(loHit) / float64(lo)
	fprVar := float64(loVarHit) / float64(loVar)
	t.Logf("corpus: %d real documents + %d near-copies; %d pairs with true J >= 0.8, %d with J <= 0.5 (%d of them copy pairs)", len(bases), len(bases), hi, lo, loVar)
	t.Logf("recall J>=0.8: %.3f (goal >= 0.9); false-positive rate J<=0.5: %.4f overall, %.4f on copy pairs (goal <= 0.05)", recall, fpr, fprVar)
	t.Logf("%-6s %6s %12s %12s %12s", "J", "pairs", "theory", "band match", "same cluster")
	for c, b := range bins {
		if b.n == 0 {
			t.Logf("%-6.2f %6d", centers[c], 0)
			continue
		}
		t.Logf("%-6.2f %6d %12.3f %12.3f %12.3f", centers[c], b.n, b.theory/float64(b.n), float64(b.band)/float64(b.n), float64(b.stage)/float64(b.n))
	}
	if hi < 100 || loVar < 100 {
		t.Fatalf("too few pairs to judge: %d high, %d low", hi, loVar)
	}
	if recall < 0.9 {
		t.Errorf("recall for J >= 0.8 = %.3f, want >= 0.9", recall)
	}
	if fprVar > 0.05 || fpr > 0.05 {
		t.Errorf("false-positive rate for J <= 0.5 = %.4f (copy pairs %.4f), want <= 0.05", fpr, fprVar)
	}
	// The measured band-match rate must follow the S-curve: within 4
	// standard errors in every bin with enough pairs.
	for c, b := range bins {
		if b.n < 30 {
			continue
		}
		th := b.theory / float64(b.n)
		got := float64(b.band) / float64(b.n)
		se := math.Sqrt(math.Max(th*(1-th), 0.01) / float64(b.n))
		if math.Abs(got-th) > 4*se+0.02 {
			t.Errorf("J=%.2f: band-match rate %.3f, theory %.3f (n=%d)", centers[c], got, th, b.n)
		}
	}
}
