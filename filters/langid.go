package filters

import (
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"
	_ "unsafe" // for go:linkname: whatlanggo keeps its trigram profiles unexported

	"github.com/abadojack/whatlanggo"
)

// Kiln's language scorer gives exactly whatlanggo's answer (language,
// script, confidence) at a fraction of its cost. whatlanggo ranks the
// sample's trigrams through a string map, sorts them with a reflective
// stable sort, then, for each of up to 48 languages of the script, looks
// each of the 300 profile trigrams up in that map: about 15,000 string-map
// lookups per document. Here the profiles are inverted once (trigram ->
// (language, rank) postings), trigrams are packed into integers, counted in
// an open-addressing table and each distinct trigram of the sample is looked
// up once. The integer distances are the same sums in another order, and
// the confidence uses whatlanggo's own expressions, so results are
// identical; filters/langid_test.go checks it against whatlanggo on every
// web document, the multilingual strings and a fuzz target.
//
// The profiles are whatlanggo's own data, read through go:linkname: the
// module does not export them, and copying them would fork the model.
// go.mod pins whatlanggo v1.0.1, whose variables these are. Should a
// release rename them, the variables read as nil and the scorer falls back
// to calling whatlanggo, so verdicts never change (and
// TestLangScorerUsesProfiles fails, so the slowdown is noticed); a changed
// layout would be caught by the tests that compare with whatlanggo.

//go:linkname wlLatin github.com/abadojack/whatlanggo.latinLangs
var wlLatin map[whatlanggo.Lang][]string

//go:linkname wlCyrillic github.com/abadojack/whatlanggo.cyrillicLangs
var wlCyrillic map[whatlanggo.Lang][]string

//go:linkname wlArabic github.com/abadojack/whatlanggo.arabicLangs
var wlArabic map[whatlanggo.Lang][]string

//go:linkname wlDevanagari github.com/abadojack/whatlanggo.devanagariLangs
var wlDevanagari map[whatlanggo.Lang][]string

//go:linkname wlEthiopic github.com/abadojack/whatlanggo.ethiopicLangs
var wlEthiopic map[whatlanggo.Lang][]string

//go:linkname wlHebrew github.com/abadojack/whatlanggo.hebrewLangs
var wlHebrew map[whatlanggo.Lang][]string

// whatlanggo's constants (constants.go): the distance of a profile trigram
// missing from the text, and the total distance that maps to score zero.
const (
	wlMaxTrigramDistance = 300
	wlMaxTotalDistance   = 90000
)

// Script classes in whatlanggo's initial counter order (script.go); the
// order matters because ties in the final count go to the earlier counter
// and a counter moves one place forward each time it matches.
const (
	scLatin = iota
	scCyrillic
	scArabic
	scDevanagari
	scHiraganaKatakana
	scEthiopic
	scHebrew
	scBengali
	scGeorgian
	scHan
	scHangul
	scGreek
	scKannada
	scTamil
	scThai
	scGujarati
	scGurmukhi
	scTelugu
	scMalayalam
	scOriya
	scMyanmar
	scSinhala
	scKhmer
	numScripts
	scNone = -1
)

var scriptTables = [numScripts]*unicode.RangeTable{
	unicode.Latin, unicode.Cyrillic, unicode.Arabic, unicode.Devanagari, nil, // Hiragana+Katakana below
	unicode.Ethiopic, unicode.Hebrew, unicode.Bengali, unicode.Georgian, unicode.Han,
	unicode.Hangul, unicode.Greek, unicode.Kannada, unicode.Tamil, unicode.Thai,
	unicode.Gujarati, unicode.Gurmukhi, unicode.Telugu, unicode.Malayalam, unicode.Oriya,
	unicode.Myanmar, unicode.Sinhala, unicode.Khmer,
}

