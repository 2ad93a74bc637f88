// Package swar tests eight bytes at once in a 64-bit word (SIMD within a
// register): the scanners of the readers, the JSON writer and the filters
// use it to skip runs of bytes that need no attention without vector
// instructions. Every test here is exact per byte: no carry crosses from
// one byte into the next, so a result bit names the byte it is about.
package swar

const (
	Ones = 0x0101010101010101 // 0x01 in every byte: c*Ones repeats byte c
	Low  = 0x7f7f7f7f7f7f7f7f // the low seven bits of every byte
	High = 0x8080808080808080 // the top bit of every byte
)

// Load8 reads s[i:i+8] little-endian (the compiler makes it one load).
func Load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Equal sets the top bit of each byte of x equal to c.
func Equal(x uint64, c byte) uint64 {
	v := x ^ uint64(c)*Ones
	return ^((v & Low) + Low | v | Low)
}

// Below sets the top bit of each byte of x below n (n at most 0x80).
func Below(x uint64, n byte) uint64 {
	return ^((x & Low) + uint64(0x80-n)*Ones | x) & High
}

// InRange sets the top bit of each byte of x between lo and hi inclusive,
// for x whose bytes are all below 0x80 (mask with Low first otherwise).
func InRange(x uint64, lo, hi byte) uint64 {
	return (x + uint64(0x80-lo)*Ones) &^ (x + uint64(0x7f-hi)*Ones) & High
}

// Gather packs the top bit of each byte of m (nothing else set) into eight
// bits, byte i to bit i.
func Gather(m uint64) uint64 { return (m >> 7) * 0x0102040810204080 >> 56 }
