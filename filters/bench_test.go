package filters

import (
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/cputime"
	"github.com/kilnlm/kiln/pipeline"
)

// benchCorpus returns the real web texts (DCLM labelled + CCNet heads)
// replicated, as fresh copies, to at least minBytes.
func benchCorpus(b *testing.B, minBytes int) ([]string, int64) {
	b.Helper()
	var base []string
	readJSONL(b, shareddataWeb(b, "dclm_labeled.jsonl"), func(rec map[string]any) { base = append(base, rec["text"].(string)) })
	for _, f := range []string{"cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"} {
		readJSONL(b, shareddataWeb(b, f), func(rec map[string]any) { base = append(base, rec["text"].(string)) })
	}
	var out []string
	var total int64
	for total < int64(minBytes) {
		for _, s := range base {
			// Clone so the replicas are distinct memory, as a real stream is.
			out = append(out, strings.Clone(s))
			total += int64(len(s))
		}
	}
	return out, total
}

func benchChain(b *testing.B, chain []pipeline.Stage, minBytes int) {
	docs, total := benchCorpus(b, minBytes)
	b.SetBytes(total)
	b.ResetTimer()
	kept := 0
	cpu0 := cputime.Process()
	for b.Loop() {
		kept = 0
		for _, s := range docs {
			d := &pipeline.Document{Text: s}
			if runChain(chain, d) == "" {
				kept++
			}
		}
	}
	cpu := (cputime.Process() - cpu0).Seconds()
	b.ReportMetric(float64(kept)/float64(len(docs)), "keep_rate")
	// The machine is shared: MB per CPU-second of this process (user+sys,
	// GC included) is the per-core figure that wall time hides under load.
	b.ReportMetric(float64(total)*float64(b.N)/1e6/cpu, "MB/cpu-s")
}

// BenchmarkWebChain measures the default web chain's heuristic filters
// (url, gopher_repetition, gopher_quality, c4_quality, fineweb_quality,
// pii) on one core over the real web corpora replicated to 200 MB.
func BenchmarkWebChain(b *testing.B) {
	benchChain(b, buildChain(b, webHeuristics()), 200<<20)
}

// BenchmarkWebChainWithLanguage is the default web chain: the heuristics
// plus language identification (whatlanggo's model, Kiln's scorer) on the
// survivors, over the same 200 MB.
func BenchmarkWebChainWithLanguage(b *testing.B) {
	benchChain(b, buildChain(b, webChain()), 200<<20)
}

// BenchmarkFilter measures each filter alone on 20 MB of web text.
func BenchmarkFilter(b *testing.B) {
	for _, st := range []chainStep{
		{"url", pipeline.Params{"banned_words": "porn,casino", "soft_banned_words": "sex,xxx,cam", "banned_subwords": "casino"}},
		{"language", nil}, {"gopher_repetition", nil}, {"gopher_quality", nil},
		{"c4_quality", nil}, {"c4_paragraph", nil}, {"fineweb_quality", nil},
		{"code", nil}, {"math", nil}, {"pii", nil},
	} {
		b.Run(st.name, func(b *testing.B) { benchChain(b, buildChain(b, []chainStep{st}), 20<<20) })
	}
}

// BenchmarkWebChainSmall is BenchmarkWebChain on 20 MB, for profiling.
func BenchmarkWebChainSmall(b *testing.B) {
	benchChain(b, buildChain(b, webHeuristics()), 20<<20)
}