// singleLang is the language of scripts whatlanggo maps to one language
// (detect.go); -1 for scripts scored with trigram profiles.
var singleLang = [numScripts]whatlanggo.Lang{
	scLatin: -1, scCyrillic: -1, scArabic: -1, scDevanagari: -1, scEthiopic: -1, scHebrew: -1,
	scHiraganaKatakana: whatlanggo.Jpn, scBengali: whatlanggo.Ben, scGeorgian: whatlanggo.Kat,
	scHan: whatlanggo.Cmn, scHangul: whatlanggo.Kor, scGreek: whatlanggo.Ell, scKannada: whatlanggo.Kan,
	scTamil: whatlanggo.Tam, scThai: whatlanggo.Tha, scGujarati: whatlanggo.Guj, scGurmukhi: whatlanggo.Pan,
	scTelugu: whatlanggo.Tel, scMalayalam: whatlanggo.Mal, scOriya: whatlanggo.Ori, scMyanmar: whatlanggo.Mya,
	scSinhala: whatlanggo.Sin, scKhmer: whatlanggo.Khm,
}

// scriptRangeTable returns the *unicode.RangeTable whatlanggo reports for a
// script class (Hiragana+Katakana is whatlanggo's own table, so it is
// reported as whatlanggo.DetectScript of a kana letter).
func scriptRangeTable(sc int) *unicode.RangeTable {
	if sc == scHiraganaKatakana {
		return kanaTable()
	}
	return scriptTables[sc]
}

var kanaTable = sync.OnceValue(func() *unicode.RangeTable { return whatlanggo.DetectScript("あ") })

// posting is one occurrence of a trigram in a language profile.
type posting struct {
	lang uint8  // index into profileGroup.langs
	pos  uint16 // rank of the trigram in that profile
}

// profileGroup is the inverted index of the profiles of one script.
type profileGroup struct {
	langs []whatlanggo.Lang // ascending, so ties resolve to the lowest Lang
	base  []int             // distance of each language when no trigram matches
	index map[uint64][]posting
	// The probed index: each slot holds a profile trigram packed in 48
	// bits (every profile rune is below 2^16) and its id+1 (0: empty);
	// the postings of id are postings[starts[id]:starts[id+1]]. One 8-byte
	// probe per trigram, and starts is small enough to stay cached.
	slots    []uint64
	starts   []uint32
	postings []posting
}

// pack48 repacks a trigram key into 48 bits; ok is false when a rune is
// 2^16 or more, which no profile holds.
func pack48(key uint64) (uint64, bool) {
	a, b, c := key>>42, key>>21&0x1fffff, key&0x1fffff
	if a|b|c >= 1<<16 {
		return 0, false
	}
	return a<<32 | b<<16 | c, true
}

func slot48(p uint64, mask uint64) uint64 {
	h := (p + 1) * 0x9E3779B97F4A7C15
	return (h >> 32) & mask
}

// buildSlots lays the index out for probing at load factor at most 1/2.
// It reports false when the profiles do not fit the packing (a rune of
// 2^16 or more, 2^16-1 trigrams or more): the scorer then falls back to
// whatlanggo rather than lose a trigram.
func (g *profileGroup) buildSlots() bool {
	keys := make([]uint64, 0, len(g.index))
	for k := range g.index {
		if _, ok := pack48(k); !ok {
			return false
		}
		keys = append(keys, k)
	}
	if len(keys) >= 0xffff {
		return false
	}
	slices.Sort(keys) // a deterministic layout
	size := 16
	for size < 2*len(keys) {
		size *= 2
	}
	g.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for id, k := range keys {
		g.starts = append(g.starts, uint32(len(g.postings)))
		g.postings = append(g.postings, g.index[k]...)
		p, _ := pack48(k)
		i := slot48(p, mask)
		for g.slots[i] != 0 {
			i = (i + 1) & mask
		}
		g.slots[i] = p<<16 | uint64(id+1)
	}
	g.starts = append(g.starts, uint32(len(g.postings)))
	return true
}

