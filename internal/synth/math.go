package synth

import (
	"fmt"
	"strings"
)

// MathOptions sets the shape of a math corpus.
type MathOptions struct {
	Docs int
	// Contaminated is the fraction of documents that quote an evaluation
	// problem from EvalSet verbatim (decontamination must catch them).
	Contaminated float64
	Junk         float64
}

// mathProblem is a generated problem with its worked solution; answers are
// computed, not templated, so solutions are correct.
type mathProblem struct {
	Problem  string `json:"problem"`
	Solution string `json:"solution"`
}

func (g *Generator) quadratic() mathProblem {
	r1, r2 := g.between(-9, 9), g.between(-9, 9)
	b, c := -(r1 + r2), r1*r2
	p := fmt.Sprintf("Solve the equation $x^2 %+d x %+d = 0$ for real $x$.", b, c)
	s := fmt.Sprintf("We factor the quadratic: $x^2 %+d x %+d = (x %+d)(x %+d)$. "+
		"Setting each factor to zero gives $x = %d$ or $x = %d$. Therefore the solutions are $\\boxed{%d, %d}$.",
		b, c, -r1, -r2, r1, r2, min(r1, r2), max(r1, r2))
	return mathProblem{p, s}
}

func (g *Generator) arithmeticSeries() mathProblem {
	a, d, n := g.between(1, 20), g.between(1, 9), g.between(5, 40)
	sum := n * (2*a + (n-1)*d) / 2
	p := fmt.Sprintf("Find the sum of the first $%d$ terms of the arithmetic sequence with first term $%d$ and common difference $%d$.", n, a, d)
	s := fmt.Sprintf("The sum of an arithmetic series is \\[ S_n = \\frac{n}{2}\\left(2a + (n-1)d\\right). \\] "+
		"With $n = %d$, $a = %d$ and $d = %d$ we get $S_{%d} = \\frac{%d}{2}(%d + %d) = %d$. The answer is $\\boxed{%d}$.",
		n, a, d, n, n, 2*a, (n-1)*d, sum, sum)
	return mathProblem{p, s}
}

func (g *Generator) wordProblem() mathProblem {
	names := []string{"Maria", "Tom", "Aisha", "Kenji", "Lena", "Omar"}
	items := []string{"apples", "pencils", "stickers", "marbles", "books"}
	name, item := g.pick(names), g.pick(items)
	have, buy, price := g.between(3, 30), g.between(2, 12), g.between(2, 9)
	give := g.between(1, have)
	left := have - give + buy
	p := fmt.Sprintf("%s has %d %s. %s gives away %d of them and then buys %d more at $%d each. How many %s does %s have now, and how much money was spent?",
		name, have, item, name, give, buy, price, item, name)
	s := fmt.Sprintf("After giving away %d, %s has %d - %d = %d %s. Buying %d more gives %d + %d = %d. The purchase cost %d \\times %d = %d dollars. "+
		"So %s has %d %s and spent %d dollars.\n#### %d", give, name, have, give, have-give, item, buy, have-give, buy, left, buy, price, buy*price, name, left, item, buy*price, left)
	return mathProblem{p, s}
}

func (g *Generator) derivation() string {
	n := g.between(2, 6)
	return fmt.Sprintf("\\begin{theorem}\nFor every integer $n \\geq 1$, \\[ \\sum_{k=1}^{n} k^{%d} \\] is a polynomial in $n$ of degree $%d$.\n\\end{theorem}\n\n"+
		"\\begin{proof}\nWe argue by induction on $n$. For $n = 1$ the sum equals $1$. Assume the claim for $n$; then\n"+
		"\\begin{align}\n\\sum_{k=1}^{n+1} k^{%d} &= \\sum_{k=1}^{n} k^{%d} + (n+1)^{%d},\n\\end{align}\n"+
		"and $(n+1)^{%d}$ is a polynomial of degree $%d$, so the sum is a polynomial of degree at most $%d$. Comparing leading terms via $\\int_0^n x^{%d}\\,dx = \\frac{n^{%d}}{%d}$ shows the degree is exactly $%d$.\n\\end{proof}",
		n, n+1, n, n, n, n, n, n+1, n, n+1, n+1, n+1)
}

