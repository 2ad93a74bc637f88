package tokenize

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestAddedTokenFlags replays the behaviours Hugging Face's
// AddedVocabulary tests pin down for single_word, lstrip and rstrip.
func TestAddedTokenFlags(t *testing.T) {
	cases := []struct {
		name  string
		tok   addedToken
		input string
		want  []string // added-token segments written as [text]
	}{
		{"single_word", addedToken{id: 9, content: "<mask>", singleWord: true},
			"<mask> My name <mask> A<mask> <mask>ony <mask>",
			[]string{"[<mask>]", " My name ", "[<mask>]", " A<mask> <mask>ony ", "[<mask>]"}},
		{"single_word_unicode", addedToken{id: 9, content: "<mask>", singleWord: true},
			"<mask>, <mask>- \u25cc\u0330<mask>",
			[]string{"[<mask>]", ", ", "[<mask>]", "- \u25cc\u0330<mask>"}},
		{"lstrip_rstrip_unicode_space", addedToken{id: 9, content: "<mask>", singleWord: true, lstrip: true, rstrip: true},
			"Hi <mask> there\t<mask>\t<mask>\u2000",
			[]string{"Hi", "[ <mask> ]", "there", "[\t<mask>\t]", "[<mask>\u2000]"}},
		{"lstrip_only", addedToken{id: 9, content: "<mask>", lstrip: true},
			"I saw a <mask> x",
			[]string{"I saw a", "[ <mask>]", " x"}},
		{"leftmost_longest", addedToken{id: 9, content: "<|a|>"},
			"x<|a|><|a|>y<|a",
			[]string{"x", "[<|a|>]", "[<|a|>]", "y<|a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newAddedMatcher([]addedToken{c.tok})
			var got []string
			for _, s := range m.split(c.input, nil) {
				if s.id >= 0 {
					got = append(got, "["+s.text+"]")
				} else {
					got = append(got, s.text)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestLongestAddedTokenWins(t *testing.T) {
	m := newAddedMatcher([]addedToken{{id: 1, content: "<a>"}, {id: 2, content: "<a>b"}, {id: 3, content: "c"}})
	var ids []int32
	for _, s := range m.split("x<a>bc<a>", nil) {
		ids = append(ids, s.id)
	}
	if !slices.Equal(ids, []int32{-1, 2, 3, 1}) {
		t.Fatalf("got %v", ids)
	}
}

func TestEncodeBatchMatchesSequential(t *testing.T) {
	tk := loadShipped(t, "qwen3")
	var texts []string
	for i := 0; i < 300; i++ {
		texts = append(texts, fmt.Sprintf("Document %d: %s", i, strings.Repeat("naïve café 東京 ", i%7)))
	}
	got, err := tk.EncodeBatch(context.Background(), texts, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		if !slices.Equal(got[i], tk.Encode(s, nil)) {
			t.Fatalf("text %d differs", i)
		}
	}
}

func TestUnknownPatternRejected(t *testing.T) {
	js := `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\p{L}+|\\d{1,2}"},"behavior":"Isolated","invert":false}}`
	_, err := Parse([]byte(js))
	if err == nil || !strings.Contains(err.Error(), `\\p{L}+|\\d{1,2}`) {
		t.Fatalf("want an error naming the pattern, got %v", err)
	}
	for _, bad := range []string{
		`{"model":{"type":"WordPiece","vocab":{"a":0}}}`,
		`{"model":{"type":"BPE","vocab":{"a":0}},"normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0}},"pre_tokenizer":{"type":"Whitespace"}}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestIgnoreMerges(t *testing.T) {
	for _, c := range []struct {
		ignore bool
		want   []int32
	}{{false, []int32{0, 3}}, {true, []int32{4}}} {
		js := fmt.Sprintf(`{"model":{"type":"BPE","ignore_merges":%t,"vocab":{"a":0,"b":1,"c":2,"bc":3,"abc":4},"merges":[["b","c"]]},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}}`, c.ignore)
		tk, err := Parse([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		if got := tk.Encode("abc", nil); !slices.Equal(got, c.want) {
			t.Errorf("ignore_merges=%t: got %v want %v", c.ignore, got, c.want)
		}
	}
}

func TestTemplateProcessing(t *testing.T) {
	js := `{"added_tokens":[{"id":3,"content":"<s>","special":true},{"id":4,"content":"</s>","special":true}],
	"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},
	"pre_tokenizer":{"type":"ByteLevel","use_regex":true},
	"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],
	  "special_tokens":{"<s>":{"id":"<s>","ids":[3],"tokens":["<s>"]},"</s>":{"id":"</s>","ids":[4],"tokens":["</s>"]}}}}`
	tk, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.EncodeSpecial("ab", nil); !slices.Equal(got, []int32{3, 2, 4}) {
		t.Fatalf("EncodeSpecial: %v", got)
	}
	if got := tk.Encode("ab<s>", nil); !slices.Equal(got, []int32{2, 3}) {
		t.Fatalf("Encode: %v", got)
	}
	if s, _ := tk.DecodeString([]int32{3, 2, 4}, true); s != "ab" {
		t.Fatalf("skip-special decode %q", s)
	}
	if tk.BOS() != 3 || tk.EOS() != 4 {
		t.Fatalf("bos %d eos %d", tk.BOS(), tk.EOS())
	}
}