// lookup returns the postings of a trigram (nil when no profile has it).
func (g *profileGroup) lookup(key uint64) []posting {
	p, ok := pack48(key)
	if !ok {
		return nil
	}
	mask := uint64(len(g.slots) - 1)
	for i := slot48(p, mask); ; i = (i + 1) & mask {
		e := g.slots[i]
		if e == 0 {
			return nil
		}
		if e>>16 == p {
			id := e&0xffff - 1
			return g.postings[g.starts[id]:g.starts[id+1]]
		}
	}
}

// langScorer holds the immutable index; per-call scratch is a
// trigramCounter the caller owns.
type langScorer struct {
	groups   [numScripts]*profileGroup // non-nil for profile-scored scripts
	fallback bool                      // profiles unavailable: call whatlanggo
	ascMap   [utf8.RuneSelf]byte       // the trigram byte: ' ' for stop bytes, else lowercased
	ascLatin [utf8.RuneSelf]bool
}

// sharedLangScorer builds the index once per process; it is read-only
// afterwards, so every Language filter shares it.
var sharedLangScorer = sync.OnceValue(newLangScorer)

func newLangScorer() *langScorer {
	s := &langScorer{}
	for c := range utf8.RuneSelf {
		r := rune(c)
		s.ascMap[c] = byte(unicode.ToLower(r))
		if wlIsStopChar(r) {
			s.ascMap[c] = ' '
		}
		s.ascLatin[c] = unicode.Is(unicode.Latin, r) && !wlIsStopChar(r)
	}
	for sc, prof := range map[int]map[whatlanggo.Lang][]string{
		scLatin: wlLatin, scCyrillic: wlCyrillic, scArabic: wlArabic,
		scDevanagari: wlDevanagari, scEthiopic: wlEthiopic, scHebrew: wlHebrew,
	} {
		if len(prof) == 0 || len(prof) > 255 {
			s.fallback = true
			return s
		}
		g := &profileGroup{index: make(map[uint64][]posting)}
		for lang := range prof {
			g.langs = append(g.langs, lang)
		}
		slices.Sort(g.langs)
		for li, lang := range g.langs {
			tris := prof[lang]
			if len(tris) > 0xffff {
				s.fallback = true // ranks would not fit a posting
				return s
			}
			g.base = append(g.base, wlMaxTrigramDistance*len(tris))
			for pos, tri := range tris {
				key, ok := packTrigramString(tri)
				if !ok {
					// A profile entry that is not exactly three runes
					// can never equal a text trigram: it always counts
					// the full distance, as in whatlanggo.
					continue
				}
				g.index[key] = append(g.index[key], posting{uint8(li), uint16(pos)})
			}
		}
		if !g.buildSlots() {
			s.fallback = true
			return s
		}
		s.groups[sc] = g
	}
	return s
}

// wlIsStopChar is whatlanggo's stop-character rule (utils.go): symbols,
// spaces, punctuation and digits are word separators.
func wlIsStopChar(r rune) bool {
	return unicode.IsSymbol(r) || unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsDigit(r)
}

// packTrigram packs three runes (each below 2^21) into one integer whose
// order is the byte order of their UTF-8 strings (UTF-8 preserves code
// point order), which whatlanggo's rank tie-break uses.
func packTrigram(a, b, c rune) uint64 { return uint64(a)<<42 | uint64(b)<<21 | uint64(c) }

func packTrigramString(s string) (uint64, bool) {
	var rs [3]rune
	n := 0
	for _, r := range s {
		if n == 3 {
			return 0, false
		}
		rs[n] = r
		n++
	}
	if n != 3 || string(rs[:]) != s {
		return 0, false
	}
	return packTrigram(rs[0], rs[1], rs[2]), true
}

// trigramCounter is an open-addressing count table keyed by packed
// trigrams (Fibonacci hashing, linear probing); slots are reset through
// the list of used slots.
type trigramCounter struct {
	slots  []countSlot
	shift  uint     // 64 - log2(len(slots))
	used   []int32  // occupied slot numbers, in insertion order
	byRank []uint64 // keys, most frequent first
	hist   []int32  // per count: number of trigrams, then bucket start
	dist   []int
	tmp    []uint64 // radix sort buffer
}

