package filters

import (
	"slices"
	"sync"
	"unsafe"

	"github.com/kilnlm/kiln/filters/text"
	"github.com/kilnlm/kiln/internal/swar"
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
	hashes, clen := f.hashes[:n], f.clen[:n]
	base := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	alpha := 0
	for i, w := range f.words {
		// Words are substrings of s, so the 8 bytes that end a word can be
		// loaded whenever it ends at least 8 bytes into s: an ASCII word
		// is then hashed, counted and checked for letters 8 bytes at a
		// time, with no loop over its bytes (whose exit mispredicted at
		// nearly every word).
		end := int(uintptr(unsafe.Pointer(unsafe.StringData(w)))-base) + len(w)
		if l := len(w); l <= 8 && end >= 8 {
			// Most words: one load, shifted so the word's bytes are low
			// and zeros pad the top; fnv8 written out, as a call costs.
			x := swar.Load8(s, end-8) >> (8 * uint(8-l))
			if x&swar.High == 0 {
				h := (fnvOffset ^ x&0xff) * fnvPrime
				h = (h ^ x>>8&0xff) * fnvPrime
				h = (h ^ x>>16&0xff) * fnvPrime
				h = (h ^ x>>24&0xff) * fnvPrime
				h = (h ^ x>>32&0xff) * fnvPrime
				h = (h ^ x>>40&0xff) * fnvPrime
				h = (h ^ x>>48&0xff) * fnvPrime
				h = (h ^ x>>56) * fnvPrime
				hashes[i] = mix64(h * fnvUnpad[8-l])
				clen[i] = int32(l)
				if letterBytes(x) != 0 {
					alpha++
				}
				continue
			}
		} else if end >= 8 {
			if h, letter, ok := asciiWordHash(s, end-len(w), end); ok {
				hashes[i] = mix64(h)
				clen[i] = int32(len(w))
				alpha += letter
				continue
			}
		}
		// Non-ASCII words (and any word in the first 8 bytes).
		h := uint64(fnvOffset)
		var or, letter byte
		for j := 0; j < len(w); j++ {
			c := w[j]
			h = (h ^ uint64(c)) * fnvPrime
			or |= c
			if lc := c | 0x20; lc >= 'a' && lc <= 'z' {
				letter = 1
			}
		}
		hashes[i] = mix64(h)
		if or < 0x80 {
			clen[i] = int32(len(w))
			alpha += int(letter)
			continue
		}
		clen[i] = int32(runeLen(w))
		if letter == 1 || text.HasLetter(w) {
			alpha++
		}
	}
	f.alpha = alpha
	return f
}

// FNV-1a, the word hash (before mix64).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvUnpad[k] undoes k FNV-1a steps over zero bytes: a step over a zero
// byte only multiplies by the (odd, so invertible) prime.
var fnvUnpad = func() (t [8]uint64) {
	inv := uint64(fnvPrime) // Newton's iteration for the inverse mod 2^64
	for range 5 {
		inv *= 2 - fnvPrime*inv
	}
	t[0] = 1
	for k := 1; k < 8; k++ {
		t[k] = t[k-1] * inv
	}
	return t
}()

// fnv8 runs the 8 FNV-1a steps over the bytes of x, low byte first.
func fnv8(h, x uint64) uint64 {
	h = (h ^ x&0xff) * fnvPrime
	h = (h ^ x>>8&0xff) * fnvPrime
	h = (h ^ x>>16&0xff) * fnvPrime
	h = (h ^ x>>24&0xff) * fnvPrime
	h = (h ^ x>>32&0xff) * fnvPrime
	h = (h ^ x>>40&0xff) * fnvPrime
	h = (h ^ x>>48&0xff) * fnvPrime
	return (h ^ x>>56) * fnvPrime
}

// asciiWordHash returns the FNV-1a hash of s[start:end] (end >= 8) and
// whether it holds an ASCII letter, or ok false if it holds a non-ASCII
// byte. Whole 8-byte chunks come first; the last 1-8 bytes are loaded as
// the 8 ending the word, shifted so the bytes already hashed drop out
// and zeros pad the top, and the padding steps are undone.
func asciiWordHash(s string, start, end int) (h uint64, letter int, ok bool) {
	h = fnvOffset
	var or, let uint64
	i := start
	for ; end-i > 8; i += 8 {
		x := swar.Load8(s, i)
		or |= x
		let |= letterBytes(x)
		h = fnv8(h, x)
	}
	pad := 8 - (end - i)
	x := swar.Load8(s, end-8) >> (8 * pad)
	or |= x
	let |= letterBytes(x)
	h = fnv8(h, x) * fnvUnpad[pad]
	if or&swar.High != 0 {
		return 0, 0, false
	}
	if let != 0 {
		letter = 1
	}
	return h, letter, true
}

// letterBytes sets the top bit of each byte of x that is an ASCII letter
// (valid for bytes below 0x80: no carry crosses bytes). Folding to lower
// case maps a zero byte to ' ', not a letter.
func letterBytes(x uint64) uint64 {
	return swar.InRange(x|0x20*swar.Ones, 'a', 'z')
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
