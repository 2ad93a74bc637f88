// Package synth generates the demo's web and math corpora: deterministic,
// realistic-looking documents with the defects real crawls have (junk pages,
// boilerplate, near-duplicates, non-English pages) planted at known rates, so
// the demo needs no third-party text and its curation funnel is checkable.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Kind labels what a generated document was planted as, so tests can check
// that curation treats each kind as intended.
type Kind string

const (
	KindGood        Kind = "good"         // prose worth keeping
	KindJunk        Kind = "junk"         // nav pages, keyword spam, lorem ipsum
	KindBoilerplate Kind = "boilerplate"  // good prose wrapped in cookie banners and menus
	KindNearDup     Kind = "near_dup"     // an edited copy of an earlier document
	KindForeign     Kind = "non_english"  // prose in another language
	KindMath        Kind = "math"         // problems and derivations with LaTeX
	KindContaminate Kind = "contaminated" // contains an evaluation problem verbatim
)

// Doc is one generated document.
type Doc struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	URL  string `json:"url,omitempty"`
	Kind Kind   `json:"kind"`
	// DupOf names the document a near-duplicate was made from.
	DupOf string `json:"dup_of,omitempty"`
}

// Generator produces documents from a fixed seed.
type Generator struct {
	rng *rand.Rand
}

// New returns a generator; the same seed gives the same documents.
func New(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *Generator) pick(words []string) string { return words[g.rng.IntN(len(words))] }

