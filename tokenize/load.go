package tokenize

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// The subset of HF's tokenizer.json Kiln reads. Unknown component types are
// errors, never silently ignored.
type fileJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         modelJSON        `json:"model"`
}

type addedTokenJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelJSON struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

type componentJSON struct {
	Type string `json:"type"`
	// Sequence
	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	Decoders      []json.RawMessage `json:"decoders"`
	// ByteLevel
	AddPrefixSpace *bool `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`
	// Split
	Pattern  *struct{ Regex, String *string } `json:"pattern"`
	Behavior string                           `json:"behavior"`
	Invert   bool                             `json:"invert"`
	// Digits
	IndividualDigits bool `json:"individual_digits"`
	// TemplateProcessing
	Single        []templateItem                 `json:"single"`
	SpecialTokens map[string]templateSpecialJSON `json:"special_tokens"`
}

type templateItem struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type templateSpecialJSON struct {
	ID  string `json:"id"`
	IDs []int  `json:"ids"`
}

// Load reads a Hugging Face tokenizer.json for a byte-level BPE model.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	t.name = path
	return t, nil
}

// Parse builds a tokenizer from the bytes of a tokenizer.json.
func Parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	sum := sha256.Sum256(data)
	t := &Tokenizer{hash: "sha256:" + hex.EncodeToString(sum[:]), bos: -1, eos: -1}
	if err := t.buildModel(&f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if err := t.buildNormalizer(f.Normalizer); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	byteLevel := false
	pre, err := buildPreTokenizer(f.PreTokenizer, &byteLevel)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if !byteLevel {
		return nil, errors.New("pre_tokenizer: no ByteLevel step; Kiln supports byte-level BPE models only")
	}
	t.pre = fuse(pre)
	if err := t.buildAdded(f.AddedTokens); err != nil {
		return nil, fmt.Errorf("added_tokens: %w", err)
	}
	if err := t.buildDecoder(f.Decoder); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	if err := t.buildPostProcessor(f.PostProcessor); err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	t.guessBOSEOS()
	return t, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

func (t *Tokenizer) buildModel(m *modelJSON) error {
	if m.Type != "BPE" && m.Type != "" {
		return fmt.Errorf("type %q not supported (Kiln reads byte-level BPE)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return fmt.Errorf("dropout %v not supported (encoding would not be deterministic)", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return fmt.Errorf("continuing_subword_prefix %q not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return fmt.Errorf("end_of_word_suffix %q not supported", *m.EndOfWordSuffix)
	}
	if m.ByteFallback {
		return errors.New("byte_fallback not supported for byte-level models")
	}
	if len(m.Vocab) == 0 {
		return errors.New("empty vocab")
	}
	dec := byteLevelDecoder()
	bm := &bpeModel{merges: newPairTable(len(m.Merges)), vocab: make(map[string]int32, len(m.Vocab)),
		ignore: m.IgnoreMerges, unkID: -1, fuseUnk: m.FuseUnk}
	for i := range bm.byteID {
		bm.byteID[i] = -1
	}
	maxID := -1
	for tok, id := range m.Vocab {
		if id < 0 || id > 1<<30 {
			return fmt.Errorf("vocab entry %q has id %d out of range", tok, id)
		}
		if id > maxID {
			maxID = id
		}
	}
	t.idBytes = make([][]byte, maxID+1)
	t.idText = make([]string, maxID+1)
	for tok, id := range m.Vocab {
		raw, ok := byteLevelDecode(dec, tok)
		if !ok {
			// Not a byte-level string (e.g. an unk token like "<unk>"):
			// it decodes as its literal text.
			raw = []byte(tok)
		} else if len(raw) == 1 {
			bm.byteID[raw[0]] = int32(id)
		}
		if t.idBytes[id] != nil {
			return fmt.Errorf("vocab ids %d assigned twice", id)
		}
		t.idBytes[id] = raw
		t.idText[id] = tok
		bm.vocab[string(raw)] = int32(id)
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return fmt.Errorf("unk_token %q not in vocab", *m.UnkToken)
		}
		bm.unkID = int32(id)
	}
	for rank, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return fmt.Errorf("merge %d: %w", rank, err)
		}
		ia, oka := m.Vocab[a]
		ib, okb := m.Vocab[b]
		im, okm := m.Vocab[a+b]
		if !oka || !okb || !okm {
			return fmt.Errorf("merge %d (%q %q): token not in vocab", rank, a, b)
		}
		// A duplicated merge keeps its first (lowest) rank, as in HF.
		bm.merges.put(pairKey(int32(ia), int32(ib)), uint64(rank)<<32|uint64(uint32(im)))
	}
	t.model = bm
	t.vocabSize = maxID + 1
	return nil
}

