package tokenize

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is a token matched in the text before pre-tokenization.
type addedToken struct {
	id                         int32
	content                    string
	singleWord, lstrip, rstrip bool
	normalized, special        bool
}

// addedMatcher finds added tokens leftmost-longest, as HF's Aho-Corasick
// automaton (MatchKind::LeftmostLongest) does. Added-token lists are short
// (tens to a few hundred), so candidates are grouped by first byte.
type addedMatcher struct {
	tokens  []addedToken
	byFirst [256][]int // token indices, longest content first
	// oneFirst is the common first byte when every token shares it (the
	// usual '<'), letting the scan use strings.IndexByte.
	oneFirst int
}

func newAddedMatcher(tokens []addedToken) *addedMatcher {
	if len(tokens) == 0 {
		return nil
	}
	m := &addedMatcher{tokens: tokens, oneFirst: int(tokens[0].content[0])}
	for i, t := range tokens {
		b := t.content[0]
		m.byFirst[b] = append(m.byFirst[b], i)
		if int(b) != m.oneFirst {
			m.oneFirst = -1
		}
	}
	for b := range m.byFirst {
		l := m.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(tokens[l[i]].content) > len(tokens[l[j]].content) })
	}
	return m
}

// find returns the leftmost-longest match at or after from.
func (m *addedMatcher) find(s string, from int) (start, end, tok int) {
	for i := from; i < len(s); i++ {
		if m.oneFirst >= 0 {
			k := strings.IndexByte(s[i:], byte(m.oneFirst))
			if k < 0 {
				return -1, -1, -1
			}
			i += k
		}
		for _, ti := range m.byFirst[s[i]] {
			if strings.HasPrefix(s[i:], m.tokens[ti].content) {
				return i, i + len(m.tokens[ti].content), ti
			}
		}
	}
	return -1, -1, -1
}

// segment is a piece of input: either an added token (id >= 0) or text to
// tokenize (id < 0).
type segment struct {
	text string
	id   int32
}

// isWordRune is Rust regex's Unicode \w: alphabetic, marks, decimal
// digits, connector punctuation and join controls.
func isWordRune(r rune) bool {
	return unicode.In(r, unicode.L, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc, unicode.Join_Control)
}

// split cuts s into segments following HF's AddedVocabulary::find_matches:
// single_word tokens only match between non-word characters, lstrip and
// rstrip swallow the whitespace beside the token.
func (m *addedMatcher) split(s string, dst []segment) []segment {
	if m == nil {
		return append(dst, segment{text: s, id: -1})
	}
	prevEnd := 0
	for pos := 0; pos < len(s); {
		start, end, ti := m.find(s, pos)
		if ti < 0 {
			break
		}
		pos = end
		t := &m.tokens[ti]
		if t.singleWord {
			if start > 0 {
				if r, _ := utf8.DecodeLastRuneInString(s[:start]); isWordRune(r) {
					continue
				}
			}
			if end < len(s) {
				if r, _ := utf8.DecodeRuneInString(s[end:]); isWordRune(r) {
					continue
				}
			}
		}
		if t.lstrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, prevEnd)
		}
		if t.rstrip {
			end = len(s) - len(strings.TrimLeftFunc(s[end:], unicode.IsSpace))
		}
		if prevEnd < start {
			dst = append(dst, segment{text: s[prevEnd:start], id: -1})
		}
		dst = append(dst, segment{text: s[start:end], id: t.id})
		prevEnd = end
	}
	if prevEnd < len(s) {
		dst = append(dst, segment{text: s[prevEnd:], id: -1})
	}
	return dst
}
