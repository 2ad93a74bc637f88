package filters

import (
	"math/bits"
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
// (language, rank) postings), the text's trigrams are counted under
// numbers given in trigram order, which ranks them without sorting (see
// "The trigram index" below), and each distinct trigram's postings are
// read once. The integer distances are the same sums in another order, and
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

// posting is one occurrence of a trigram in a language profile: the
// language's global number (index into langScorer.base) above
// postingPosBits, the trigram's rank in that profile below. Two bytes:
// the postings take half the cache of a struct.
type posting uint16

const (
	postingPosBits = 9 // whatlanggo's profiles have 300 trigrams
	maxLangs       = 1 << (16 - postingPosBits)
)

func makePosting(lang, pos int) posting { return posting(lang<<postingPosBits | pos) }

func (p posting) lang() int { return int(p >> postingPosBits) }
func (p posting) pos() int  { return int(p & (1<<postingPosBits - 1)) }

// profileGroup is the languages of one profile-scored script.
type profileGroup struct {
	langs []whatlanggo.Lang // ascending, so ties resolve to the lowest Lang
	first int               // global number of langs[0]; the group's are consecutive
	keys  int               // distinct profile trigrams
}

// The trigram index. Every trigram that can rank among a text's trigrams
// and that either is in a profile or is made of the 27-symbol alphabet
// ' ', 'a'..'z' gets a gid; gids follow the packed-key order, which is
// whatlanggo's tie order. Alphabet trigrams (nearly all of an English
// text's) are found by direct indexing with 5-bit symbol codes; the other
// profile trigrams in a small hash table ("wide"); anything else in a
// per-call side table. Counting per gid and walking the seen gids in
// order then ranks them without sorting; only side-table trigrams, rare
// in Latin text, are sorted and merged in.
const (
	alphaOther = 31     // symbol code of a rune outside the alphabet
	gidSkip    = 0xfffe // asciiGid: a trigram whatlanggo does not count
	gidWide    = 0xffff // asciiGid: a rune outside the alphabet
)

// alphaCode is the 5-bit code of a trigram rune: 0 for ' ', 1-26 for
// 'a'..'z' (order preserving), alphaOther for the rest.
func alphaCode(r rune) uint8 {
	if r == ' ' {
		return 0
	}
	if 'a' <= r && r <= 'z' {
		return uint8(r - 'a' + 1)
	}
	return alphaOther
}

// inAlphabet reports whether a trigram's runes are all in the alphabet.
func inAlphabet(a, b, c rune) bool {
	return alphaCode(a) != alphaOther && alphaCode(b) != alphaOther && alphaCode(c) != alphaOther
}

func alphaRune(code int) rune {
	if code == 0 {
		return ' '
	}
	return 'a' + rune(code) - 1
}

// counted reports whether whatlanggo counts the trigram r1 r2 r3: it drops
// those with a space in the middle and at either end.
func counted(r1, r2, r3 rune) bool { return r2 != ' ' || (r1 != ' ' && r3 != ' ') }

// langScorer holds the immutable index; per-call scratch is a
// trigramCounter the caller owns.
type langScorer struct {
	groups   [numScripts]*profileGroup // non-nil for profile-scored scripts
	fallback bool                      // profiles unavailable: call whatlanggo
	ascMap   [utf8.RuneSelf]byte       // the trigram byte: ' ' for stop bytes, else lowercased
	ascCode  [utf8.RuneSelf]uint8      // alphaCode of ascMap
	ascLatin [utf8.RuneSelf]bool

	base []int // per global language: its distance when no trigram matches

	asciiGid [1 << 15]uint16 // by c1<<10|c2<<5|c3 codes: gid, gidSkip or gidWide
	// wide holds the profile trigrams outside the alphabet: runes packed in
	// runeBits each, shifted left 16, plus gid+1 (0: empty slot).
	wide      []uint64
	wideShift uint
	runeBits  uint
	keys      []uint64 // packed key of each gid, ascending
	info      []uint32 // per gid: postings start<<8 | count
	postings  []posting
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
		s.ascCode[c] = alphaCode(rune(s.ascMap[c]))
		s.ascLatin[c] = unicode.Is(unicode.Latin, r) && !wlIsStopChar(r)
	}
	index := make(map[uint64][]posting)
	for _, gp := range []struct {
		sc   int
		prof map[whatlanggo.Lang][]string
	}{
		{scLatin, wlLatin}, {scCyrillic, wlCyrillic}, {scArabic, wlArabic},
		{scDevanagari, wlDevanagari}, {scEthiopic, wlEthiopic}, {scHebrew, wlHebrew},
	} {
		if len(gp.prof) == 0 {
			s.fallback = true
			return s
		}
		g := &profileGroup{first: len(s.base)}
		for lang := range gp.prof {
			g.langs = append(g.langs, lang)
		}
		slices.Sort(g.langs)
		keys := make(map[uint64]bool)
		for _, lang := range g.langs {
			tris := gp.prof[lang]
			gl := len(s.base)
			if len(tris) > 1<<postingPosBits || gl >= maxLangs {
				s.fallback = true // ranks or languages would not fit a posting
				return s
			}
			s.base = append(s.base, wlMaxTrigramDistance*len(tris))
			for pos, tri := range tris {
				key, ok := packTrigramString(tri)
				if !ok {
					// A profile entry that is not exactly three runes
					// can never equal a text trigram: it always counts
					// the full distance, as in whatlanggo.
					continue
				}
				index[key] = append(index[key], makePosting(gl, pos))
				keys[key] = true
			}
		}
		g.keys = len(keys)
		s.groups[gp.sc] = g
	}
	if !s.buildIndex(index) {
		s.fallback = true
	}
	return s
}

