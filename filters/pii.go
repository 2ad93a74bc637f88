package filters

import (
	"strings"

	"github.com/kilnlm/kiln/pipeline"
)

// PIIConfig configures the PII formatter. It never drops a document: it
// replaces e-mail addresses and IPv4 addresses with fixed tokens, so the
// output is deterministic and the tokens are easy to find later.
type PIIConfig struct {
	RemoveEmails     bool   `param:"remove_emails" help:"mask e-mail addresses"`
	RemoveIPs        bool   `param:"remove_ips" help:"mask IPv4 addresses"`
	OnlyPublicIPs    bool   `param:"only_remove_public_ips" help:"leave private, loopback and reserved IPv4 ranges unmasked"`
	EmailReplacement string `param:"email_replacement" help:"token replacing each e-mail address"`
	IPReplacement    string `param:"ip_replacement" help:"token replacing each IP address"`
}

// DefaultPIIConfig returns the defaults.
func DefaultPIIConfig() *PIIConfig {
	return &PIIConfig{RemoveEmails: true, RemoveIPs: true, OnlyPublicIPs: true,
		EmailReplacement: "<EMAIL_ADDRESS>", IPReplacement: "<IP_ADDRESS>"}
}

// PII is the PII formatter.
type PII struct{ cfg PIIConfig }

// NewPII builds the formatter.
func NewPII(cfg PIIConfig) (*PII, error) { return &PII{cfg: cfg}, nil }

// Name implements pipeline.Stage.
func (*PII) Name() string { return "pii" }

// Apply implements pipeline.Stage; it always keeps the document.
func (p *PII) Apply(d *pipeline.Document) string {
	d.Text = p.Mask(d.Text)
	return ""
}

type span struct{ start, end int }

// Mask returns s with e-mails and IPs replaced.
func (p *PII) Mask(s string) string {
	var spans []span
	if p.cfg.RemoveEmails && strings.IndexByte(s, '@') >= 0 {
		spans = findEmails(s, spans)
	}
	nEmail := len(spans)
	if p.cfg.RemoveIPs && strings.IndexByte(s, '.') >= 0 {
		spans = findIPv4(s, spans, p.cfg.OnlyPublicIPs)
	}
	if len(spans) == 0 {
		return s
	}
	// E-mails are found first and IPs after; merge the two sorted runs,
	// dropping IPs inside an e-mail (user@10.0.0.1).
	var b strings.Builder
	b.Grow(len(s))
	emails, ips := spans[:nEmail], spans[nEmail:]
	pos := 0
	for len(emails) > 0 || len(ips) > 0 {
		var sp span
		tok := p.cfg.EmailReplacement
		if len(ips) == 0 || len(emails) > 0 && emails[0].start <= ips[0].start {
			sp, emails = emails[0], emails[1:]
		} else {
			sp, ips, tok = ips[0], ips[1:], p.cfg.IPReplacement
		}
		if sp.start < pos {
			continue
		}
		b.WriteString(s[pos:sp.start])
		b.WriteString(tok)
		pos = sp.end
	}
	b.WriteString(s[pos:])
	return b.String()
}

func isLocalChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// findEmails finds local@domain.tld addresses: a local part of RFC 5322
// atom characters (no leading or trailing dot), a domain of at least two
// labels whose last label has two or more letters.
func findEmails(s string, out []span) []span {
	last := 0
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(s[i:], '@')
		if k < 0 {
			break
		}
		i += k
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

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// findIPv4 finds dotted quads with octets 0..255 not embedded in a longer
// run of digits and dots (version numbers like 1.2.3.4.5 are skipped).
func findIPv4(s string, out []span, onlyPublic bool) []span {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	// A match starting at i has its first dot, with digits on both sides,
	// at most 3 bytes after i; before the next such dot no match can
	// start and the loop below only steps byte by byte, so it may jump to
	// three bytes before that dot. Most pages have no digit.digit at all.
	cand := -1 // the next digit.digit dot at or after i+1 (valid while cand > i)
	for i := 0; i < len(s); i++ {
		if cand <= i {
			cand = nextDigitDot(s, i+1)
			if cand < 0 {
				break
			}
		}
		i = max(i, cand-3)
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

// nextDigitDot returns the index of the first '.' at or after from with
// an ASCII digit on each side, or -1.
func nextDigitDot(s string, from int) int {
	for from < len(s) {
		k := strings.IndexByte(s[from:], '.')
		if k < 0 {
			return -1
		}
		k += from
		if k > 0 && k+1 < len(s) && s[k-1]-'0' < 10 && s[k+1]-'0' < 10 {
			return k
		}
		from = k + 1
	}
	return -1
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// publicIPv4 excludes private (10/8, 172.16/12, 192.168/16), loopback,
// link-local, CGNAT, unspecified, multicast and reserved ranges.
func publicIPv4(o [4]int) bool {
	switch {
	case o[0] == 0, o[0] == 10, o[0] == 127, o[0] >= 224:
		return false
	case o[0] == 172 && o[1] >= 16 && o[1] < 32:
		return false
	case o[0] == 192 && o[1] == 168:
		return false
	case o[0] == 169 && o[1] == 254:
		return false
	case o[0] == 100 && o[1] >= 64 && o[1] < 128:
		return false
	}
	return true
}
