package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchFiltersChainAndRun(t *testing.T) {
	reg := newRegistry()
	chain, desc, err := recipeChain(reg, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range chain {
		names = append(names, s.Name())
	}
	// The shipped web recipe's per-document stages, dedup left out.
	if got, want := strings.Join(names, ","), "url,gopher_repetition,gopher_quality,c4_quality,fineweb_quality,language,pii"; got != want {
		t.Fatalf("web recipe chain %s (%s), want %s", got, desc, want)
	}
	if _, _, err := recipeChain(reg, "", []string{"gopher_quality.min_doc_words=x"}); err == nil {
		t.Fatal("a bad --set was accepted")
	}

	good := "The committee met on Tuesday and agreed that the new library would open in the spring. " +
		"Students had asked for longer hours during the examination weeks, and the board listened to them. " +
		"Several members worried about the cost of heating such a large building through the winter. " +
		"A local architect explained how the roof would collect rain for the gardens around the entrance. " +
		"After a long debate, the treasurer proposed a modest fee for visitors from outside the county. " +
		"That idea was rejected, because the founders wanted the reading rooms to be open to everyone. " +
		"The mayor thanked the volunteers who had catalogued thousands of donated books over the summer. " +
		"Construction is expected to finish before the first snow, weather permitting, with a party to follow."
	in := filepath.Join(t.TempDir(), "docs.jsonl")
	lines := `{"id":"a","text":"` + good + `","url":"https://example.org/a"}` + "\n" +
		`{"id":"b","text":"too short"}` + "\n" +
		`{"id":"c","text":"Der Ausschuss traf sich am Dienstag und beschloss, dass die neue Bibliothek im Frühjahr mit längeren Öffnungszeiten für Studierende öffnen wird. ` + strings.Repeat("Die Stadt freut sich sehr darauf und die Bürger auch. ", 12) + `"}` + "\n"
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, err := loadBenchDocs(context.Background(), []string{in})
	if err != nil || len(docs) != 3 {
		t.Fatalf("loaded %d docs: %v", len(docs), err)
	}
	r := runBenchChain(docs, chain, 100_000)
	if r.bytes < 100_000 || r.docs%3 != 0 || r.counts.docs != r.docs {
		t.Fatalf("replicated to %d bytes, %d docs (counted %d)", r.bytes, r.docs, r.counts.docs)
	}
	dropped := 0
	for _, n := range r.counts.dropped {
		dropped += n
	}
	if r.counts.kept+dropped != r.docs || r.counts.kept != r.docs/3 {
		t.Fatalf("kept %d + dropped %d of %d docs (want the English page kept, the others dropped): %v", r.counts.kept, dropped, r.docs, r.counts.dropped)
	}
	if r.counts.dropped["gopher_repetition/top_2_gram"] != r.docs/3 { // "too short" is one 2-gram
		t.Fatalf("drops %v", r.counts.dropped)
	}
	// The replicas were fresh documents: the originals are unchanged.
	if docs[0].text != good || docs[0].meta["url"] != "https://example.org/a" {
		t.Fatal("bench mutated its source documents")
	}
}