func trigramRunes(key uint64) (a, b, c rune) {
	return rune(key >> 42), rune(key >> 21 & 0x1fffff), rune(key & 0x1fffff)
}

// buildIndex numbers the trigrams and lays out the lookup tables. It
// reports false when the profiles do not fit them (too many trigrams or
// postings, runes too wide): the scorer then falls back to whatlanggo
// rather than lose a trigram.
func (s *langScorer) buildIndex(index map[uint64][]posting) bool {
	var keys []uint64
	for c1 := range 27 {
		for c2 := range 27 {
			for c3 := range 27 {
				a, b, c := alphaRune(c1), alphaRune(c2), alphaRune(c3)
				if counted(a, b, c) {
					keys = append(keys, packTrigram(a, b, c))
				}
			}
		}
	}
	var maxRune rune
	nWide := 0
	for k := range index {
		a, b, c := trigramRunes(k)
		if inAlphabet(a, b, c) {
			// An alphabet trigram: numbered above if whatlanggo counts
			// it; if not, it never matches, as in whatlanggo.
			continue
		}
		keys = append(keys, k)
		maxRune = max(maxRune, a, b, c)
		nWide++
	}
	slices.Sort(keys)
	s.runeBits = uint(bits.Len32(uint32(maxRune)))
	if len(keys) >= gidSkip || 3*s.runeBits > 48 {
		return false
	}
	size := 16
	for size < 2*nWide {
		size *= 2
	}
	s.wide = make([]uint64, size)
	s.wideShift = uint(64 - bits.TrailingZeros(uint(size)))
	for i := range s.asciiGid {
		s.asciiGid[i] = gidWide
	}
	for c1 := range 27 {
		for c2 := range 27 {
			for c3 := range 27 {
				if !counted(alphaRune(c1), alphaRune(c2), alphaRune(c3)) {
					s.asciiGid[c1<<10|c2<<5|c3] = gidSkip
				}
			}
		}
	}
	s.keys = keys
	s.info = make([]uint32, len(keys))
	for gid, k := range keys {
		ps := index[k]
		if len(ps) > 0xff || len(s.postings) >= 1<<24 {
			return false
		}
		s.info[gid] = uint32(len(s.postings))<<8 | uint32(len(ps))
		s.postings = append(s.postings, ps...)
		a, b, c := trigramRunes(k)
		if inAlphabet(a, b, c) {
			s.asciiGid[int(alphaCode(a))<<10|int(alphaCode(b))<<5|int(alphaCode(c))] = uint16(gid)
			continue
		}
		ck := s.compact(a, b, c)
		mask := uint64(size - 1)
		i := (ck * 0x9E3779B97F4A7C15) >> s.wideShift
		for s.wide[i] != 0 {
			i = (i + 1) & mask
		}
		s.wide[i] = ck<<16 | uint64(gid+1)
	}
	return true
}

