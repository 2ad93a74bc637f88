package mixer

import "math/bits"

// permRounds is the number of Feistel rounds. Four rounds of a strong round
// function already give a pseudo-random permutation (Luby-Rackoff); six leave
// margin for the small domains (a few hundred documents) a demo source has.
const permRounds = 6

// perm is a keyed pseudo-random permutation of [0, n) in O(1) memory: a
// balanced Feistel network over the smallest even-bit power-of-two domain
// holding n, restricted to [0, n) by cycle walking (re-encrypting until the
// value falls inside). The domain is at most 4n, so a lookup walks fewer
// than 4 times on average. Unlike a shuffled index array it costs nothing to
// build and its size does not grow with the source (nanotron and Megatron
// materialise such arrays).
type perm struct {
	n    uint64
	half uint
	mask uint64
	keys [permRounds]uint64
}

// newPerm builds the permutation of [0, n) for key.
func newPerm(n, key uint64) perm {
	p := perm{n: n}
	b := uint(2)
	if n > 1 {
		b = uint(bits.Len64(n - 1))
	}
	if b < 2 {
		b = 2
	}
	if b%2 == 1 {
		b++
	}
	p.half = b / 2
	p.mask = 1<<p.half - 1
	s := key
	for i := range p.keys {
		s = splitmix(s + uint64(i)*0x9e3779b97f4a7c15)
		p.keys[i] = s
	}
	return p
}

// at returns the i-th element of the permutation (i < n).
func (p *perm) at(i uint64) uint64 {
	if p.n <= 1 {
		return 0
	}
	x := p.enc(i)
	for x >= p.n {
		x = p.enc(x)
	}
	return x
}

func (p *perm) enc(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(splitmix(r^k)&p.mask)
	}
	return l<<p.half | r
}

// splitmix is the SplitMix64 finaliser: a cheap bijective 64-bit mixer.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hashString is FNV-1a, used to give each source name its own key stream.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// epochKey derives the permutation key of one source's epoch: a new epoch
// of the same source gets a new, unrelated order.
func epochKey(seed uint64, source string, epoch int64) uint64 {
	return splitmix(splitmix(seed^hashString(source)) + uint64(epoch)*0xd1b54a32d192ed03)
}
