package swar

import (
	"encoding/binary"
	"testing"
)

// TestExactPerByte puts every byte value in every lane, between
// neighbours chosen to provoke carries, and checks each lane's bit.
func TestExactPerByte(t *testing.T) {
	for lane := 0; lane < 8; lane++ {
		for _, fill := range []byte{0x00, 0x01, 0x1f, 0x20, 0x7f, 0x80, 0xff} {
			for v := 0; v < 256; v++ {
				var b [8]byte
				for i := range b {
					b[i] = fill
				}
				b[lane] = byte(v)
				x := binary.LittleEndian.Uint64(b[:])
				if got := Load8(string(b[:]), 0); got != x {
					t.Fatalf("Load8(%x) = %x", b, got)
				}
				var x7 [8]byte
				for i := range b {
					x7[i] = b[i] & 0x7f
				}
				for i := 0; i < 8; i++ {
					bit := func(m uint64) bool { return m>>(8*i+7)&1 == 1 }
					if got, want := bit(Equal(x, '"')), b[i] == '"'; got != want {
						t.Fatalf("Equal(%x, '\"') lane %d = %v", b, i, got)
					}
					if got, want := bit(Below(x, 0x20)), b[i] < 0x20; got != want {
						t.Fatalf("Below(%x, 0x20) lane %d = %v", b, i, got)
					}
					if got, want := bit(InRange(binary.LittleEndian.Uint64(x7[:]), '0', '9')), x7[i] >= '0' && x7[i] <= '9'; got != want {
						t.Fatalf("InRange(%x, '0', '9') lane %d = %v", x7, i, got)
					}
					if got, want := Gather(x&High)>>i&1 == 1, b[i] >= 0x80; got != want {
						t.Fatalf("Gather(%x) bit %d = %v", b, i, got)
					}
				}
				if Equal(x, '"')&^High != 0 || Below(x, 0x20)&^High != 0 {
					t.Fatalf("bits outside the top ones for %x", b)
				}
			}
		}
	}
}
