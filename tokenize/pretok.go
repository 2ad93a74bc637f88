package tokenize

import (
	"fmt"
	"strings"
)

// Known pre-tokenizer regexes. HF tokenizers runs them with Oniguruma,
// which supports the lookahead in \s+(?!\S); Go's RE2 does not, so each
// pattern has a hand-written scanner that returns the same matches.
const (
	// PatternGPT2 is the regex of the ByteLevel pre-tokenizer (use_regex).
	PatternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// PatternLlama3 is the Split regex of Llama-3 and SmolLM3.
	PatternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternQwen2 is the Split regex of Qwen2, Qwen2.5 and Qwen3.
	PatternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// splitter cuts one piece of text into smaller pieces (substrings of s),
// appending them to dst in order; the pieces cover s exactly.
type splitter interface {
	split(s string, dst []string) []string
}

// scannerFor returns the scanner for a known regex, or an error naming the
// pattern.
func scannerFor(pattern string) (splitter, error) {
	c := newClassifier()
	switch pattern {
	case PatternGPT2:
		return gpt2Scanner{c: c}, nil
	case PatternLlama3:
		return llamaScanner{c, 3}, nil
	case PatternQwen2:
		return llamaScanner{c, 1}, nil
	}
	return nil, fmt.Errorf("unsupported pre-tokenizer regex %q: Kiln implements the GPT-2, Llama-3 and Qwen2 patterns exactly and rejects others rather than approximate them", pattern)
}

// contraction returns the length of 's|'t|'re|'ve|'m|'ll|'d matched at the
// start of rest (rest begins after the apostrophe), 0 if none. With fold
// the match is case-insensitive as Oniguruma's (?i:) is, where the long s
// (U+017F) folds to s.
func contraction(rest string, fold bool) int {
	if len(rest) == 0 {
		return 0
	}
	lower := func(b byte) byte {
		if fold && 'A' <= b && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}
	c0 := lower(rest[0])
	switch c0 {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(rest) > 1 && lower(rest[1]) == 'e' {
			return 2
		}
	case 'l':
		if len(rest) > 1 && lower(rest[1]) == 'l' {
			return 2
		}
	case 0xC5:
		if fold && len(rest) > 1 && rest[1] == 0xBF { // ſ
			return 2
		}
	}
	return 0
}

// whitespaceEnd implements the tail alternatives \s+(?!\S)|\s+ for a
// whitespace run starting at i: the whole run when it reaches the end of
// the text, else the run minus its last character (so the last space can
// join the next word), else the single character. With digitEnds a number
// counts as the end of the text (see gpt2Scanner.isolateDigits).
func whitespaceEnd(c classifier, s string, i int, digitEnds bool) int {
	j, last := i, i
	k := uint8(clsOther)
	for j < len(s) {
		var w int
		k, w = c.at(s, j)
		if !isSpaceClass(k) {
			break
		}
		last = j
		j += w
	}
	if j == len(s) || last == i || (digitEnds && k == clsNumber) {
		return j
	}
	return last
}

// gpt2Scanner implements PatternGPT2. With isolateDigits it also does the
// work of a preceding Digits(individual_digits) pre-tokenizer in the same
// pass (SmolLM/SmolLM2): every number character is a piece of its own and
// ends the text the regex sees, so a whitespace run before a digit is
// matched as if at the end of the text.
type gpt2Scanner struct {
	c             classifier
	isolateDigits bool
}

func (g gpt2Scanner) split(s string, dst []string) []string {
	for i := 0; i < len(s); {
		j := g.next(s, i)
		dst = append(dst, s[i:j])
		i = j
	}
	return dst
}

func (g gpt2Scanner) next(s string, i int) int {
	c := g.c
	b := s[i]
	if b == '\'' {
		if n := contraction(s[i+1:], false); n > 0 {
			return i + 1 + n
		}
	}
	if b == ' ' && i+1 < len(s) {
		// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' with the space.
		if k, w := c.at(s, i+1); !isSpaceClass(k) && !(g.isolateDigits && k == clsNumber) {
			return c.runEnd(s, i+1+w, k)
		}
	}
	k, w := c.at(s, i)
	if k == clsNumber && g.isolateDigits {
		return i + w
	}
	if !isSpaceClass(k) {
		return c.runEnd(s, i+w, k)
	}
	return whitespaceEnd(c, s, i, g.isolateDigits)
}

// llamaScanner implements PatternLlama3 (maxDigits 3) and PatternQwen2
// (maxDigits 1).
type llamaScanner struct {
	c         classifier
	maxDigits int
}

func (l llamaScanner) split(s string, dst []string) []string {
	for i := 0; i < len(s); {
		j := l.next(s, i)
		dst = append(dst, s[i:j])
		i = j
	}
	return dst
}

func (l llamaScanner) next(s string, i int) int {
	c := l.c
	b := s[i]
	if b == '\'' {
		if n := contraction(s[i+1:], true); n > 0 {
			return i + 1 + n
		}
	}
	k, w := c.at(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if k == clsLetter {
		return c.runEnd(s, i+w, clsLetter)
	}
	if (k == clsOther || k == clsSpace) && i+w < len(s) {
		if k2, w2 := c.at(s, i+w); k2 == clsLetter {
			return c.runEnd(s, i+w+w2, clsLetter)
		}
	}
	// \p{N}{1,maxDigits}
	if k == clsNumber {
		j := i + w
		for n := 1; n < l.maxDigits && j < len(s); n++ {
			k2, w2 := c.at(s, j)
			if k2 != clsNumber {
				break
			}
			j += w2
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	start := -1
	if k == clsOther {
		start = i + w
	} else if b == ' ' && i+1 < len(s) {
		if k2, w2 := c.at(s, i+1); k2 == clsOther {
			start = i + 1 + w2
		}
	}
	if start >= 0 {
		j := c.runEnd(s, start, clsOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// \s*[\r\n]+ ends after the run's last newline; otherwise the
	// \s+(?!\S)|\s+ alternatives decide.
	j, lastNL := i, -1
	for j < len(s) {
		k2, w2 := c.at(s, j)
		if !isSpaceClass(k2) {
			break
		}
		if k2 == clsNewline {
			lastNL = j
		}
		j += w2
	}
	if lastNL >= 0 {
		return lastNL + 1
	}
	return whitespaceEnd(c, s, i, false)
}

// digitsSplitter implements HF's Digits pre-tokenizer: numbers (\p{N},
// Rust's char::is_numeric) become their own pieces, one per character when
// individual, else one per run.
type digitsSplitter struct {
	c          classifier
	individual bool
}

func (d digitsSplitter) split(s string, dst []string) []string {
	start := 0
	for i := 0; i < len(s); {
		k, w := d.c.at(s, i)
		if k != clsNumber {
			i += w
			continue
		}
		if start < i {
			dst = append(dst, s[start:i])
		}
		j := i + w
		if !d.individual {
			j = d.c.runEnd(s, j, clsNumber)
		}
		dst = append(dst, s[i:j])
		i, start = j, j
	}
	if start < len(s) {
		dst = append(dst, s[start:])
	}
	return dst
}

// prefixSpaceSplitter implements ByteLevel's add_prefix_space: a piece not
// starting with a space gets one, then the inner splitter (if any) runs.
// The prefixed copies are allocated; this option is rare in practice.
type prefixSpaceSplitter struct {
	inner splitter
}

func (p prefixSpaceSplitter) split(s string, dst []string) []string {
	if !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if p.inner == nil {
		return append(dst, s)
	}
	return p.inner.split(s, dst)
}

// fuse replaces Digits(individual_digits) followed by the GPT-2 scanner
// with one scanner doing both (same pieces, one pass over the text).
func fuse(pre []splitter) []splitter {
	if len(pre) == 2 {
		d, ok1 := pre[0].(digitsSplitter)
		g, ok2 := pre[1].(gpt2Scanner)
		if ok1 && ok2 && d.individual && !g.isolateDigits {
			g.isolateDigits = true
			return []splitter{g}
		}
	}
	return pre
}
