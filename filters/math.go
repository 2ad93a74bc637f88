package filters

import (
	"strings"
	"unicode/utf8"

	"github.com/kilnlm/kiln/filters/text"
	"github.com/kilnlm/kiln/pipeline"
)

// MathConfig configures the math-content filter. The heuristic counts
// mathematical signals and keeps documents where they are dense enough:
//
//   - LaTeX math: each $...$ pair, \( \[ and math environments
//     (\begin{equation}, align, proof, theorem, ...) and math commands
//     (\frac, \sqrt, \sum, \int, \le, \alpha, \mathbb, \boxed, ...);
//   - Unicode math symbols (∑ ∫ √ ≤ ≥ ≠ ± × ÷ ∞ ∈ ∀ ∃ ⇒ π ...);
//   - equations: '=' between operands, arithmetic like 48/2 or 3 + 4;
//   - worked-solution structure: GSM8K's <<48/2=24>> and '####' answer
//     lines, 'Solution:' and 'Answer:'.
//
// score = signals per 100 words. A document is kept when score >= min_score
// and signals >= min_signals, so boilerplate pages (a TeX file of \input
// lines, a web page with one price) are dropped with reason "math_score".
type MathConfig struct {
	MinScore   float64 `param:"min_score" help:"min math signals per 100 words"`
	MinSignals int     `param:"min_signals" help:"min math signals in the document"`
}

// DefaultMathConfig returns the defaults, tuned on MATH, GSM8K, the Open
// Logic TeX sources and DCLM web pages (docs/perf/filters.md).
func DefaultMathConfig() *MathConfig { return &MathConfig{MinScore: 3, MinSignals: 3} }

// Math is the math filter and scorer.
type Math struct{ cfg MathConfig }

// NewMath builds the filter.
func NewMath(cfg MathConfig) (*Math, error) { return &Math{cfg: cfg}, nil }

// Name implements pipeline.Stage.
func (*Math) Name() string { return "math" }

var mathEnvs = map[string]bool{
	"equation": true, "equation*": true, "align": true, "align*": true, "gather": true, "gather*": true,
	"multline": true, "eqnarray": true, "displaymath": true, "math": true, "proof": true, "theorem": true,
	"lemma": true, "thm": true, "lem": true, "defn": true, "definition": true, "prop": true, "cor": true,
	"corollary": true, "proposition": true, "array": true, "matrix": true, "pmatrix": true, "bmatrix": true,
	"cases": true, "tabular": false,
}

var mathCommands = map[string]bool{
	"frac": true, "dfrac": true, "tfrac": true, "sqrt": true, "sum": true, "int": true, "prod": true, "lim": true,
	"cdot": true, "times": true, "div": true, "pm": true, "le": true, "leq": true, "ge": true, "geq": true,
	"neq": true, "ne": true, "approx": true, "equiv": true, "pi": true, "alpha": true, "beta": true,
	"gamma": true, "delta": true, "epsilon": true, "varepsilon": true, "theta": true, "lambda": true,
	"mu": true, "sigma": true, "phi": true, "varphi": true, "omega": true, "infty": true, "in": true,
	"notin": true, "subset": true, "subseteq": true, "cup": true, "cap": true, "emptyset": true,
	"forall": true, "exists": true, "neg": true, "land": true, "lor": true, "lnot": true, "to": true,
	"rightarrow": true, "leftarrow": true, "Rightarrow": true, "iff": true, "implies": true, "mapsto": true,
	"mathbb": true, "mathbf": true, "mathcal": true, "mathrm": true, "boxed": true, "binom": true,
	"log": true, "ln": true, "sin": true, "cos": true, "tan": true, "ldots": true, "cdots": true,
	"dots": true, "left": true, "right": true, "overline": true, "hat": true, "vec": true, "partial": true,
	"nabla": true, "circ": true, "angle": true, "triangle": true, "perp": true, "parallel": true,
	"colon": true, "vdash": true, "models": true, "Gamma": true, "Delta": true, "Sigma": true, "Phi": true,
}

const mathSymbols = "∑∫√≤≥≠±×÷∞∈∉∀∃⇒⇔→←↔≈≡πθ∂∇⊂⊆⊃⊇∪∩∅∧∨¬⊢⊨ℝℕℤℚℂ²³½¼¾"

// MathSignals counts the mathematical signals in s (see MathConfig).
func MathSignals(s string) int {
	n := 0
	dollars := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '$':
			dollars++
		case '\\':
			j := i + 1
			if j < len(s) && (s[j] == '(' || s[j] == '[') {
				n++
				continue
			}
			for j < len(s) && (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z') {
				j++
			}
			name := s[i+1 : j]
			if name == "begin" && j < len(s) && s[j] == '{' {
				if k := strings.IndexByte(s[j:], '}'); k > 0 && mathEnvs[s[j+1:j+k]] {
					n += 2
				}
			} else if mathCommands[name] {
				n++
			}
			i = j - 1
		case '=':
			// An equation: operands on both sides (digits, letters, brackets).
			if operandBefore(s, i) && operandAfter(s, i+1) {
				n++
			}
		case '+', '*', '/', '^':
			if digitBefore(s, i) && digitAfter(s, i+1) {
				n++
			}
		case '<':
			if strings.HasPrefix(s[i:], "<<") && strings.Contains(s[i:min(len(s), i+64)], ">>") {
				n++
			}
		case '#':
			if strings.HasPrefix(s[i:], "#### ") {
				n += 2
			}
		default:
			if c >= 0xC2 {
				r, size := utf8.DecodeRuneInString(s[i:])
				if strings.ContainsRune(mathSymbols, r) {
					n++
				}
				i += size - 1
			}
		}
	}
	return n + dollars/2
}

func operandBefore(s string, i int) bool {
	for i--; i >= 0 && s[i] == ' '; i-- {
	}
	if i < 0 {
		return false
	}
	c := s[i]
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == ')' || c == '}' || c == ']'
}

func operandAfter(s string, i int) bool {
	for ; i < len(s) && s[i] == ' '; i++ {
	}
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '(' || c == '\\' || c == '-' || c == '$'
}

func digitBefore(s string, i int) bool {
	for i--; i >= 0 && s[i] == ' '; i-- {
	}
	return i >= 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == ')')
}

func digitAfter(s string, i int) bool {
	for ; i < len(s) && s[i] == ' '; i++ {
	}
	return i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '(')
}

// Score returns the signal count and signals per 100 words.
func (m *Math) Score(s string) (signals int, score float64) {
	signals = MathSignals(s)
	words := text.CountWords(s)
	if words == 0 {
		return signals, 0
	}
	return signals, 100 * float64(signals) / float64(words)
}

// Apply implements pipeline.Stage.
func (m *Math) Apply(d *pipeline.Document) string {
	signals, score := m.Score(d.Text)
	d.SetMeta("math_score", score)
	if signals < m.cfg.MinSignals || score < m.cfg.MinScore {
		return "math_score"
	}
	return ""
}
