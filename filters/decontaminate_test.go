package filters

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/shareddata"
)

const evalProblem = "A bag holds seven red marbles and five blue marbles. Two marbles are drawn at random without replacement from the bag. What is the probability that both marbles are red? Express your answer as a common fraction."

func TestDecontaminate(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "eval.jsonl", `{"problem": "`+evalProblem+`", "solution": "short"}`+"\n\n"+`{"question": "unused field only"}`+"\n")
	cfg := DefaultDecontaminateConfig()
	cfg.EvalFile = path
	dc, err := NewDecontaminate(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(evalProblem)
	// Change one word 13 words from the end: the first 13-gram still matches.
	edited := append([]string(nil), words...)
	edited[len(edited)-13] = "CHANGED"
	runCases(t, dc, []filterCase{
		{"decontaminated", "Homework help: " + evalProblem + " Thanks!", nil, "decontaminated"},
		{"decontaminated_case_punct", strings.ToUpper(strings.ReplaceAll(evalProblem, ".", ";")), nil, "decontaminated"},
		{"decontaminated_small_edit", strings.Join(edited, " "), nil, "decontaminated"},
		// 12 consecutive words of the problem are one short of an n-gram.
		{"twelve_words_inside", "intro " + strings.Join(words[:12], " ") + " outro", nil, ""},
		{"thirteen_words", "intro " + strings.Join(words[:13], " ") + " outro", nil, "decontaminated"},
		{"unrelated", "A bag holds seven apples and the farmer sells them at the market every Tuesday morning.", nil, ""},
	})
	if ix := dc.Index(); ix.Records != 2 || ix.Short != 2 {
		t.Errorf("index records %d short %d", ix.Records, ix.Short)
	}
	cfg.Mode = "flag"
	fl, _ := NewDecontaminate(*cfg)
	d := docOf(evalProblem)
	if r := fl.Apply(d); r != "" || d.Meta["contaminated"] != true || d.Meta["contamination_record"] != 1 {
		t.Errorf("flag mode: %q %v", r, d.Meta)
	}
	for _, bad := range []string{`{"problem": "x"`, `[1,2]`, `"str"`} {
		_, err := ParseEvalSet(strings.NewReader("{}\n"+bad+"\n"), "e.jsonl", cfg.Fields, 13)
		if err == nil || !strings.Contains(err.Error(), "e.jsonl line 2") {
			t.Errorf("bad line %q: %v", bad, err)
		}
	}
}

// TestDecontaminateMATH uses the MATH test split as the evaluation set:
// documents embedding its problems verbatim or lightly edited are caught,
// GSM8K (unrelated math) is not.
func TestDecontaminateMATH(t *testing.T) {
	cfg := DefaultDecontaminateConfig()
	cfg.EvalFile = shareddata.Path(t, "corpus", "math", "math_test.jsonl")
	dc, err := NewDecontaminate(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	docs := mathDocs(t)
	var problems []string
	readJSONL(t, cfg.EvalFile, func(rec map[string]any) { problems = append(problems, rec["problem"].(string)) })
	verbatim, edited, eligible := 0, 0, 0
	for i, p := range problems {
		if i%10 != 0 {
			continue
		}
		w := strings.Fields(p)
		if len(w) < 27 { // room for a 13-gram on either side of an edit
			continue
		}
		eligible++
		page := fmt.Sprintf("Question %d from a forum post.\n\n%s\n\nAny hints appreciated!", i, p)
		if dc.Match(page) > 0 {
			verbatim++
		}
		// Small edits: a word changed in the middle, a number changed,
		// whitespace and case changed.
		e := append([]string(nil), w...)
		e[len(e)/2] = "modified"
		ed := strings.ToLower(strings.Join(e, "  "))
		if dc.Match(ed) > 0 {
			edited++
		}
	}
	fp := 0
	for _, s := range docs["gsm8k_train"] {
		if dc.Match(s) > 0 {
			fp++
		}
	}
	t.Logf("MATH problems (>= 27 words, every 10th): %d; caught verbatim %d, edited %d; GSM8K false positives %d/%d",
		eligible, verbatim, edited, fp, len(docs["gsm8k_train"]))
	if eligible == 0 || verbatim != eligible || edited < eligible*95/100 {
		t.Errorf("caught %d verbatim and %d edited of %d", verbatim, edited, eligible)
	}
	if fp > len(docs["gsm8k_train"])/100 {
		t.Errorf("%d GSM8K documents flagged", fp)
	}
}

func FuzzParseEvalSet(f *testing.F) {
	f.Add(`{"problem": "one two three four five"}` + "\n\n{}\n")
	f.Add(`{"problem": 5}`)
	f.Add("not json")
	f.Fuzz(func(t *testing.T, s string) {
		ix, err := ParseEvalSet(strings.NewReader(s), "fuzz", []string{"problem", "answer"}, 3)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz line ") {
				t.Fatalf("error without location: %v", err)
			}
			return
		}
		if ix.Len() > 0 && ix.Records == 0 {
			t.Fatalf("n-grams without records")
		}
	})
}

// TestDecontaminateHumanEvalGz reads the gzipped HumanEval set: its
// prompts are caught inside a code file.
func TestDecontaminateHumanEvalGz(t *testing.T) {
	cfg := DefaultDecontaminateConfig()
	cfg.EvalFile = shareddata.Path(t, "corpus", "code", "humaneval.jsonl.gz")
	cfg.Fields = []string{"prompt", "canonical_solution"}
	dc, err := NewDecontaminate(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	if dc.Index().Records != 164 {
		t.Errorf("records %d, want 164", dc.Index().Records)
	}
	doc := "# utils.py\nfrom typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    \"\"\" Check if in given list of numbers, are any two numbers closer to each other than\n    given threshold.\n"
	if dc.Match(doc) == 0 {
		t.Error("HumanEval prompt not caught")
	}
}
