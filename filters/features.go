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
// three passes of the costliest step. Features are immutable while any
// filter holds them (see featureCache.release).
type docFeatures struct {
	text   string
	words  []string
	hashes []uint64 // 64-bit hash of each word
	clen   []int32  // characters (code points) in each word
	alpha  int      // words holding a letter
	chars  int      // characters in the text

	// Guarded by the cache's mutex: filters using these features now, and
	// whether a cache slot still points here. When both are gone the
	// buffers go back to the cache's pool for the next document.
	refs    int
	inCache bool
}

// computeFeatures segments s and derives the per-word features into f,
// reusing f's buffers (from an earlier document) when they are large
// enough.
func computeFeatures(s string, f *docFeatures) *docFeatures {
	if f == nil {
		f = &docFeatures{}
	}
	f.text, f.chars, f.alpha = s, runeLen(s), 0
	prev := len(f.words)
	f.words = text.AppendWords(f.words[:0], s)
	n := len(f.words)
	if n < prev {
		clear(f.words[n:prev]) // words of the previous document: not kept alive
	}
	f.hashes = slices.Grow(f.hashes[:0], n)[:n]
	f.clen = slices.Grow(f.clen[:0], n)[:n]
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
// depends on what is cached. Features are reference counted: a filter
// gets them, uses them within Apply and releases them; features neither
// held nor cached are recycled, so steady-state segmentation allocates
// nothing.
type featureCache struct {
	mu    sync.Mutex
	slots [featureSlots]*docFeatures
	free  []*docFeatures // recycled features (buffers kept), guarded by mu
}

// maxFreeFeatures bounds the recycled features kept for reuse, and
// maxRecycledWords the buffers worth keeping: a huge document's are left
// to the collector so the pool stays small.
const (
	maxFreeFeatures  = 64
	maxRecycledWords = 1 << 16
)

// slotOf picks s's slot from its address and length: the filters of a
// chain pass the same string along, so this finds it without hashing the
// content (correctness rests on the exact comparison that follows, and a
// rewritten text is a new string).
func slotOf(s string) uint64 {
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
	return mix64(h^uint64(len(s))*0x9E3779B97F4A7C15) % featureSlots
}

// lookup returns the cached features of s, or nil. Features returned must
// be given back with release.
func (c *featureCache) lookup(s string) *docFeatures {
	if c == nil {
		return nil
	}
	i := slotOf(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.slots[i]; f != nil && f.text == s {
		f.refs++
		return f
	}
	return nil
}

// get returns the features of s, from the cache when a filter earlier in
// the chain computed them. A nil cache computes them every time. Features
// returned must be given back with release.
func (c *featureCache) get(s string) *docFeatures {
	if c == nil {
		return computeFeatures(s, nil)
	}
	i := slotOf(s)
	c.mu.Lock()
	if f := c.slots[i]; f != nil && f.text == s {
		f.refs++
		c.mu.Unlock()
		return f
	}
	var f *docFeatures
	if n := len(c.free); n > 0 {
		f = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
	}
	c.mu.Unlock()
	f = computeFeatures(s, f)
	c.mu.Lock()
	f.refs, f.inCache = 1, true
	if old := c.slots[i]; old != nil {
		old.inCache = false
		c.recycleLocked(old)
	}
	c.slots[i] = f
	c.mu.Unlock()
	return f
}

// release gives back features from get or lookup.
func (c *featureCache) release(f *docFeatures) {
	if c == nil || f == nil {
		return
	}
	c.mu.Lock()
	f.refs--
	c.recycleLocked(f)
	c.mu.Unlock()
}

// recycleLocked puts f's buffers up for reuse once no filter holds f and
// no slot points to it. Its words still point into its text until reuse
// overwrites them (clearing them here cost 2% of the web chain): the pool
// keeps at most maxFreeFeatures texts alive, as the slots keep
// featureSlots.
func (c *featureCache) recycleLocked(f *docFeatures) {
	if f.refs > 0 || f.inCache || len(c.free) >= maxFreeFeatures || cap(f.words) > maxRecycledWords {
		return
	}
	f.text = ""
	c.free = append(c.free, f)
}
