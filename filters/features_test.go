package filters

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/kilnlm/kiln/filters/text"
)

// refFeatures is the straightforward definition of docFeatures that
// computeFeatures must reproduce exactly: FNV-1a of each word's bytes
// finished with mix64, code points per word, words holding a letter, and
// code points in the text.
func refFeatures(s string) *docFeatures {
	f := &docFeatures{text: s, words: text.Words(s), chars: utf8.RuneCountInString(s)}
	for _, w := range f.words {
		h := uint64(14695981039346656037)
		for j := 0; j < len(w); j++ {
			h = (h ^ uint64(w[j])) * 1099511628211
		}
		f.hashes = append(f.hashes, mix64(h))
		f.clen = append(f.clen, int32(utf8.RuneCountInString(w)))
		if text.HasLetter(w) {
			f.alpha++
		}
	}
	return f
}

func checkFeatures(t *testing.T, s string, f *docFeatures) {
	t.Helper()
	want := refFeatures(s)
	if f.text != s || f.chars != want.chars || f.alpha != want.alpha ||
		!slices.Equal(f.words, want.words) || !slices.Equal(f.hashes, want.hashes) || !slices.Equal(f.clen, want.clen) {
		t.Fatalf("computeFeatures(%q):\n got words %q hashes %x clen %v alpha %d chars %d\nwant words %q hashes %x clen %v alpha %d chars %d",
			s, f.words, f.hashes, f.clen, f.alpha, f.chars, want.words, want.hashes, want.clen, want.alpha, want.chars)
	}
}

var featureSeeds = []string{
	"", "a", "Hello, world!", "don't stop 3.14 or 1,000 e.g. a_b __ _x_ 12_34",
	"café résumé 中文是世界 Привет, мир! don’t “quoted” — dash… 1’000",
	"\xff\xfe broken \xc3 utf8 a\xe2\x80 x\x80y",
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789abcdefghijklmnopqrstuvwxyz",
}

// TestComputeFeatures checks computeFeatures against refFeatures, reusing
// one docFeatures across documents as the cache does.
func TestComputeFeatures(t *testing.T) {
	var f *docFeatures
	for _, s := range featureSeeds {
		f = computeFeatures(s, f)
		checkFeatures(t, s, f)
	}
}

func FuzzComputeFeatures(f *testing.F) {
	for _, s := range featureSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFeatures(t, s, computeFeatures(s, nil))
	})
}

// BenchmarkComputeFeatures measures computeFeatures on 20 MB of real web
// text, one document at a time with recycled buffers as the cache does.
func BenchmarkComputeFeatures(b *testing.B) {
	docs, total := benchCorpus(b, 20<<20)
	b.SetBytes(total)
	f := &docFeatures{}
	for b.Loop() {
		for _, s := range docs {
			f = computeFeatures(s, f)
		}
	}
}

// BenchmarkAppendWordsWeb measures word segmentation alone on the same text.
func BenchmarkAppendWordsWeb(b *testing.B) {
	docs, total := benchCorpus(b, 20<<20)
	b.SetBytes(total)
	var buf []string
	for b.Loop() {
		for _, s := range docs {
			buf = text.AppendWords(buf[:0], s)
		}
	}
}

// BenchmarkRuneLenWeb measures the character count of whole documents.
func BenchmarkRuneLenWeb(b *testing.B) {
	docs, total := benchCorpus(b, 20<<20)
	b.SetBytes(total)
	n := 0
	for b.Loop() {
		for _, s := range docs {
			n += runeLen(s)
		}
	}
	_ = n
}
