package filters

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
)

func TestLanguage(t *testing.T) {
	en, _ := NewLanguage(*DefaultLanguageConfig())
	fr, err := NewLanguage(LanguageConfig{Languages: []string{"fr"}, LanguageThreshold: 0.65})
	if err != nil {
		t.Fatal(err)
	}
	english := "The committee met on Tuesday to discuss the new budget, and most members agreed that the plan was reasonable."
	french := "Le comité s'est réuni mardi pour discuter du nouveau budget, et la plupart des membres ont convenu que le plan était raisonnable."
	runCases(t, en, []filterCase{
		{"english_kept", english, nil, ""},
		{"language", french, nil, "language"},
		{"language_no_letters", "1234 5678 !!!", nil, "language"},
	})
	runCases(t, fr, []filterCase{{"french_kept", french, nil, ""}, {"language_en_in_fr", english, nil, "language"}})
	d := docOf(english)
	en.Apply(d)
	if d.Meta["language"] != "en" || d.Meta["language_score"].(float64) <= 0.65 {
		t.Errorf("metadata %v", d.Meta)
	}
	// Threshold: a score just at the threshold is dropped (datatrove keeps
	// scores strictly above it); just under 1.0 with threshold 0.99 keeps.
	hi, _ := NewLanguage(LanguageConfig{Languages: []string{"en"}, LanguageThreshold: 1})
	runCases(t, hi, []filterCase{{"language_at_threshold", english, nil, "language"}})
	if _, err := NewLanguage(LanguageConfig{Languages: []string{"xx"}}); err == nil {
		t.Error("unknown code accepted")
	}
}

// multilingualLabels are the expected languages of the natural-language
// strings in multilingual_inputs.json (the file has ids, not labels; ids
// name the language; mixed-script, code and symbol strings are left out).
var multilingualLabels = map[string]string{
	"cyrillic-greeting": "ru", "cyrillic-prose": "ru", "greek-greeting": "el",
	"cjk-simplified-greeting": "zh", "cjk-simplified-prose": "zh", "cjk-traditional-compare": "zh", "cjk-traditional-hongkong": "zh",
	"japanese-voiced-kana-greeting": "ja", "japanese-voiced-kana-prose": "ja",
	"hangul-syllables-greeting": "ko", "hangul-syllables-prose": "ko",
	"arabic-greeting": "ar", "arabic-prose": "ar", "hebrew-greeting": "he",
	"devanagari-hindi": "hi", "thai-combining-marks-greeting": "th", "thai-combining-marks-prose": "th",
	"german-compound-short": "de", "german-compound-long-1": "de", "german-compound-long-2": "de",
	"german-compound-long-3": "de", "german-compound-long-4": "de", "german-compound-long-5": "de",
}

func TestLanguageAccuracyMultilingual(t *testing.T) {
	b, err := os.ReadFile(shareddata.Path(t, "tokenizers", "groundtruth", "multilingual_inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var items []struct{ ID, Text string }
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatal(err)
	}
	l, _ := NewLanguage(*DefaultLanguageConfig())
	right, total := 0, 0
	for _, it := range items {
		want, ok := multilingualLabels[it.ID]
		if !ok {
			continue
		}
		total++
		got, score := l.Detect(it.Text)
		if got == want {
			right++
		} else {
			t.Logf("%s: got %s (%.2f), want %s", it.ID, got, score, want)
		}
	}
	acc := float64(right) / float64(total)
	t.Logf("multilingual accuracy %d/%d = %.3f", right, total, acc)
	if total != len(multilingualLabels) {
		t.Errorf("found %d labelled strings, want %d", total, len(multilingualLabels))
	}
	if acc < 0.9 {
		t.Errorf("accuracy %.3f below 0.9", acc)
	}
}

func TestLanguageWebCorpus(t *testing.T) {
	l, _ := NewLanguage(*DefaultLanguageConfig())
	docs := webDocs(t)
	en, kept := 0, 0
	for _, s := range docs {
		d := docOf(s)
		if l.Apply(d) == "" {
			kept++
		}
		if d.Meta["language"] == "en" {
			en++
		}
	}
	t.Logf("web corpus: %d docs, top language en %d (%.3f), kept at 0.65 %d (%.3f)", len(docs), en, float64(en)/float64(len(docs)), kept, float64(kept)/float64(len(docs)))
	// The corpora are English web text (CCNet en head, DCLM).
	if float64(en)/float64(len(docs)) < 0.95 {
		t.Errorf("only %d of %d English web documents identified as en", en, len(docs))
	}
}