func (g *Generator) linearSystem() mathProblem {
	x, y := g.between(-9, 9), g.between(-9, 9)
	a, b, c, d := g.between(1, 9), g.between(1, 9), g.between(1, 9), g.between(-9, -1)
	e, f := a*x+b*y, c*x+d*y
	leads := []string{"Solve the system", "Find all pairs $(x, y)$ satisfying", "Determine $x$ and $y$ from", "Using elimination, solve"}
	p := fmt.Sprintf("%s \\begin{cases} %dx + %dy = %d \\\\ %dx %+dy = %d \\end{cases}", g.pick(leads), a, b, e, c, d, f)
	s := fmt.Sprintf("Multiply the first equation by $%d$ and the second by $%d$, then subtract to eliminate $x$: $(%d \\cdot %d - %d \\cdot %d) y = %d \\cdot %d - %d \\cdot %d$, so $y = %d$. "+
		"Substituting back gives $%dx = %d - %d \\cdot %d$, hence $x = %d$. The solution is $(x, y) = \\boxed{(%d, %d)}$.",
		c, a, c, b, a, d, c, e, a, f, y, a, e, b, y, x, x, y)
	return mathProblem{p, s}
}

func (g *Generator) derivative() mathProblem {
	a, n, b := g.between(2, 9), g.between(2, 7), g.between(1, 9)
	fns := []string{"f", "g", "h", "p", "q"}
	fn := g.pick(fns)
	p := fmt.Sprintf("Let $%s(x) = %d x^{%d} + %d \\sin x$. Compute $%s'(x)$ and evaluate it at $x = 0$.", fn, a, n, b, fn)
	s := fmt.Sprintf("By the power rule, $\\frac{d}{dx} %d x^{%d} = %d x^{%d}$, and $\\frac{d}{dx} \\sin x = \\cos x$. "+
		"Therefore $%s'(x) = %d x^{%d} + %d \\cos x$, and at $x = 0$ we get $%s'(0) = %d$.", a, n, a*n, n-1, fn, a*n, n-1, b, fn, b)
	return mathProblem{p, s}
}

func (g *Generator) probability() mathProblem {
	red, blue := g.between(2, 12), g.between(2, 12)
	things := []string{"marbles", "balls", "tokens", "cards", "beads"}
	places := []string{"a bag", "an urn", "a box", "a jar"}
	th := g.pick(things)
	num := red * (red - 1)
	den := (red + blue) * (red + blue - 1)
	gc := gcd(num, den)
	p := fmt.Sprintf("%s holds %d red and %d blue %s. Two are drawn without replacement. What is the probability that both are red?",
		strings.ToUpper(g.pick(places)[:1])+g.pick(places)[1:], red, blue, th)
	s := fmt.Sprintf("There are $\\binom{%d}{2}$ equally likely pairs and $\\binom{%d}{2}$ of them are both red, so the probability is "+
		"$\\frac{%d \\cdot %d}{%d \\cdot %d} = \\frac{%d}{%d}$.", red+blue, red, red, red-1, red+blue, red+blue-1, num/gc, den/gc)
	return mathProblem{p, s}
}

func (g *Generator) geometry() mathProblem {
	r := g.between(2, 30)
	shapes := []string{"circle", "circular disc", "round table top", "circular garden bed"}
	p := fmt.Sprintf("A %s has radius $r = %d$ cm. Find its area and circumference in terms of $\\pi$.", g.pick(shapes), r)
	s := fmt.Sprintf("The area is $A = \\pi r^2 = %d\\pi$ square centimetres and the circumference is $C = 2\\pi r = %d\\pi$ centimetres.", r*r, 2*r)
	return mathProblem{p, s}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	if a < 0 {
		return -a
	}
	return a
}

