package filters

import (
	"sync"
	"unicode/utf8"
)

// runeLen counts characters (code points) as Python's len does; it equals
// utf8.RuneCountInString (an invalid byte counts as one), but skips ASCII
// eight bytes at a time, and web text is mostly ASCII with a few curly
// quotes that would otherwise send the whole text to the byte-wise count.
func runeLen(s string) int {
	n, i := 0, 0
	for i < len(s) {
		if i+8 <= len(s) {
			// The compiler turns this into one 8-byte load.
			w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if w&0x8080808080808080 == 0 {
				n += 8
				i += 8
				continue
			}
		}
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		n++
		i += size
	}
	return n
}

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