// parseMerge accepts both encodings HF writes: "a b" and ["a", "b"].
func parseMerge(raw json.RawMessage) (string, string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || strings.Contains(b, " ") {
			return "", "", fmt.Errorf("%q: want two tokens separated by one space", s)
		}
		return a, b, nil
	}
	var p []string
	if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
		return "", "", fmt.Errorf("%s: want \"a b\" or [\"a\", \"b\"]", raw)
	}
	return p[0], p[1], nil
}

func (t *Tokenizer) buildNormalizer(raw json.RawMessage) error {
	c, err := parseComponent(raw)
	if c == nil || err != nil {
		return err
	}
	switch c.Type {
	case "NFC":
		t.nfc = true
		return nil
	case "Sequence":
		return eachItem(c.Normalizers, t.buildNormalizer)
	}
	return fmt.Errorf("type %q not supported (Kiln supports NFC)", c.Type)
}

func buildPreTokenizer(raw json.RawMessage, byteLevel *bool) ([]splitter, error) {
	c, err := parseComponent(raw)
	if c == nil || err != nil {
		return nil, err
	}
	switch c.Type {
	case "Sequence":
		var out []splitter
		for i, p := range c.Pretokenizers {
			s, err := buildPreTokenizer(p, byteLevel)
			if err != nil {
				return nil, fmt.Errorf("sequence item %d: %w", i, err)
			}
			out = append(out, s...)
		}
		return out, nil
	case "ByteLevel":
		*byteLevel = true
		var inner splitter
		if c.UseRegex == nil || *c.UseRegex {
			inner, _ = scannerFor(PatternGPT2)
		}
		if c.AddPrefixSpace != nil && *c.AddPrefixSpace {
			return []splitter{prefixSpaceSplitter{inner}}, nil
		}
		if inner == nil {
			return nil, nil
		}
		return []splitter{inner}, nil
	case "Split":
		if c.Pattern == nil || c.Pattern.Regex == nil {
			return nil, errors.New("Split: only Regex patterns are supported")
		}
		if c.Behavior != "Isolated" || c.Invert {
			return nil, fmt.Errorf("Split: behavior %q invert=%t not supported (want Isolated, false)", c.Behavior, c.Invert)
		}
		s, err := scannerFor(*c.Pattern.Regex)
		if err != nil {
			return nil, fmt.Errorf("Split: %w", err)
		}
		return []splitter{s}, nil
	case "Digits":
		return []splitter{digitsSplitter{newClassifier(), c.IndividualDigits}}, nil
	}
	return nil, fmt.Errorf("type %q not supported (Kiln supports ByteLevel, Split, Digits, Sequence)", c.Type)
}

