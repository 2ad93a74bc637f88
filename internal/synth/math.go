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
		p := fmt.Sprintf("A surveyor measures a %s whose two reference sides are %d metres and %d metres long. "+
			"If fencing costs %d dollars per metre along both reference sides and the gate adds %d dollars, what is the total cost of the fence?",
			shape, w, h, g.between(2, 30), g.between(10, 90))
		out[i] = map[string]string{"problem": p, "solution": fmt.Sprintf("The reference sides total %d metres.", w+h)}
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
			d.Text = "Practice set, problem 1.\n\n" + e["problem"] + "\n\nSolution. " + e["solution"]
		case r < o.Contaminated+o.Junk:
			d.Kind, d.Text = KindJunk, g.junk()
		default:
			var parts []string
			for j, n := 0, g.between(2, 5); j < n; j++ {
				var p mathProblem
				switch g.rng.IntN(4) {
				case 0:
					p = g.quadratic()
				case 1:
					p = g.arithmeticSeries()
				case 2:
					p = g.wordProblem()
				default:
					parts = append(parts, g.derivation())
					continue
				}
				parts = append(parts, fmt.Sprintf("Problem %d. %s\n\nSolution. %s", j+1, p.Problem, p.Solution))
			}
			d.Text = strings.Join(parts, "\n\n")
		}
		docs = append(docs, d)
	}
	return docs
}