func (s *langScorer) compact(a, b, c rune) uint64 {
	return uint64(a)<<(2*s.runeBits) | uint64(b)<<s.runeBits | uint64(c)
}

// wideGid returns the gid of a trigram with a rune outside the alphabet,
// or -1 when no profile has it.
func (s *langScorer) wideGid(a, b, c rune) int {
	if uint32(a|b|c)>>s.runeBits != 0 {
		return -1
	}
	ck := s.compact(a, b, c)
	mask := uint64(len(s.wide) - 1)
	for i := (ck * 0x9E3779B97F4A7C15) >> s.wideShift; ; i = (i + 1) & mask {
		e := s.wide[i]
		if e == 0 {
			return -1
		}
		if e>>16 == ck {
			return int(e&0xffff) - 1
		}
	}
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

// trigramCounter is the per-call scratch: counts per gid, and an
// open-addressing count table (Fibonacci hashing, linear probing) for the
// trigrams without a gid. Everything is left zeroed after a call.
type trigramCounter struct {
	cnt   []uint32 // per gid
	found []uint16 // gids counted, in first-seen order
	bits  []uint64 // bitmap of the found gids
	top   []uint64 // bitmap of the nonzero words of bits

	slots []countSlot
	shift uint    // 64 - log2(len(slots))
	used  []int32 // occupied slot numbers, in insertion order

	hist []int32 // per count: number of trigrams, then next rank
	rest []countSlot
	dist [maxLangs]int
	work []uint64
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
	if len(t.cnt) != len(s.keys) {
		t.cnt = make([]uint32, len(s.keys))
		t.found = make([]uint16, len(s.keys)+1)
		t.bits = make([]uint64, (len(s.keys)+63)/64)
		t.top = make([]uint64, (len(t.bits)+63)/64)
	}
	if len(t.hist) < len(text)+2 {
		t.hist = make([]int32, len(text)+2)
	}
	cnt, found, nf := t.cnt, t.found, 0

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
	// space; r1 starts as a space and r2 as txt[0]. ai holds the symbol
	// codes of r1, r2 (then r3) in 5 bits each.
	var r1, r2 rune = ' ', 0
	var ai uint32
	first := true
	for i := 0; i < len(text); {
		c := text[i]
		var r rune
		var code uint32
		if c < utf8.RuneSelf {
			// ASCII: a letter is Latin and votes; stop bytes become a
			// space; other bytes (controls) are kept as they are.
			i++
			r, code = rune(s.ascMap[c]), uint32(s.ascCode[c])
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
			code = uint32(alphaCode(r))
		}
		if first {
			r2, ai, first = r, code, false
			continue
		}
		ai = (ai<<5 | code) & (1<<15 - 1)
		if g := s.asciiGid[ai]; g < gidSkip {
			nf = countGid(cnt, found, nf, g)
		} else if g == gidWide {
			nf = s.countOther(t, nf, r1, r2, r)
		}
		r1, r2 = r2, r
	}
	if !first { // the final space as r3
		ai = ai << 5 & (1<<15 - 1)
		if g := s.asciiGid[ai]; g < gidSkip {
			nf = countGid(cnt, found, nf, g)
		} else if g == gidWide {
			nf = s.countOther(t, nf, r1, r2, ' ')
		}
	}
	nDistinct := nf + len(t.used)

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
			t.clearCounts(nf)
			return langResult{lang: -1}
		}
		if script == scHan && jp > 0 {
			script = scHiraganaKatakana
		}
	}
	res := langResult{script: scriptRangeTable(script)}
	if l := singleLang[script]; l >= 0 {
		t.clearCounts(nf)
		res.lang, res.confidence = l, 1
		return res
	}
	g := s.groups[script]

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
	dist := s.distances(t, nf)[g.first : g.first+len(g.langs)]
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
	confidentRate := float64(12.0/float64(nDistinct)) + 0.05
	if rate > confidentRate {
		res.confidence = 1.0
	} else {
		res.confidence = rate / confidentRate
	}
	return res
}

