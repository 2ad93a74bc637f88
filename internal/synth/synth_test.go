package synth

import (
	"bytes"
	"strings"
	"testing"
)

func TestWebDeterministicAndPlanted(t *testing.T) {
	a, b := New(7).Web(DefaultWeb(2000)), New(7).Web(DefaultWeb(2000))
	var ba, bb bytes.Buffer
	if err := WriteJSONL(&ba, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONL(&bb, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Fatal("same seed gave different corpora")
	}
	c := New(8).Web(DefaultWeb(2000))
	if c[10].Text == a[10].Text && c[11].Text == a[11].Text {
		t.Fatal("different seeds gave the same documents")
	}
	counts := map[Kind]int{}
	for _, d := range a {
		counts[d.Kind]++
		if d.Kind == KindNearDup && d.DupOf == "" {
			t.Fatalf("%s: near-duplicate without a source", d.ID)
		}
	}
	opt := DefaultWeb(2000)
	for kind, want := range map[Kind]float64{KindJunk: opt.Junk, KindBoilerplate: opt.Boilerplate, KindForeign: opt.Foreign} {
		got := float64(counts[kind]) / 2000
		if got < want*0.6 || got > want*1.4 {
			t.Errorf("%s: planted fraction %.3f, want about %.3f", kind, got, want)
		}
	}
	if counts[KindGood] < 800 || counts[KindNearDup] < 100 {
		t.Errorf("too few good (%d) or near-duplicate (%d) documents", counts[KindGood], counts[KindNearDup])
	}
}

func TestMathContaminationQuotesEvalSet(t *testing.T) {
	eval := EvalSet(1, 50)
	docs := New(3).Math(MathOptions{Docs: 1000, Contaminated: 0.05, Junk: 0.05}, eval)
	contaminated := 0
	for _, d := range docs {
		switch d.Kind {
		case KindContaminate:
			contaminated++
			found := false
			for _, e := range eval {
				if strings.Contains(d.Text, e["problem"]) {
					found = true
				}
			}
			if !found {
				t.Fatalf("%s: contaminated document quotes no eval problem", d.ID)
			}
		case KindMath:
			if !strings.Contains(d.Text, "$") {
				t.Fatalf("%s: math document without LaTeX: %q", d.ID, d.Text)
			}
			for _, e := range eval {
				if strings.Contains(d.Text, e["problem"]) {
					t.Fatalf("%s: clean math document quotes an eval problem", d.ID)
				}
			}
		}
	}
	if contaminated < 20 || contaminated > 90 {
		t.Fatalf("contaminated documents: %d of 1000, want about 50", contaminated)
	}
}
