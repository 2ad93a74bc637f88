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

type topic struct {
	name     string
	subjects []string
	verbs    []string
	objects  []string
	details  []string
}

var topics = []topic{
	{"gardening",
		[]string{"the gardener", "a tomato plant", "the compost heap", "our raised bed", "the orchard", "a young seedling", "the soil"},
		[]string{"needs", "benefits from", "depends on", "responds well to", "struggles without", "thrives with"},
		[]string{"regular watering", "well drained soil", "a sunny position", "a layer of mulch", "careful pruning", "rich organic matter", "early spring planting"},
		[]string{"during the first few weeks", "especially in dry summers", "when the nights are still cold", "if you want a good harvest", "before the first frost arrives", "in most temperate climates"}},
	{"cycling",
		[]string{"a touring cyclist", "the rear derailleur", "a good pair of tyres", "the chain", "a long climb", "the club ride", "our local trail"},
		[]string{"requires", "rewards", "wears down without", "is easier with", "demands", "improves with"},
		[]string{"steady pacing", "regular cleaning", "the right gear ratio", "a bit of patience", "correct tyre pressure", "fresh lubricant", "a comfortable saddle"},
		[]string{"on long weekend rides", "after a wet week", "when the road turns upward", "for riders of every level", "throughout the racing season", "on gravel and tarmac alike"}},
	{"history",
		[]string{"the medieval town", "the old harbour", "a local historian", "the cathedral", "the trade guild", "the railway company", "the village school"},
		[]string{"grew because of", "was shaped by", "kept records of", "changed after", "was rebuilt with", "depended heavily on"},
		[]string{"the wool trade", "a series of floods", "new bridges across the river", "the arrival of the railway", "generous donations", "the harbour tolls", "careful stonework"},
		[]string{"in the fourteenth century", "over several generations", "according to surviving letters", "long before the industrial age", "as the parish records show", "within a single decade"}},
	{"cooking",
		[]string{"a good risotto", "the bread dough", "this soup", "a slow braise", "the pastry", "our favourite curry", "a simple salad"},
		[]string{"needs", "tastes better with", "is ruined by", "comes together with", "relies on", "improves with"},
		[]string{"patience and low heat", "freshly ground spices", "a splash of lemon juice", "cold butter", "a long resting time", "good olive oil", "plenty of seasoning"},
		[]string{"on a weeknight", "when guests arrive", "in the depths of winter", "after a long day", "for a family of four", "with very little effort"}},
	{"software",
		[]string{"the build system", "a careful code review", "the test suite", "our deployment script", "the database index", "a small refactoring", "the caching layer"},
		[]string{"catches", "prevents", "depends on", "speeds up", "simplifies", "reveals"},
		[]string{"subtle race conditions", "slow queries", "configuration drift", "unclear interfaces", "memory leaks", "flaky network calls", "duplicated logic"},
		[]string{"before a release", "in a growing team", "under heavy load", "when deadlines are tight", "across many services", "on every commit"}},
	{"astronomy",
		[]string{"the night sky", "a small telescope", "the Andromeda galaxy", "an amateur observer", "the planet Saturn", "a meteor shower", "the observatory"},
		[]string{"shows", "rewards", "is best seen with", "depends on", "reveals", "becomes clearer with"},
		[]string{"dark skies away from the city", "a steady tripod", "a few minutes of dark adaptation", "clear and dry air", "a good star chart", "patient observation", "a wide field eyepiece"},
		[]string{"in late autumn", "after midnight", "during a new moon", "from a quiet hillside", "on a cold clear evening", "with the naked eye"}},
}

var connectors = []string{"However,", "In practice,", "For example,", "As a result,", "Of course,", "In many cases,", "Still,", "Above all,"}

func (g *Generator) sentence(t topic) string {
	s := fmt.Sprintf("%s %s %s %s.", g.pick(t.subjects), g.pick(t.verbs), g.pick(t.objects), g.pick(t.details))
	s = strings.ToUpper(s[:1]) + s[1:]
	if g.rng.IntN(3) == 0 {
		c := g.pick(connectors)
		s = c + " " + strings.ToLower(s[:1]) + s[1:]
	}
	return s
}

func (g *Generator) paragraph(t topic, sentences int) string {
	parts := make([]string, sentences)
	for i := range parts {
		parts[i] = g.sentence(t)
	}
	return strings.Join(parts, " ")
}

func (g *Generator) article(t topic) string {
	var b strings.Builder
	title := strings.ToUpper(t.name[:1]) + t.name[1:]
	fmt.Fprintf(&b, "A practical guide to %s\n\n", title)
	for p, n := 0, g.between(4, 8); p < n; p++ {
		if p > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(g.paragraph(t, g.between(3, 6)))
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
		line := g.sentence(topics[g.rng.IntN(len(topics))])
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
		paras[i] = paras[i] + " " + g.sentence(t)
	case 1:
		paras = append(paras, "Updated: "+g.sentence(t))
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
