package pipeline

import (
	"strings"
	"testing"
)

type testCfg struct {
	MinWords int             `param:"min_doc_words" help:"minimum words"`
	Ratio    float64         `param:"max_symbol_word_ratio"`
	Langs    []string        `param:"languages"`
	Top      map[int]float64 `param:"top_n_grams"`
	Strict   bool            `param:"strict"`
	internal int
}

func TestDecodeParams(t *testing.T) {
	cases := []struct {
		name    string
		in      Params
		check   func(c testCfg) bool
		wantErr string
	}{
		{"yaml values", Params{"min_doc_words": 40, "max_symbol_word_ratio": 0.2, "languages": []any{"en", "fr"}},
			func(c testCfg) bool {
				return c.MinWords == 40 && c.Ratio == 0.2 && len(c.Langs) == 2 && c.Langs[1] == "fr"
			}, ""},
		{"int into float", Params{"max_symbol_word_ratio": 1}, func(c testCfg) bool { return c.Ratio == 1 }, ""},
		{"strings from --set", Params{"min_doc_words": "7", "strict": "true", "languages": "en,de", "top_n_grams": "2:0.2,3:0.18"},
			func(c testCfg) bool {
				return c.MinWords == 7 && c.Strict && c.Langs[1] == "de" && c.Top[3] == 0.18 && len(c.Top) == 2
			}, ""},
		{"yaml map", Params{"top_n_grams": map[string]any{"2": 0.5}}, func(c testCfg) bool { return c.Top[2] == 0.5 }, ""},
		{"defaults kept", Params{}, func(c testCfg) bool { return c.MinWords == 50 }, ""},
		{"unknown", Params{"min_words": 3}, nil, `unknown parameter "min_words"`},
		{"bad int string", Params{"min_doc_words": "many"}, nil, "want an integer"},
		{"bad yaml type", Params{"min_doc_words": []any{1}}, nil, `parameter "min_doc_words"`},
		{"bad map entry", Params{"top_n_grams": "2=0.2"}, nil, "want key:value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testCfg{MinWords: 50}
			err := DecodeParams(tc.in, &c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("decoded %+v", c)
			}
		})
	}
}

func TestDescribeParams(t *testing.T) {
	docs := DescribeParams(&testCfg{MinWords: 50, Langs: []string{"en"}, Top: map[int]float64{2: 0.2, 3: 0.18}})
	if len(docs) != 5 {
		t.Fatalf("got %d params, want 5 (untagged fields excluded)", len(docs))
	}
	if docs[0].Name != "min_doc_words" || docs[0].Default != "50" || docs[0].Help != "minimum words" {
		t.Fatalf("first param %+v", docs[0])
	}
	if docs[3].Default != "2:0.2,3:0.18" {
		t.Fatalf("map default %q", docs[3].Default)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	r.Add(StepDef{Name: "b", Kind: KindStage, Defaults: func() any { return &testCfg{MinWords: 50} },
		New: func(cfg any) (any, error) { return cfg.(*testCfg).MinWords, nil }})
	r.Add(StepDef{Name: "a", Kind: KindOutput, Defaults: func() any { return &testCfg{} }, New: func(any) (any, error) { return nil, nil }})
	if l := r.List(); len(l) != 2 || l[0].Name != "a" {
		t.Fatalf("list not sorted: %+v", l)
	}
	v, _, err := r.Build("b", Params{"min_doc_words": "9"})
	if err != nil || v.(int) != 9 {
		t.Fatalf("build = %v, %v", v, err)
	}
	if _, _, err := r.Build("c", nil); err == nil || !strings.Contains(err.Error(), `unknown step "c"`) {
		t.Fatalf("unknown step err = %v", err)
	}
	if _, _, err := r.Build("b", Params{"x": 1}); err == nil || !strings.Contains(err.Error(), "step b") {
		t.Fatalf("bad param err = %v", err)
	}
}
