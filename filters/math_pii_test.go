package filters

import (
	"slices"
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

// refFindEmails and refFindIPv4 are the byte-by-byte scanners the faster
// ones replaced; the finders must return the same spans.
func refFindEmails(s string, out []span) []span {
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		a := i
		for a > last && isLocalChar(s[a-1]) {
			a--
		}
		for a < i && s[a] == '.' {
			a++
		}
		if a == i {
			continue
		}
		b := i + 1
		for b < len(s) && isDomainChar(s[b]) {
			b++
		}
		for b > i+1 && (s[b-1] == '.' || s[b-1] == '-') {
			b--
		}
		dom := s[i+1 : b]
		dot := strings.LastIndexByte(dom, '.')
		if dot <= 0 || strings.Contains(dom, "..") {
			continue
		}
		tld := dom[dot+1:]
		if len(tld) < 2 || !allLetters(tld) {
			continue
		}
		out = append(out, span{a, b})
		last = b
		i = b - 1
	}
	return out
}
func refFindIPv4(s string, out []span, onlyPublic bool) []span {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' || isLetter(s[i-1])) {
			continue
		}
		var oct [4]int
		j := i
		ok := true
		for k := 0; k < 4; k++ {
			st := j
			v := 0
			for j < len(s) && isDigit(s[j]) && j-st < 3 {
				v = v*10 + int(s[j]-'0')
				j++
			}
			if j == st || v > 255 || j-st > 1 && s[st] == '0' || j < len(s) && isDigit(s[j]) {
				ok = false
				break
			}
			oct[k] = v
			if k < 3 {
				if j >= len(s) || s[j] != '.' {
					ok = false
					break
				}
				j++
			}
		}
		if !ok {
			continue
		}
		if j < len(s) && (s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]) || isLetter(s[j])) {
			i = j
			continue
		}
		if onlyPublic && !publicIPv4(oct) {
			i = j
			continue
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

func samePIISpans(t *testing.T, s string) {
	t.Helper()
	if got, want := findEmails(s, nil), refFindEmails(s, nil); !slices.Equal(got, want) {
		t.Fatalf("findEmails(%q) = %v, reference %v", s, got, want)
	}
	for _, public := range []bool{false, true} {
		if got, want := findIPv4(s, nil, public), refFindIPv4(s, nil, public); !slices.Equal(got, want) {
			t.Fatalf("findIPv4(%q, %v) = %v, reference %v", s, public, got, want)
		}
	}
}

func TestPIIFindersMatchReference(t *testing.T) {
	cases := []string{"", ".", "1.2", "1.2.3.4", "x1.2.3.4", "01.2.3.4", "1.2.3.4.5", "8.8.8.8.", "8.8.8.8a",
		"a@b.co 8.8.8.8 x@y", "1234.5.6.7 .1.2.3.4 9.9.9.9", "v1.2.3.4 and 255.255.255.255/300.1.1.1", "1.1.1.1.1.1.1.1 2.2.2.2",
		"12.34.56.78 1.2.3.4 10.0.0.1 172.16.0.1 8.8.4.4"}
	// Every placement of an address against digits, dots and letters.
	for _, pre := range []string{"", "1", "12", "123", ".", "a", " ", "9."} {
		for _, post := range []string{"", "1", ".", ".5", "a", " ", "@x.com"} {
			for _, ip := range []string{"8.8.8.8", "1.22.133.4", "256.1.1.1", "8.8.8"} {
				cases = append(cases, pre+ip+post, "x@"+pre+ip+post)
			}
		}
	}
	for _, d := range webDocs(t) {
		cases = append(cases, d)
	}
	for _, s := range cases {
		samePIISpans(t, s)
	}
}

func FuzzPIIFindersMatchReference(f *testing.F) {
	for _, s := range []string{"a@b.co 8.8.8.8 x@y", "1.2.3.4.5 9.9.9.9", "12.3.4.5x 6.7.8.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { samePIISpans(t, s) })
}