// radixSort sorts keys ascending with an LSD radix sort, faster than a
// comparison sort on the few hundred keys of a count bucket. Keys of three
// ASCII runes (most of them) are first compacted to 21 bits in the same
// order and sorted 7 bits at a time; other keys 8 bits at a time. Digits
// equal in every key are skipped. tmp is scratch; the possibly grown
// scratch is returned.
func radixSort(keys, tmp []uint64) []uint64 {
	if len(keys) < 64 {
		slices.Sort(keys)
		return tmp
	}
	const ascii = 0x7f<<42 | 0x7f<<21 | 0x7f
	var or uint64
	for _, k := range keys {
		or |= k
	}
	tmp = slices.Grow(tmp[:0], len(keys))[:len(keys)]
	if or&^ascii == 0 {
		for i, k := range keys {
			keys[i] = k>>42<<14 | (k>>21)&0x7f<<7 | k&0x7f
		}
		radixPasses(keys, tmp, 7, 21)
		for i, k := range keys {
			keys[i] = k>>14<<42 | (k>>7)&0x7f<<21 | k&0x7f
		}
		return tmp
	}
	radixPasses(keys, tmp, 8, 64)
	return tmp
}

// radixPasses sorts keys (of the given width) by digits of the given bits,
// least significant first, using tmp (len(keys)) as the other buffer.
func radixPasses(keys, tmp []uint64, digit, width uint) {
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range keys {
		or |= k
		and &= k
	}
	varying := or ^ and
	mask := uint64(1)<<digit - 1
	src, dst := keys, tmp
	var count [256]int
	for shift := uint(0); shift < width; shift += digit {
		if (varying>>shift)&mask == 0 {
			continue
		}
		clear(count[:mask+1])
		for _, k := range src {
			count[(k>>shift)&mask]++
		}
		pos := 0
		for i, c := range count[:mask+1] {
			count[i] = pos
			pos += c
		}
		for _, k := range src {
			b := (k >> shift) & mask
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

type countSlot struct {
	key   uint64 // key+1; 0 marks an empty slot
	count int32
}

func newTrigramCounter(size int) *trigramCounter {
	t := &trigramCounter{}
	t.resize(size)
	return t
}

func (t *trigramCounter) resize(size int) {
	n, bits := 16, uint(4)
	for n < size {
		n, bits = n*2, bits+1
	}
	t.slots, t.shift = make([]countSlot, n), 64-bits
}

func (t *trigramCounter) reset() {
	for _, i := range t.used {
		t.slots[i] = countSlot{}
	}
	t.used = t.used[:0]
}

// reserve makes room for n distinct keys at load factor at most 1/2, so
// add needs no capacity check.
func (t *trigramCounter) reserve(n int) {
	if 2*n <= len(t.slots) {
		return
	}
	old, oldUsed := t.slots, t.used
	t.resize(2 * n)
	t.used = make([]int32, 0, n)
	for _, i := range oldUsed {
		j := t.slot(old[i].key)
		t.slots[j] = old[i]
		t.used = append(t.used, int32(j))
	}
}

// slot returns the slot holding k (key+1) or the empty slot for it.
func (t *trigramCounter) slot(k uint64) uint64 {
	mask := uint64(len(t.slots) - 1)
	i := (k * 0x9E3779B97F4A7C15) >> t.shift
	for t.slots[i].key != k && t.slots[i].key != 0 {
		i = (i + 1) & mask
	}
	return i
}

func (t *trigramCounter) add(key uint64) {
	k := key + 1
	i := t.slot(k)
	if t.slots[i].key == 0 {
		t.slots[i].key = k
		t.used = append(t.used, int32(i))
	}
	t.slots[i].count++
}

// langResult is one identification: whatlanggo.Info's fields, plus the
// languages tied at the best distance (whatlanggo picks among those by map
// iteration order, i.e. at random; Kiln picks the lowest Lang).
type langResult struct {
	lang       whatlanggo.Lang
	script     *unicode.RangeTable
	confidence float64
	tied       []whatlanggo.Lang // nil unless two or more languages share the best distance
}

// detect is whatlanggo.DetectWithOptions(text, opts) computed with the
// inverted index; t is scratch space, reset on return.
func (s *langScorer) detect(text string, opts whatlanggo.Options, t *trigramCounter) langResult {
	if s.fallback {
		info := whatlanggo.DetectWithOptions(text, opts)
		return langResult{lang: info.Lang, script: info.Script, confidence: info.Confidence}
	}
	defer t.reset()
	// A text of n bytes has at most n+1 trigrams (n runes plus the final
	// space).
	t.reserve(len(text) + 1)

	// One pass computes whatlanggo's script vote (script.go) and its
	// trigram counts (trigrams.go) together.
	var counts [numScripts]int
	var order, where [numScripts]int8
	for i := range order {
		order[i], where[i] = int8(i), int8(i)
	}
	half := len(text) / 2
	script := scNone // set when one script passes half the length: whatlanggo returns it at once
	// Trigram state: txt is the lowered, stop-mapped runes plus a final
	// space; r1 starts as a space and r2 as txt[0].
	var r1, r2 rune = ' ', 0
	first := true
	for i := 0; i < len(text); {
		c := text[i]
		var r rune
		if c < utf8.RuneSelf {
			// ASCII: a letter is Latin and votes; stop bytes become a
			// space; other bytes (controls) are kept as they are.
			i++
			r = rune(s.ascMap[c])
			if s.ascLatin[c] && script == scNone {
				counts[scLatin]++
				if counts[scLatin] > half {
					script = scLatin
				}
				if p := where[scLatin]; p > 0 {
					o := order[p-1]
					order[p-1], order[p] = scLatin, o
					where[scLatin], where[o] = p-1, p
				}
			}
		} else {
			var n int
			r, n = utf8.DecodeRuneInString(text[i:])
			i += n
			if wlIsStopChar(r) {
				r = ' '
			} else {
				if script != scNone {
					// the script is settled: no more votes
				} else if sc := runeScript(r, &order); sc != scNone {
					counts[sc]++
					if counts[sc] > half {
						script = sc
					}
					if p := where[sc]; p > 0 {
						o := order[p-1]
						order[p-1], order[p] = int8(sc), o
						where[sc], where[o] = p-1, p
					}
				}
				r = unicode.ToLower(r)
			}
		}
		if first {
			r2, first = r, false
			continue
		}
		if r2 != ' ' || (r1 != ' ' && r != ' ') {
			t.add(packTrigram(r1, r2, r))
		}
		r1, r2 = r2, r
	}
	if !first && r2 != ' ' { // the final space as r3: kept unless r2 is a space
		t.add(packTrigram(r1, r2, ' '))
	}

	if script == scNone {
		best, jp := 0, 0
		for _, sc := range order {
			if counts[sc] > best {
				best, script = counts[sc], int(sc)
				if sc == scHiraganaKatakana {
					jp = best
				}
			}
		}
		if best == 0 {
			return langResult{lang: -1}
		}
		if script == scHan && jp > 0 {
			script = scHiraganaKatakana
		}
	}
	res := langResult{script: scriptRangeTable(script)}
	if l := singleLang[script]; l >= 0 {
		res.lang, res.confidence = l, 1
		return res
	}
	g := s.groups[script]

	// Rank as whatlanggo does: most frequent first; equal counts by
	// descending UTF-8 order. A counting sort by count places each count's
	// keys in one bucket; sorting a bucket's keys ascending gives the rank
	// of its i-th key (of n, bucket at start) as start + n-1-i.
	maxCount := int32(0)
	for _, i := range t.used {
		maxCount = max(maxCount, t.slots[i].count)
	}
	t.hist = slices.Grow(t.hist[:0], int(maxCount)+2)[:maxCount+2]
	clear(t.hist)
	for _, i := range t.used {
		t.hist[t.slots[i].count]++
	}
	// hist[c] becomes the start of count c's bucket, highest counts first.
	start := int32(0)
	for c := maxCount; c >= 1; c-- {
		n := t.hist[c]
		t.hist[c] = start
		start += n
	}
	t.byRank = slices.Grow(t.byRank[:0], len(t.used))[:len(t.used)]
	for _, i := range t.used {
		c := t.slots[i].count
		t.byRank[t.hist[c]] = t.slots[i].key - 1
		t.hist[c]++
	}
	// hist[c] is now the end of bucket c (and the start of bucket c-1).
	t.dist = append(t.dist[:0], g.base...)
	dist := t.dist
	lo := 0
	for c := maxCount; c >= 1; c-- {
		hi := int(t.hist[c])
		if hi == lo {
			continue
		}
		bucket := t.byRank[lo:hi]
		t.tmp = radixSort(bucket, t.tmp)
		last := lo + len(bucket) - 1
		for j, key := range bucket {
			ps := g.lookup(key)
			if len(ps) == 0 {
				continue
			}
			rank := last - j
			for _, p := range ps {
				d := rank - int(p.pos)
				if d < 0 {
					d = -d
				}
				dist[p.lang] += d - wlMaxTrigramDistance
			}
		}
		lo = hi
	}

	// Candidates as whatlanggo filters them (whitelist first, else blacklist).
	allowed := func(l whatlanggo.Lang) bool {
		if len(opts.Whitelist) != 0 {
			_, ok := opts.Whitelist[l]
			return ok
		}
		if len(opts.Blacklist) != 0 {
			_, ok := opts.Blacklist[l]
			return !ok
		}
		return true
	}
	n, b1, d1, d2 := 0, -1, 0, 0
	for li, d := range dist {
		if !allowed(g.langs[li]) {
			continue
		}
		n++
		switch {
		case b1 < 0 || d < d1:
			if b1 >= 0 {
				d2 = d1
			}
			b1, d1 = li, d
		case n == 2 || d < d2:
			d2 = d
		}
	}
	switch n {
	case 0:
		return langResult{lang: -1, script: res.script}
	case 1:
		res.lang, res.confidence = g.langs[b1], 1
		return res
	}
	if d2 == d1 {
		for li, d := range dist {
			if d == d1 && allowed(g.langs[li]) {
				res.tied = append(res.tied, g.langs[li])
			}
		}
	}
	// whatlanggo's calculateConfidence, expression for expression.
	score1 := wlMaxTotalDistance - d1
	score2 := wlMaxTotalDistance - d2
	if score1 == 0 {
		return langResult{lang: -1, script: res.script, tied: res.tied}
	}
	res.lang = g.langs[b1]
	if score2 == 0 {
		// whatlanggo writes float64((score1) / 500.0): the constant
		// converts to int, so this is integer division.
		res.confidence = float64(score1 / 500)
		if res.confidence > 1.0 {
			res.confidence = 1.0
		}
		return res
	}
	rate := float64((score1 - score2)) / float64(score2)
	confidentRate := float64(12.0/float64(len(t.used))) + 0.05
	if rate > confidentRate {
		res.confidence = 1.0
	} else {
		res.confidence = rate / confidentRate
	}
	return res
}

// runeScript returns the script class of a non-ASCII letter, trying the
// classes in whatlanggo's current order (scripts are disjoint, so the
// first match is the only one).
func runeScript(r rune, order *[numScripts]int8) int {
	for _, sc := range order {
		if sc == scHiraganaKatakana {
			if unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) {
				return scHiraganaKatakana
			}
			continue
		}
		if unicode.Is(scriptTables[sc], r) {
			return int(sc)
		}
	}
	return scNone
}
