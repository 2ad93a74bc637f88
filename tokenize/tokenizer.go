package tokenize

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a loaded byte-level BPE tokenizer. It is immutable and safe
// for concurrent use; Encode borrows a per-goroutine Encoder from a pool.
type Tokenizer struct {
	name, hash string
	model      *bpeModel
	nfc        bool
	pre        []splitter

	added       []addedToken
	rawMatcher  *addedMatcher // tokens matched on the raw text
	normMatcher *addedMatcher // tokens matched after normalization
	special     []bool

	idBytes   [][]byte // raw bytes of every id (added tokens: content)
	idText    []string // the token as written in tokenizer.json
	vocabSize int

	postPrefix, postSuffix []int32 // TemplateProcessing's single template
	bos, eos               int32

	pool sync.Pool
}

// Name is the path the tokenizer was loaded from ("" when parsed).
func (t *Tokenizer) Name() string { return t.name }

// Hash is "sha256:<hex>" of the tokenizer.json bytes.
func (t *Tokenizer) Hash() string { return t.hash }

// VocabSize is one more than the largest id, added tokens included.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// EOS returns the end-of-text id guessed from the special tokens, -1 if none.
func (t *Tokenizer) EOS() int { return int(t.eos) }

// BOS returns the begin-of-text id guessed from the special tokens, -1 if none.
func (t *Tokenizer) BOS() int { return int(t.bos) }

// TokenID returns the id of a token given as its tokenizer.json string.
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	for _, a := range t.added {
		if a.content == tok {
			return int(a.id), true
		}
	}
	for id, s := range t.idText {
		if s == tok {
			return id, true
		}
	}
	return 0, false
}

func (t *Tokenizer) normalize(s string) string {
	if !t.nfc || isASCII(s) || norm.NFC.IsNormalString(s) {
		return s
	}
	return norm.NFC.String(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Encoder holds one goroutine's scratch space and pre-token cache. It is
// not safe for concurrent use; make one per goroutine with NewEncoder.
type Encoder struct {
	t     *Tokenizer
	bpe   bpeScratch
	segs  []segment
	nsegs []segment
	bufs  [][]string
	cache *wordCache
}

// NewEncoder returns a fresh encoder for t.
func (t *Tokenizer) NewEncoder() *Encoder {
	return &Encoder{t: t, bufs: make([][]string, len(t.pre)), cache: newWordCache()}
}

// Encode appends the ids of text to dst, as HF's encode with
// add_special_tokens=false: added tokens in the text are recognised, no
// template tokens are added.
func (t *Tokenizer) Encode(text string, dst []int32) []int32 {
	e, _ := t.pool.Get().(*Encoder)
	if e == nil {
		e = t.NewEncoder()
	}
	dst = e.Encode(text, dst)
	t.pool.Put(e)
	return dst
}

// EncodeSpecial is Encode plus the post-processor's template tokens (e.g.
// a BOS), as HF's add_special_tokens=true.
func (t *Tokenizer) EncodeSpecial(text string, dst []int32) []int32 {
	dst = append(dst, t.postPrefix...)
	dst = t.Encode(text, dst)
	return append(dst, t.postSuffix...)
}

// Template returns the ids the post-processor adds before and after a
// single sequence (empty for GPT-2, SmolLM2 and Qwen3).
func (t *Tokenizer) Template() (prefix, suffix []int32) { return t.postPrefix, t.postSuffix }

// EncodeBatch encodes texts on up to workers goroutines (each with its own
// Encoder) and returns the ids in input order.
func (t *Tokenizer) EncodeBatch(ctx context.Context, texts []string, workers int) ([][]int32, error) {
	out := make([][]int32, len(texts))
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := t.NewEncoder()
			for i := range next {
				out[i] = e.Encode(texts[i], nil)
			}
		}()
	}
	var err error
	for i := range texts {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out, err
}

// Encode appends the ids of text to dst (see Tokenizer.Encode).
func (e *Encoder) Encode(text string, dst []int32) []int32 {
	t := e.t
	e.segs = t.rawMatcher.split(text, e.segs[:0])
	for _, s := range e.segs {
		if s.id >= 0 {
			dst = append(dst, s.id)
			continue
		}
		txt := t.normalize(s.text)
		if t.normMatcher == nil {
			dst = e.encodeText(txt, 0, dst)
			continue
		}
		e.nsegs = t.normMatcher.split(txt, e.nsegs[:0])
		for _, ns := range e.nsegs {
			if ns.id >= 0 {
				dst = append(dst, ns.id)
			} else {
				dst = e.encodeText(ns.text, 0, dst)
			}
		}
	}
	return dst
}

// encodeText runs pre-tokenizer stage k over s and BPE over the pieces.
func (e *Encoder) encodeText(s string, k int, dst []int32) []int32 {
	if k == len(e.t.pre) {
		return e.encodePiece(s, dst)
	}
	pieces := e.t.pre[k].split(s, e.bufs[k][:0])
	e.bufs[k] = pieces
	if k+1 == len(e.t.pre) {
		for _, p := range pieces {
			dst = e.encodePiece(p, dst)
		}
		return dst
	}
	for i := 0; i < len(pieces); i++ {
		dst = e.encodeText(e.bufs[k][i], k+1, dst)
	}
	return dst
}

func (e *Encoder) encodePiece(p string, dst []int32) []int32 {
	if len(p) == 0 {
		return dst
	}
	h := e.cache.hash(p)
	if ids, ok := e.cache.get(p, h); ok {
		return append(dst, ids...)
	}
	n0 := len(dst)
	dst = e.t.model.encodeWord(p, &e.bpe, dst)
	e.cache.put(p, h, dst[n0:])
	return dst
}

// Decode appends the bytes of ids to dst. Byte-level BPE is lossless, so
// Decode(Encode(x)) returns x's bytes exactly for any x without a
// normalizer (with NFC it returns NFC(x)), including invalid UTF-8. With
// skipSpecial, special added tokens are left out.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool, dst []byte) ([]byte, error) {
	for i, id := range ids {
		if id < 0 || int(id) >= len(t.idBytes) || t.idBytes[id] == nil {
			return dst, fmt.Errorf("decode: id %d at position %d is not in the vocabulary (size %d)", id, i, t.vocabSize)
		}
		if skipSpecial && t.special[id] {
			continue
		}
		dst = append(dst, t.idBytes[id]...)
	}
	return dst, nil
}

// DecodeString decodes ids to text as HF's ByteLevel decoder does: byte
// sequences that are not valid UTF-8 become U+FFFD.
func (t *Tokenizer) DecodeString(ids []int32, skipSpecial bool) (string, error) {
	b, err := t.Decode(ids, skipSpecial, nil)
	if err != nil {
		return "", err
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

// HasAllBytes reports whether every byte value has a token. SmolLM2's
// vocabulary, for one, lacks 21 bytes (six control characters 0x04, 0x06,
// 0x13, 0x14, 0x16, 0x1D and 0xC0, 0xC1, 0xF1, 0xF2, 0xF5-0xFF); like
// Hugging Face (no unk token), Kiln drops such bytes when encoding, so text
// containing them does not round-trip with that tokenizer.
func (t *Tokenizer) HasAllBytes() bool {
	for _, id := range t.model.byteID {
		if id < 0 {
			return false
		}
	}
	return true
}

// Token returns the token string of id as tokenizer.json writes it.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.idText) {
		return ""
	}
	return t.idText[id]
}