func (t *Tokenizer) buildAdded(list []addedTokenJSON) error {
	for i, a := range list {
		if a.Content == "" {
			return fmt.Errorf("entry %d: empty content", i)
		}
		if a.ID < 0 || a.ID > 1<<30 {
			return fmt.Errorf("entry %d (%q): id %d out of range", i, a.Content, a.ID)
		}
		if a.ID >= len(t.idBytes) {
			nb := make([][]byte, a.ID+1)
			copy(nb, t.idBytes)
			t.idBytes = nb
			nt := make([]string, a.ID+1)
			copy(nt, t.idText)
			t.idText = nt
		}
		t.idBytes[a.ID] = []byte(a.Content)
		t.idText[a.ID] = a.Content
		t.added = append(t.added, addedToken{id: int32(a.ID), content: a.Content, singleWord: a.SingleWord,
			lstrip: a.LStrip, rstrip: a.RStrip, normalized: a.Normalized, special: a.Special})
	}
	if len(t.idBytes) > t.vocabSize {
		t.vocabSize = len(t.idBytes)
	}
	t.special = make([]bool, t.vocabSize)
	for _, a := range t.added {
		if a.special {
			t.special[a.id] = true
		}
	}
	var raw, norm []addedToken
	for _, a := range t.added {
		if a.normalized {
			c := a
			c.content = t.normalize(a.content)
			norm = append(norm, c)
		} else {
			raw = append(raw, a)
		}
	}
	t.rawMatcher = newAddedMatcher(raw)
	t.normMatcher = newAddedMatcher(norm)
	return nil
}

func (t *Tokenizer) buildDecoder(raw json.RawMessage) error {
	c, err := parseComponent(raw)
	if c == nil || err != nil {
		return err
	}
	switch c.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		return eachItem(c.Decoders, t.buildDecoder)
	}
	return fmt.Errorf("type %q not supported (Kiln decodes ByteLevel)", c.Type)
}

func (t *Tokenizer) buildPostProcessor(raw json.RawMessage) error {
	c, err := parseComponent(raw)
	if c == nil || err != nil {
		return err
	}
	switch c.Type {
	case "ByteLevel":
		return nil // offsets only; ids are unchanged
	case "Sequence":
		return eachItem(c.Processors, t.buildPostProcessor)
	case "TemplateProcessing":
		seen := false
		for _, it := range c.Single {
			switch {
			case it.Sequence != nil:
				seen = true
			case it.SpecialToken != nil:
				st, ok := c.SpecialTokens[it.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("TemplateProcessing: special token %q not defined", it.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if seen {
						t.postSuffix = append(t.postSuffix, int32(id))
					} else {
						t.postPrefix = append(t.postPrefix, int32(id))
					}
				}
			}
		}
		return nil
	}
	return fmt.Errorf("type %q not supported (Kiln supports ByteLevel, TemplateProcessing, Sequence)", c.Type)
}

// guessBOSEOS picks the end-of-text and begin-of-text ids from the special
// tokens by their conventional names, for the shard writer's defaults.
func (t *Tokenizer) guessBOSEOS() {
	names := map[string]bool{}
	ids := map[string]int32{}
	for _, a := range t.added {
		names[a.content] = true
		ids[a.content] = a.id
	}
	for _, n := range []string{"<|endoftext|>", "<|end_of_text|>", "</s>", "<|eot_id|>", "<eos>"} {
		if names[n] {
			t.eos = ids[n]
			break
		}
	}
	for _, n := range []string{"<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"} {
		if names[n] {
			t.bos = ids[n]
			break
		}
	}
}

// AddedTokens lists the added tokens' contents sorted by id.
func (t *Tokenizer) AddedTokens() []string {
	a := append([]addedToken(nil), t.added...)
	sort.Slice(a, func(i, j int) bool { return a[i].id < a[j].id })
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = x.content
	}
	return out
}

// parseComponent decodes one tokenizer.json component (normalizer,
// pre-tokenizer, decoder, post-processor); a JSON null gives nil.
func parseComponent(raw json.RawMessage) (*componentJSON, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c componentJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// eachItem builds every item of a Sequence component, naming the item
// that fails.
func eachItem(items []json.RawMessage, build func(json.RawMessage) error) error {
	for i, it := range items {
		if err := build(it); err != nil {
			return fmt.Errorf("sequence item %d: %w", i, err)
		}
	}
	return nil
}