func (t *trigramCounter) clearCounts(nf int) {
	for _, g := range t.found[:nf] {
		t.cnt[g] = 0
	}
}

// distances ranks the counted trigrams as whatlanggo does (most frequent
// first; equal counts by descending key) and returns every language's
// distance; it clears the gid counts. The rank of a trigram of count c is
// the number of trigrams counted more often plus those counted c times
// with a greater key, so walking all trigrams by descending key and
// handing out per-count ranks in turn ranks them all.
func (s *langScorer) distances(t *trigramCounter, nf int) *[maxLangs]int {
	cnt, bm, top, hist := t.cnt, t.bits, t.top, t.hist
	maxCount := uint32(0)
	for _, g := range t.found[:nf] {
		c := cnt[g]
		maxCount = max(maxCount, c)
		hist[c]++
		bm[g>>6] |= 1 << (g & 63)
		top[g>>12] |= 1 << (g >> 6 & 63)
	}
	t.rest = t.rest[:0]
	for _, i := range t.used {
		sl := t.slots[i]
		maxCount = max(maxCount, uint32(sl.count))
		hist[sl.count]++
		t.rest = append(t.rest, countSlot{sl.key - 1, sl.count})
	}
	// hist[c] becomes the rank of the first trigram counted c times.
	next := int32(0)
	for c := int(maxCount); c >= 1; c-- {
		n := hist[c]
		hist[c] = next
		next += n
	}
	// The side-table trigrams, by descending key, merged into the walk.
	rest := t.rest
	if len(rest) > 1 {
		slices.SortFunc(rest, func(a, b countSlot) int {
			if a.key > b.key {
				return -1
			}
			return 1 // keys are distinct
		})
	}
	dist := &t.dist
	copy(dist[:], s.base)
	work := t.work[:0] // rank<<32 | info of the ranked trigrams with postings
	for tw := len(top) - 1; tw >= 0; tw-- {
		for w := top[tw]; w != 0; {
			b := 63 - bits.LeadingZeros64(w)
			w &^= 1 << b
			wi := tw<<6 | b
			for x := bm[wi]; x != 0; {
				bb := 63 - bits.LeadingZeros64(x)
				x &^= 1 << bb
				g := wi<<6 | bb
				c := cnt[g]
				cnt[g] = 0
				for len(rest) > 0 && rest[0].key > s.keys[g] {
					hist[rest[0].count]++
					rest = rest[1:]
				}
				rank := hist[c]
				hist[c]++
				if in := s.info[g]; in&0xff != 0 {
					work = append(work, uint64(rank)<<32|uint64(in))
				}
			}
			bm[wi] = 0
		}
		top[tw] = 0
	}
	t.work = work
	clear(hist[:maxCount+1])
	// Then each ranked trigram's postings.
	postings := s.postings
	for _, w := range work {
		rank := int(w >> 32)
		in := uint32(w)
		for _, p := range postings[in>>8 : in>>8+in&0xff] {
			d := rank - p.pos()
			m := d >> 63 // branch-free |d|: its sign is unpredictable
			dist[p.lang()] += (d ^ m - m) - wlMaxTrigramDistance
		}
	}
	return dist
}

// countGid counts gid g, recording it in found[nf] when new; it returns
// the new number of found gids.
func countGid(cnt []uint32, found []uint16, nf int, g uint16) int {
	found[nf] = g
	if cnt[g] == 0 {
		nf++
	}
	cnt[g]++
	return nf
}

// countOther counts a trigram with a rune outside the alphabet (when
// whatlanggo counts it): by gid when a profile has it, else in the side
// table.
func (s *langScorer) countOther(t *trigramCounter, nf int, r1, r2, r3 rune) int {
	if !counted(r1, r2, r3) {
		return nf
	}
	if g := s.wideGid(r1, r2, r3); g >= 0 {
		return countGid(t.cnt, t.found, nf, uint16(g))
	}
	t.add(packTrigram(r1, r2, r3))
	return nf
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
