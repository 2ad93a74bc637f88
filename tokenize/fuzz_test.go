package tokenize

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kilnlm/kiln/internal/shareddata"
	"golang.org/x/text/unicode/norm"
)

// smallTokenizerJSON trains a tiny tokenizer (no shared data needed) for
// fuzz seeds and round trips.
func smallTokenizerJSON(t testing.TB, pre string) []byte {
	t.Helper()
	tr, err := NewTrainer(TrainOptions{VocabSize: 400, PreTokenizer: pre, SpecialTokens: []string{"<|endoftext|>", "<s>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"the cat sat on the mat", "The 2024 results: 12.5% better!", "  indented\n\tcode() {}\n", "naïve café 東京 Привет"} {
		for i := 0; i < 3; i++ {
			tr.Add(d)
		}
	}
	res, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := res.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParse feeds arbitrary bytes to the tokenizer.json loader: it must
// return an error or a tokenizer that encodes and decodes without panics.
func FuzzParse(f *testing.F) {
	f.Add(smallTokenizerJSON(f, PreGPT2))
	f.Add(smallTokenizerJSON(f, PreQwen2))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","a"]]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Isolated"}}`))
	f.Add([]byte(`{"added_tokens":[{"id":5,"content":"<x>","lstrip":true,"rstrip":true,"single_word":true}],"model":{"vocab":{"a":0}},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "hello world", " <x> a<x>b ", "<|endoftext|>12 345", "\xff\xfe ok"} {
			ids := tk.Encode(s, nil)
			if _, err := tk.Decode(ids, false, nil); err != nil {
				t.Fatalf("decode of own ids failed: %v", err)
			}
		}
	})
}

// FuzzRoundTrip checks decode(encode(x)) == x for arbitrary bytes with a
// tokenizer without normalizer (byte-level BPE is lossless, invalid UTF-8
// included: each invalid byte is a one-byte symbol), and == NFC(x) for
// Qwen3's NFC normalizer on valid UTF-8. It also checks the scanners'
// pieces tile the input.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "  x\n\n  y  ", "it's I'LL 'Ve", "12345 ١٢٣", "e\u0301 Å", "\xff\xfe\x80", "<|endoftext|> <s>", "a\u00a0\u2003b\r\n\r\nc", "ſ 's 'ſ"} {
		f.Add(s)
	}
	var toks []*Tokenizer
	for _, pre := range PreTokenizers {
		tk, err := Parse(smallTokenizerJSON(f, pre))
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tk)
	}
	var qwen *Tokenizer
	if _, ok := shareddata.Find(); ok {
		toks = append(toks, loadShipped(f, "smollm2"), loadShipped(f, "gpt2"))
		qwen = loadShipped(f, "qwen3")
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range toks {
			if !tk.HasAllBytes() && !coversBytes(tk, s) {
				continue // SmolLM2 lacks 21 byte tokens; HF drops those bytes too
			}
			back, err := tk.Decode(tk.Encode(s, nil), false, nil)
			if err != nil || string(back) != s {
				t.Fatalf("round trip of %q gave %q (%v)", s, back, err)
			}
			for _, sp := range tk.pre {
				n := 0
				for _, p := range sp.split(s, nil) {
					if p == "" || !strings.HasPrefix(s[n:], p) {
						t.Fatalf("pieces of %q do not tile it", s)
					}
					n += len(p)
				}
				if n != len(s) {
					t.Fatalf("pieces of %q cover %d bytes", s, n)
				}
			}
		}
		if qwen != nil && utf8.ValidString(s) {
			back, err := qwen.Decode(qwen.Encode(s, nil), false, nil)
			if want := norm.NFC.String(s); err != nil || string(back) != want {
				t.Fatalf("qwen3 round trip of %q gave %q, want NFC %q", s, back, want)
			}
		}
	})
}

func coversBytes(tk *Tokenizer, s string) bool {
	for i := 0; i < len(s); i++ {
		if tk.model.byteID[s[i]] < 0 {
			return false
		}
	}
	return true
}

// FuzzFusedDigits checks that the fused Digits+ByteLevel scanner cuts text
// exactly as the two pre-tokenizers applied one after the other.
func FuzzFusedDigits(f *testing.F) {
	for _, s := range []string{"a 1", "x  12 y", "\t3\n 4 ", "'s1's", "٣ ٤a", " 1 ", "ab12cd  34  "} {
		f.Add(s)
	}
	c := newClassifier()
	seq := []splitter{digitsSplitter{c, true}, gpt2Scanner{c: c}}
	fused := fuse(seq)
	if len(fused) != 1 {
		f.Fatal("not fused")
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want []string
		for _, p := range seq[0].split(s, nil) {
			want = seq[1].split(p, want)
		}
		got := fused[0].split(s, nil)
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Fatalf("%q: fused %q, sequential %q", s, got, want)
		}
	})
}

// FuzzBPEPaths checks that the short-word path and the heap path of BPE
// merge identically (the exactness tests cover the heap path on long
// pieces and the short path on the rest).
func FuzzBPEPaths(f *testing.F) {
	for _, s := range []string{"hello", " the", "aaaaaaaa", "    ", "naïve", "ĠĠĠ", "12345678901234567890123"} {
		f.Add(s)
	}
	var toks []*Tokenizer
	if _, ok := shareddata.Find(); ok {
		toks = append(toks, loadShipped(f, "smollm2"), loadShipped(f, "qwen3"))
	}
	tk, err := Parse(smallTokenizerJSON(f, PreGPT2))
	if err != nil {
		f.Fatal(err)
	}
	toks = append(toks, tk)
	f.Fuzz(func(t *testing.T, word string) {
		if len(word) > smallWord {
			word = word[:smallWord]
		}
		for _, tk := range toks {
			small, ok := tk.model.encodeSmall(word, nil)
			if !ok {
				continue
			}
			heap := tk.model.encodeHeap(word, &bpeScratch{}, nil)
			if !slices.Equal(small, heap) {
				t.Fatalf("%q: short path %v, heap path %v", word, small, heap)
			}
		}
	})
}