// mathTalk is the grammar for the prose around problems: real worksheets
// and notes explain, so no two pages share most of their text even when
// they practise the same problem types.
var mathTalk = topic{"mathematics",
	[]string{"student", "teacher", "lecture", "proof", "textbook", "exercise", "theorem", "calculation", "notebook", "exam", "tutor", "formula", "argument", "lemma", "seminar"},
	[]string{"relies on", "benefits from", "needs", "rewards", "is simplified by", "depends on", "illustrates", "motivates", "requires", "highlights"},
	[]string{"careful notation", "induction", "substitution", "symmetry", "estimates", "counterexamples", "diagrams", "algebra", "intuition", "definitions", "units", "limits", "inequalities", "bounds", "practice"}}

var mathIntros = []string{
	"Worked examples for revision, part %d.", "Homework solutions, week %d.", "Exercises from the lecture on topic %d.",
	"Practice problems with full solutions (set %d).", "Notes from the study group, session %d.", "Selected problems from chapter %d.",
}

// EvalSet returns the demo's evaluation problems (what decontamination
// protects). They use their own wording, so clean corpus documents never share
// a long n-gram with them by chance; only planted contamination does.
func EvalSet(seed uint64, n int) []map[string]string {
	g := New(seed ^ 0xe7a1)
	out := make([]map[string]string, n)
	shapes := []string{"rectangular garden", "triangular field", "circular pond", "square courtyard"}
	for i := range out {
		w, h := g.between(3, 99), g.between(3, 99)
		shape := g.pick(shapes)
		price, gate := g.between(2, 30), g.between(10, 90)
		p := fmt.Sprintf("A surveyor measures a %s whose two reference sides are $a = %d$ metres and $b = %d$ metres long. "+
			"If fencing costs $p = %d$ dollars per metre along both reference sides and the gate adds $g = %d$ dollars, what is the total cost $C = p(a + b) + g$ of the fence?",
			shape, w, h, price, gate)
		out[i] = map[string]string{"problem": p, "solution": fmt.Sprintf("$C = %d(%d + %d) + %d = %d$ dollars.", price, w, h, gate, price*(w+h)+gate)}
	}
	return out
}

// Math generates a math corpus: worked problems, theorem/proof sources and a
// few junk pages; some documents quote evaluation problems from eval.
func (g *Generator) Math(o MathOptions, eval []map[string]string) []Doc {
	docs := make([]Doc, 0, o.Docs)
	for i := 0; i < o.Docs; i++ {
		d := Doc{ID: fmt.Sprintf("math-%06d", i), Kind: KindMath}
		r := g.rng.Float64()
		switch {
		case r < o.Contaminated && len(eval) > 0:
			e := eval[g.rng.IntN(len(eval))]
			d.Kind = KindContaminate
			q := g.quadratic()
			d.Text = "Practice set.\n\nProblem 1. " + q.Problem + "\n\nSolution. " + q.Solution +
				"\n\nProblem 2. " + e["problem"] + "\n\nSolution. " + e["solution"]
		case r < o.Contaminated+o.Junk:
			d.Kind, d.Text = KindJunk, g.junk()
		default:
			parts := []string{fmt.Sprintf(g.pick(mathIntros), g.between(1, 40))}
			used := map[int]bool{}
			for j, n := 0, g.between(3, 7); j < n; j++ {
				var p mathProblem
				switch g.rng.IntN(8) {
				case 0:
					p = g.quadratic()
				case 1:
					p = g.arithmeticSeries()
				case 2:
					p = g.wordProblem()
				case 3:
					p = g.linearSystem()
				case 4:
					p = g.derivative()
				case 5:
					p = g.probability()
				case 6:
					p = g.geometry()
				default:
					parts = append(parts, g.derivation())
					continue
				}
				parts = append(parts, fmt.Sprintf("%s\n\nProblem %d. %s\n\nSolution. %s %s",
					g.sentence(mathTalk, used), j+1, p.Problem, p.Solution, g.sentence(mathTalk, used)))
			}
			d.Text = strings.Join(parts, "\n\n")
		}
		docs = append(docs, d)
	}
	return docs
}
