package filters

import "strings"

// commentSyntax describes how a language writes comments and strings.
type commentSyntax struct {
	line      []string // line comment openers
	blockOpen string
	blockEnd  string
	quotes    string // string delimiters whose contents are not comments
	docstring bool   // Python: triple-quoted strings count as comments
}

var (
	cLike   = commentSyntax{line: []string{"//"}, blockOpen: "/*", blockEnd: "*/", quotes: "\"'`"}
	hashy   = commentSyntax{line: []string{"#"}, quotes: "\"'"}
	python  = commentSyntax{line: []string{"#"}, quotes: "\"'", docstring: true}
	dashy   = commentSyntax{line: []string{"--"}, quotes: "\"'"}
	percent = commentSyntax{line: []string{"%"}}
)

// commentSyntaxByExt covers programming languages only: markup, styles and
// configuration files (html, css, yaml, toml, json) often carry no comments
// and the comment-ratio rule is not applied to them, as in NeMo Curator.
var commentSyntaxByExt = map[string]commentSyntax{
	"c": cLike, "h": cLike, "cc": cLike, "cpp": cLike, "cxx": cLike, "hpp": cLike, "hh": cLike,
	"java": cLike, "js": cLike, "mjs": cLike, "jsx": cLike, "ts": cLike, "tsx": cLike, "go": cLike,
	"rs": cLike, "swift": cLike, "kt": cLike, "kts": cLike, "scala": cLike, "cs": cLike, "php": cLike,
	"dart": cLike, "cu": cLike, "groovy": cLike, "zig": cLike,
	"py": python, "pyi": python,
	"sh": hashy, "bash": hashy, "zsh": hashy, "rb": hashy, "pl": hashy, "pm": hashy, "r": hashy,
	"cmake": hashy, "mk": hashy, "jl": hashy, "ps1": hashy,
	"sql": dashy, "lua": dashy, "hs": dashy, "elm": dashy, "ada": dashy,
	"erl": percent, "m": percent,
}

func commentSyntaxFor(ext, base string) (commentSyntax, bool) {
	if base == "makefile" || base == "dockerfile" {
		return hashy, true
	}
	s, ok := commentSyntaxByExt[ext]
	return s, ok
}

// commentBytes counts bytes inside comments (markers included), skipping
// string literals so "http://x" in a string is not a comment.
func commentBytes(s string, syn commentSyntax) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if syn.docstring && (strings.HasPrefix(s[i:], `"""`) || strings.HasPrefix(s[i:], `'''`)) {
			end := strings.Index(s[i+3:], s[i:i+3])
			if end < 0 {
				return n + len(s) - i
			}
			n += end + 6
			i += end + 6
			continue
		}
		if syn.blockOpen != "" && strings.HasPrefix(s[i:], syn.blockOpen) {
			end := strings.Index(s[i+len(syn.blockOpen):], syn.blockEnd)
			if end < 0 {
				return n + len(s) - i
			}
			l := len(syn.blockOpen) + end + len(syn.blockEnd)
			n += l
			i += l
			continue
		}
		lineComment := false
		for _, lc := range syn.line {
			if strings.HasPrefix(s[i:], lc) {
				lineComment = true
				break
			}
		}
		if lineComment {
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return n + len(s) - i
			}
			n += end
			i += end
			continue
		}
		if strings.IndexByte(syn.quotes, c) >= 0 {
			// Skip the string literal, honouring backslash escapes; strings
			// other than backquotes end at a newline (unterminated or rune).
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				} else if s[j] == '\n' && c != '`' {
					break
				}
				j++
			}
			i = j + 1
			continue
		}
		i++
	}
	return n
}
