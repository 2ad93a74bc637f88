package filters

import (
	"sync"

	"github.com/kilnlm/kiln/filters/text"
)

// runeLen counts characters (code points) as Python's len does; it equals
// utf8.RuneCountInString (an invalid byte counts as one), with a vector
// skip over ASCII (see text.RuneCount).
func runeLen(s string) int { return text.RuneCount(s) }

// tablePool recycles hash tables between documents.
type tablePool struct{ p sync.Pool }

func (tp *tablePool) get() *u64Table {
	if v := tp.p.Get(); v != nil {
		return v.(*u64Table)
	}
	return &u64Table{}
}

func (tp *tablePool) put(t *u64Table) { tp.p.Put(t) }

// equalFoldASCII compares s with lowercase p, folding ASCII capitals in s.
func equalFoldASCII(s, p string) bool {
	if len(s) != len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if c != p[i] {
			return false
		}
	}
	return true
}
