package tokenize

// byteLevelAlphabet returns GPT-2's byte-to-character table: printable
// Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in
// byte order. Vocabularies of byte-level BPE models are written in these
// characters; Kiln converts them back to raw bytes at load time.
func byteLevelAlphabet() (enc [256]rune) {
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			enc[b] = rune(b)
		} else {
			enc[b] = rune(256 + n)
			n++
		}
	}
	return enc
}

// byteLevelDecoder maps byte-level characters back to bytes.
func byteLevelDecoder() map[rune]byte {
	enc := byteLevelAlphabet()
	dec := make(map[rune]byte, 256)
	for b, r := range enc {
		dec[r] = byte(b)
	}
	return dec
}

// byteLevelEncode writes raw bytes as byte-level characters.
func byteLevelEncode(b []byte) string {
	enc := byteLevelAlphabet()
	out := make([]rune, len(b))
	for i, c := range b {
		out[i] = enc[c]
	}
	return string(out)
}

// byteLevelDecode converts a byte-level string back to bytes; ok is false
// when a character is outside the alphabet.
func byteLevelDecode(dec map[rune]byte, s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := dec[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}
