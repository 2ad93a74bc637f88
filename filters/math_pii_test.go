package filters

import (
	"strings"
	"testing"
)

func TestMath(t *testing.T) {
	m, _ := NewMath(*DefaultMathConfig())
	gsm := "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.\n\nNatalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72"
	tex := `Let $f(x) = \frac{1}{x^2+1}$. Then \begin{equation} \int_0^\infty f(x)\,dx = \frac{\pi}{2}. \end{equation}`
	runCases(t, m, []filterCase{
		{"gsm8k_kept", gsm, nil, ""},
		{"latex_kept", tex, nil, ""},
		{"unicode_kept", "For all ε > 0 there is δ with |x − y| < δ ⇒ |f(x) − f(y)| < ε, and ∑ aᵢ ≤ ∞.", nil, ""},
		{"math_score", "The weather was lovely today and we walked along the river to the old mill.", nil, "math_score"},
		{"math_score_one_price", "Tickets cost $20 and the show starts at 8pm. Bring friends, it is fun for the whole family and more.", nil, "math_score"},
		// 3 signals in 100 words (each "1+2" is two words) is exactly the
		// default density: kept; in 101 words it is not.
		{"math_score_signals_inside", ws(94) + " 1+2 3+4 5+6", nil, ""},
		{"math_score_signals_below", ws(95) + " 1+2 3+4 5+6", nil, "math_score"},
		{"math_score_too_few_signals", "1+2 3+4", nil, "math_score"},
	})
	d := docOf(tex)
	m.Apply(d)
	if s, _ := d.Meta["math_score"].(float64); s <= 0 {
		t.Errorf("math_score %v", d.Meta["math_score"])
	}
}

func TestPII(t *testing.T) {
	p, _ := NewPII(*DefaultPIIConfig())
	for _, c := range []struct{ in, want string }{
		{"mail john.doe+x@mail.example.com now", "mail <EMAIL_ADDRESS> now"},
		{"server 8.8.8.8, backup 1.1.1.1.", "server <IP_ADDRESS>, backup <IP_ADDRESS>."},
		{"lan 192.168.1.1 and 10.0.0.7 stay", "lan 192.168.1.1 and 10.0.0.7 stay"},
		{"version 1.2.3.4.5 and 300.1.1.1 stay", "version 1.2.3.4.5 and 300.1.1.1 stay"},
		{"not@an-address and a@b and @x.com stay", "not@an-address and a@b and @x.com stay"},
		{"no letters in the domain: not an e-mail, the IP is masked: root@8.8.8.8", "no letters in the domain: not an e-mail, the IP is masked: root@<IP_ADDRESS>"},
		{"a@b.co,c@d.org", "<EMAIL_ADDRESS>,<EMAIL_ADDRESS>"},
	} {
		d := docOf(c.in)
		if r := p.Apply(d); r != "" || d.Text != c.want {
			t.Errorf("PII(%q) = %q (%q), want %q", c.in, d.Text, r, c.want)
		}
	}
	all, _ := NewPII(PIIConfig{RemoveIPs: true, IPReplacement: "[IP]"})
	if got := all.Mask("lan 192.168.1.1"); got != "lan [IP]" {
		t.Errorf("only_remove_public_ips=false: %q", got)
	}
}

func FuzzPII(f *testing.F) {
	f.Add("a@b.co 8.8.8.8 x@y")
	f.Fuzz(func(t *testing.T, s string) {
		p, _ := NewPII(*DefaultPIIConfig())
		out := p.Mask(s)
		if !strings.Contains(s, "@") && !strings.Contains(s, ".") && out != s {
			t.Fatalf("changed text without @ or .: %q -> %q", s, out)
		}
		if p.Mask(out) != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, p.Mask(out))
		}
	})
}
