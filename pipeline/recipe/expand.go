package recipe

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// DataVar names the variable recipes use for the data folder. When it is
// unset, Kiln looks for ../shared/data beside the repository that holds the
// recipe (the layout of Kiln's own checkout), so the shipped recipes run
// from a clone without configuration.
const DataVar = "KILN_DATA"

// expand replaces ${VAR} and ${VAR:-default} in s; "$$" is a literal "$".
// A variable that is unset and has no default is an error, never an empty
// string, so a typo cannot silently turn a glob into "/corpus/*.jsonl".
func (p *parser) expand(s string, at Pos) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errAt(at, "unterminated ${ in %q", s)
		}
		body := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validVar(name) {
			return "", errAt(at, "bad variable name %q in %q", name, s)
		}
		v, ok := p.lookup(name)
		switch {
		case ok && v != "":
		case hasDef:
			v = def
		case name == DataVar:
			return "", errAt(at, "variable %s is not set and no ../shared/data was found beside a repository holding the recipe: set %s to the data folder", name, name)
		default:
			return "", errAt(at, "variable %s is not set (use ${%s:-default} or set it)", name, name)
		}
		b.WriteString(v)
		i += end + 1
	}
	return b.String(), nil
}

func validVar(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (p *parser) lookup(name string) (string, bool) {
	if v, ok := p.env(name); ok && v != "" {
		return v, true
	}
	switch name {
	case "RECIPE_DIR":
		return p.dir, true
	case DataVar:
		return findSharedData(p.dir)
	case "GOROOT":
		// The Go installation's source tree is a real code corpus on any
		// machine with Go; runtime.GOROOT is where this binary's came from.
		if g := runtime.GOROOT(); g != "" {
			return g, true
		}
	}
	return "", false
}

// findSharedData walks up from dir to the folder holding go.mod and
// returns ../shared/data beside it when that exists.
func findSharedData(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Clean(filepath.Join(dir, "..", "shared", "data"))
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d, true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
