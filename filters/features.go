package filters

import (
	"slices"
	"sync"
	"unsafe"

	"github.com/kilnlm/kiln/filters/text"
)

// docFeatures are the word-level features that Gopher quality, Gopher
// repetition and FineWeb quality all need. A web chain runs all three on
// each document, so segmenting once and sharing the result removes two of
// three passes of the costliest step. Features are immutable once built.
type docFeatures struct {
	text   string
	words  []string
	hashes []uint64 // 64-bit hash of each word
	clen   []int32  // characters (code points) in each word
	alpha  int      // words holding a letter
	chars  int      // characters in the text
}

// computeFeatures segments s and derives the per-word features. scratch,
// when not nil, is a reused segmentation buffer: the words are copied out
// at their exact count, so a document costs one right-sized allocation
// instead of a guessed capacity plus regrowth.
func computeFeatures(s string, scratch *[]string) *docFeatures {
	f := &docFeatures{text: s, chars: runeLen(s)}
	if scratch == nil {
		f.words = text.AppendWords(make([]string, 0, len(s)/6+8), s)
	} else {
		seg := text.AppendWords((*scratch)[:0], s)
		f.words = slices.Clone(seg)
		clear(seg) // drop references to this text from the pooled buffer
		*scratch = seg[:0]
	}
	f.hashes = make([]uint64, len(f.words))
	f.clen = make([]int32, len(f.words))
	for i, w := range f.words {
		// One loop per word computes its hash (FNV-1a with a final mix),
		// whether it holds an ASCII letter, and whether it is all ASCII;
		// only non-ASCII words need the Unicode-aware helpers.
		h := uint64(14695981039346656037)
		var or, letter byte
		for j := 0; j < len(w); j++ {
			c := w[j]
			h = (h ^ uint64(c)) * 1099511628211
			or |= c
			if lc := c | 0x20; lc >= 'a' && lc <= 'z' {
				letter = 1
			}
		}
		f.hashes[i] = mix64(h)
		if or < 0x80 {
			f.clen[i] = int32(len(w))
			f.alpha += int(letter)
			continue
		}
		f.clen[i] = int32(runeLen(w))
		if letter == 1 || text.HasLetter(w) {
			f.alpha++
		}
	}
	return f
}

// mix64 is a 64-bit finaliser (SplitMix64's) so that the word hashes fed
// to the rolling n-gram hash have well-spread bits.
func mix64(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// featureSlots bounds the cache: enough for one document in flight per
// worker on large machines; a collision only costs a recomputation.
const featureSlots = 256

// featureCache shares docFeatures between the filters built by one
// registry. A hit needs an exact comparison of the text (the slot comes
// from the string's address), so a text rewritten by an earlier filter
// (c4_quality) is never confused with its original, and correctness never
// depends on what is cached.
type featureCache struct {
	mu      sync.Mutex
	slots   [featureSlots]*docFeatures
	scratch sync.Pool // *[]string segmentation buffers
}

// slotOf picks s's slot from its address and length: the filters of a
// chain pass the same string along, so this finds it without hashing the
// content (correctness rests on the exact comparison that follows, and a
// rewritten text is a new string).
func slotOf(s string) uint64 {
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
	return mix64(h^uint64(len(s))*0x9E3779B97F4A7C15) % featureSlots
}

// lookup returns the cached features of s, or nil.
func (c *featureCache) lookup(s string) *docFeatures {
	if c == nil {
		return nil
	}
	i := slotOf(s)
	c.mu.Lock()
	f := c.slots[i]
	c.mu.Unlock()
	if f != nil && f.text == s {
		return f
	}
	return nil
}

// get returns the features of s, from the cache when a filter earlier in
// the chain computed them. A nil cache computes them every time.
func (c *featureCache) get(s string) *docFeatures {
	if c == nil {
		return computeFeatures(s, nil)
	}
	i := slotOf(s)
	c.mu.Lock()
	f := c.slots[i]
	c.mu.Unlock()
	if f != nil && f.text == s {
		return f
	}
	sp, _ := c.scratch.Get().(*[]string)
	if sp == nil {
		sp = new([]string)
	}
	f = computeFeatures(s, sp)
	c.scratch.Put(sp)
	c.mu.Lock()
	c.slots[i] = f
	c.mu.Unlock()
	return f
}
