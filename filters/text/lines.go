package text

import (
	"strings"
	"unicode/utf8"
)

// Lines splits s on "\n" like Python's str.split("\n"): n newlines give n+1
// lines, empty ones included.
func Lines(s string) []string { return strings.Split(s, "\n") }

// NonEmptyLines splits s on runs of newlines (the regex \n+), dropping
// empty pieces at either end, as Gopher repetition's line splitter does.
func NonEmptyLines(s string) []string {
	return AppendNonEmptyLines(make([]string, 0, strings.Count(s, "\n")+1), s)
}

// AppendNonEmptyLines appends NonEmptyLines(s) to out, so a caller can
// reuse one buffer across documents.
func AppendNonEmptyLines(out []string, s string) []string {
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		s = s[i+1:]
	}
	return out
}

// Paragraphs splits s on runs of two or more newlines (\n{2,}).
func Paragraphs(s string) []string { return AppendParagraphs(nil, s) }

// AppendParagraphs appends Paragraphs(s) to out, so a caller can reuse one
// buffer across documents.
func AppendParagraphs(out []string, s string) []string {
	start := 0
	// strings.Index finds the next blank line with the vectorised search
	// instead of testing every byte.
	for i := 0; ; {
		k := strings.Index(s[i:], "\n\n")
		if k < 0 {
			break
		}
		i += k
		j := i + 2
		for j < len(s) && s[j] == '\n' {
			j++
		}
		out = append(out, s[start:i])
		start, i = j, j
	}
	return append(out, s[start:])
}

// CountSentences counts sentences in a line: a run of text ending in a
// sentence terminator (. ! ? and the CJK, Devanagari and Arabic stops)
// followed by a space, a quote or the end, plus a trailing piece without
// one. A run of terminators ("?!", "...") ends one sentence, and 3.14 or
// e.g. do not end any. It is the simple rule C4's five-sentence minimum
// needs, byte-oriented so ASCII lines cost one pass.
func CountSentences(line string) int {
	n := 0
	pending := false
	for i := 0; i < len(line); {
		// Skip plain ASCII fast: only terminators, spaces and non-ASCII
		// bytes need a decision.
		if sentenceStop[line[i]] == 0 {
			j := i + 1
			for j < len(line) && sentenceStop[line[j]] == 0 {
				j++
			}
			pending = true
			i = j
			continue
		}
		c := line[i]
		size := 1
		term, wide := false, false
		if c < 0x80 {
			term = c == '.' || c == '!' || c == '?'
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(line[i:])
			term = r == '。' || r == '！' || r == '？' || r == '।' || r == '؟'
			wide = term
		}
		i += size
		if !term {
			if c != ' ' && c != '\t' {
				pending = true
			}
			continue
		}
		if i < len(line) && startsWithTerminator(line[i:]) {
			continue
		}
		// Full-width stops end a sentence wherever they are; ASCII ones
		// only before a space, a quote or the end.
		if wide || i == len(line) || line[i] == ' ' || line[i] == '\t' || line[i] == '"' || line[i] == '\'' {
			if pending {
				n++
			}
			pending = false
		}
	}
	if pending {
		n++
	}
	return n
}

// sentenceStop marks the bytes CountSentences must look at: ASCII
// terminators, spaces and tabs, and every non-ASCII byte.
var sentenceStop = func() (t [256]uint8) {
	for _, c := range []byte(".!? \t") {
		t[c] = 1
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = 1
	}
	return t
}()

func startsWithTerminator(s string) bool {
	switch s[0] {
	case '.', '!', '?':
		return true
	}
	if s[0] < 0x80 {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r == '。' || r == '！' || r == '？' || r == '।' || r == '؟'
}