func (g *Generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// topic is a small grammar: sentences combine determiners, shared
// adjectives and the topic's nouns and verbs, so a document rarely repeats
// a 5-gram (as real prose does not) while staying on one subject.
type topic struct {
	name    string
	nouns   []string // subjects
	verbs   []string // transitive, third person singular
	objects []string // plural or mass nouns
}

var topics = []topic{
	{"gardening",
		[]string{"gardener", "tomato plant", "compost heap", "raised bed", "orchard", "seedling", "hedge", "greenhouse", "allotment", "rose bush", "vegetable patch", "lawn", "herb border", "pear tree", "potting shed"},
		[]string{"needs", "benefits from", "depends on", "responds to", "struggles without", "thrives on", "tolerates", "suffers from", "rewards", "attracts"},
		[]string{"watering", "drainage", "sunlight", "mulch", "pruning", "manure", "pollinators", "slugs", "frost", "shade", "seaweed feed", "bees", "cuttings", "weeds", "loam"}},
	{"cycling",
		[]string{"cyclist", "derailleur", "tyre", "chain", "climb", "club ride", "trail", "frame", "saddle", "wheel", "commuter", "descent", "headwind", "sprint", "mechanic"},
		[]string{"requires", "rewards", "wears without", "is easier with", "demands", "improves with", "punishes", "tests", "needs", "favours"},
		[]string{"pacing", "cleaning", "gear ratios", "patience", "tyre pressure", "lubricant", "cadence", "spare tubes", "mudguards", "brake pads", "energy gels", "rest days", "bearings", "spokes", "lights"}},
	{"history",
		[]string{"town", "harbour", "historian", "cathedral", "guild", "railway company", "village school", "abbey", "market", "castle", "mill", "parish", "merchant", "bridge", "archive"},
		[]string{"grew because of", "was shaped by", "kept records of", "changed after", "was rebuilt with", "depended on", "profited from", "suffered from", "recorded", "preserved"},
		[]string{"wool", "floods", "tolls", "stonework", "donations", "taxes", "pilgrims", "charters", "letters", "timber", "fires", "plague", "ledgers", "maps", "treaties"}},
	{"cooking",
		[]string{"risotto", "bread dough", "soup", "braise", "pastry", "curry", "salad", "stew", "omelette", "sauce", "roast", "pancake batter", "stock", "marinade", "pie"},
		[]string{"needs", "tastes better with", "is ruined by", "comes together with", "relies on", "improves with", "balances", "welcomes", "hides", "absorbs"},
		[]string{"patience", "spices", "lemon juice", "butter", "resting time", "olive oil", "seasoning", "garlic", "fresh herbs", "stock", "vinegar", "cream", "shallots", "saffron", "pepper"}},
	{"software",
		[]string{"build system", "code review", "test suite", "deployment script", "database index", "refactoring", "cache", "compiler", "scheduler", "profiler", "linter", "release branch", "queue", "parser", "allocator"},
		[]string{"catches", "prevents", "depends on", "speeds up", "simplifies", "reveals", "hides", "amplifies", "tolerates", "exposes"},
		[]string{"race conditions", "slow queries", "configuration drift", "interfaces", "memory leaks", "network calls", "duplicated logic", "regressions", "timeouts", "deadlocks", "allocations", "retries", "dependencies", "edge cases", "warnings"}},
	{"astronomy",
		[]string{"night sky", "telescope", "galaxy", "observer", "planet", "meteor shower", "observatory", "nebula", "comet", "eyepiece", "star cluster", "moon", "binocular view", "camera", "astronomer"},
		[]string{"shows", "rewards", "is best seen with", "depends on", "reveals", "hides", "needs", "demands", "benefits from", "suffers from"},
		[]string{"dark skies", "tripods", "dark adaptation", "dry air", "star charts", "patience", "filters", "long exposures", "clear horizons", "cold nights", "magnification", "good seeing", "calibration", "tracking", "optics"}},
}

var (
	determiners = []string{"the", "a", "every", "this", "our", "each", "one", "that", "any", "your"}
	adjectives  = []string{"small", "old", "careful", "busy", "quiet", "simple", "modern", "local", "patient", "cheap", "heavy", "bright", "steady", "honest", "rare",
		"humble", "stubborn", "clever", "gentle", "rough", "famous", "ordinary", "proud", "tired", "curious", "reliable", "fragile", "generous", "strange", "narrow"}
	prepositions = []string{"in", "during", "after", "before", "throughout", "since", "until", "despite", "without", "because of"}
	timeNouns    = []string{"morning", "season", "week", "storm", "holiday", "winter", "decade", "harvest", "evening", "summer", "spring", "deadline", "journey", "festival", "month"}
	templates    = []string{
		"%[1]s %[2]s %[3]s %[4]s.",
		"%[4]s, %[1]s %[2]s %[3]s.",
		"Most people agree that %[1]s %[2]s %[3]s %[4]s.",
		"It is worth noting that %[1]s %[2]s %[3]s, and not only %[4]s.",
		"%[1]s %[2]s %[3]s, which is easy to forget %[4]s.",
		"Ask anyone with experience and they will tell you that %[1]s %[2]s %[3]s %[4]s.",
		"To be fair, %[1]s %[2]s %[3]s %[4]s as well.",
	}
)

func (g *Generator) nounPhrase(noun string) string {
	if g.rng.IntN(2) == 0 {
		return g.pick(determiners) + " " + g.pick(adjectives) + " " + noun
	}
	return g.pick(determiners) + " " + noun
}

// sentence writes one sentence; templates with fixed wording (index 2 on)
// are used at most once per document, as a writer would not repeat them.
func (g *Generator) sentence(t topic, used map[int]bool) string {
	ti := g.rng.IntN(len(templates))
	if ti >= 2 && used != nil {
		if used[ti] {
			ti = g.rng.IntN(2)
		}
		used[ti] = true
	}
	subj := g.nounPhrase(g.pick(t.nouns))
	obj := g.pick(t.objects)
	if g.rng.IntN(2) == 0 {
		obj = g.pick(adjectives) + " " + obj
	}
	tail := g.pick(prepositions) + " " + g.nounPhrase(g.pick(timeNouns))
	s := fmt.Sprintf(templates[ti], subj, g.pick(t.verbs), obj, tail)
	s = strings.ToUpper(s[:1]) + s[1:]
	if g.rng.IntN(4) == 0 {
		c := g.pick(connectors)
		s = c + " " + strings.ToLower(s[:1]) + s[1:]
	}
	return s
}

var connectors = []string{"However,", "In practice,", "For example,", "As a result,", "Of course,", "In many cases,", "Still,", "Above all,"}

func (g *Generator) paragraph(t topic, sentences int, used map[int]bool) string {
	parts := make([]string, sentences)
	for i := range parts {
		parts[i] = g.sentence(t, used)
	}
	return strings.Join(parts, " ")
}

func (g *Generator) article(t topic) string {
	var b strings.Builder
	title := strings.ToUpper(t.name[:1]) + t.name[1:]
	fmt.Fprintf(&b, "A practical guide to %s\n\n", title)
	used := map[int]bool{}
	for p, n := 0, g.between(4, 8); p < n; p++ {
		if p > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(g.paragraph(t, g.between(3, 6), used))
	}
	return b.String()
}

var navWords = []string{"Home", "About us", "Contact", "Login", "Register", "Cart", "Search", "Blog", "Shop", "FAQ", "Terms", "Privacy"}

var cookieLines = []string{
	"We use cookies to improve your experience. By continuing you accept our cookie policy.",
	"Accept all cookies",
	"Subscribe to our newsletter for weekly updates!",
	"Copyright 2024 All rights reserved.",
	"Share this article: Facebook | Twitter | Email",
}

func (g *Generator) junk() string {
	switch g.rng.IntN(4) {
	case 0: // navigation-only page
		var lines []string
		for i, n := 0, g.between(15, 40); i < n; i++ {
			lines = append(lines, g.pick(navWords))
		}
		return strings.Join(lines, "\n")
	case 1: // keyword spam
		kw := []string{"cheap", "best", "buy", "online", "discount", "deal", "free", "shipping"}
		var words []string
		for i, n := 0, g.between(80, 200); i < n; i++ {
			words = append(words, g.pick(kw))
		}
		return strings.Join(words, " ")
	case 2:
		return strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", g.between(5, 20))
	default: // repeated lines
		line := g.sentence(topics[g.rng.IntN(len(topics))], nil)
		return strings.Repeat(line+"\n", g.between(20, 60))
	}
}

func (g *Generator) withBoilerplate(body string) string {
	var b strings.Builder
	b.WriteString(strings.Join([]string{g.pick(navWords), g.pick(navWords), g.pick(navWords)}, " | "))
	b.WriteString("\n")
	b.WriteString(body)
	b.WriteString("\n")
	for _, l := range cookieLines[:g.between(2, len(cookieLines))] {
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}

// nearCopy edits a document lightly: replaces, drops or inserts a few
// sentences so its Jaccard similarity to the original stays high.
func (g *Generator) nearCopy(text string) string {
	paras := strings.Split(text, "\n\n")
	t := topics[g.rng.IntN(len(topics))]
	i := g.rng.IntN(len(paras))
	switch g.rng.IntN(3) {
	case 0:
		paras[i] = paras[i] + " " + g.sentence(t, nil)
	case 1:
		paras = append(paras, "Updated: "+g.sentence(t, nil))
	default:
		if len(paras) > 3 {
			paras = append(paras[:i], paras[i+1:]...)
		}
	}
	return strings.Join(paras, "\n\n")
}

var foreign = map[string][][]string{
	"fr": {{"Le jardin", "La ville", "Notre équipe", "Cette recette", "Le vélo"}, {"demande", "profite de", "change avec", "dépend de"}, {"beaucoup de patience", "un peu de soleil", "des outils simples", "une bonne organisation"}, {"chaque printemps.", "pendant l'hiver.", "dans la plupart des cas.", "depuis des années."}},
	"de": {{"Der Garten", "Die Stadt", "Unser Team", "Dieses Rezept", "Das Fahrrad"}, {"braucht", "profitiert von", "ändert sich mit", "hängt ab von"}, {"viel Geduld", "etwas Sonne", "einfachen Werkzeugen", "guter Planung"}, {"jeden Frühling.", "im Winter.", "in den meisten Fällen.", "seit vielen Jahren."}},
	"es": {{"El jardín", "La ciudad", "Nuestro equipo", "Esta receta", "La bicicleta"}, {"necesita", "se beneficia de", "cambia con", "depende de"}, {"mucha paciencia", "un poco de sol", "herramientas sencillas", "una buena planificación"}, {"cada primavera.", "durante el invierno.", "en la mayoría de los casos.", "desde hace años."}},
	"zh": {{"这个花园", "这座城市", "我们的团队", "这道菜", "这辆自行车"}, {"需要", "依赖", "受益于", "取决于"}, {"很多耐心", "充足的阳光", "简单的工具", "良好的计划"}, {"在每年春天。", "在冬天。", "在大多数情况下。", "已经很多年了。"}},
}

var foreignLangs = []string{"de", "es", "fr", "zh"}

func (g *Generator) foreignDoc() string {
	parts := foreign[g.pick(foreignLangs)]
	var paras []string
	for p, n := 0, g.between(3, 6); p < n; p++ {
		var sents []string
		for s, m := 0, g.between(4, 7); s < m; s++ {
			sep := " "
			if strings.HasSuffix(parts[3][0], "。") {
				sep = ""
			}
			sents = append(sents, g.pick(parts[0])+sep+g.pick(parts[1])+sep+g.pick(parts[2])+sep+g.pick(parts[3]))
		}
		paras = append(paras, strings.Join(sents, " "))
	}
	return strings.Join(paras, "\n\n")
}

// WebOptions sets the planted rates of a web corpus (fractions of documents).
type WebOptions struct {
	Docs        int
	Junk        float64
	Boilerplate float64
	NearDup     float64
	Foreign     float64
}

// DefaultWeb is the demo's web corpus shape.
func DefaultWeb(docs int) WebOptions {
	return WebOptions{Docs: docs, Junk: 0.15, Boilerplate: 0.15, NearDup: 0.10, Foreign: 0.08}
}

// Web generates a web corpus.
func (g *Generator) Web(o WebOptions) []Doc {
	docs := make([]Doc, 0, o.Docs)
	var good []int
	for i := 0; i < o.Docs; i++ {
		d := Doc{ID: fmt.Sprintf("web-%06d", i), URL: fmt.Sprintf("https://site%03d.example/%s/%d", g.rng.IntN(200), topics[i%len(topics)].name, i)}
		r := g.rng.Float64()
		switch {
		case r < o.Junk:
			d.Kind, d.Text = KindJunk, g.junk()
		case r < o.Junk+o.Boilerplate:
			d.Kind, d.Text = KindBoilerplate, g.withBoilerplate(g.article(topics[g.rng.IntN(len(topics))]))
		case r < o.Junk+o.Boilerplate+o.NearDup && len(good) > 0:
			src := docs[good[g.rng.IntN(len(good))]]
			d.Kind, d.Text, d.DupOf = KindNearDup, g.nearCopy(src.Text), src.ID
		case r < o.Junk+o.Boilerplate+o.NearDup+o.Foreign:
			d.Kind, d.Text = KindForeign, g.foreignDoc()
		default:
			d.Kind, d.Text = KindGood, g.article(topics[g.rng.IntN(len(topics))])
			good = append(good, len(docs))
		}
		docs = append(docs, d)
	}
	return docs
}
