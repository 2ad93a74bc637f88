package tokenize

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
)

// Pre-tokenizer choices for training, by name.
const (
	PreGPT2   = "gpt2"   // ByteLevel with GPT-2's regex
	PreSmolLM = "smollm" // Digits (individual) + ByteLevel, as SmolLM/SmolLM2
	PreLlama3 = "llama3" // Split with the Llama-3 regex + ByteLevel, as SmolLM3
	PreQwen2  = "qwen2"  // Split with the Qwen2 regex + ByteLevel
)

// PreTokenizers lists the accepted TrainOptions.PreTokenizer values.
var PreTokenizers = []string{PreGPT2, PreSmolLM, PreLlama3, PreQwen2}

// TrainOptions configure BPE training.
type TrainOptions struct {
	VocabSize     int      // total, special tokens and the 256 bytes included
	SpecialTokens []string // get ids 0..len-1, matched before BPE when encoding
	PreTokenizer  string   // one of PreTokenizers
	MinFrequency  int64    // stop when the best pair occurs fewer times (default 2)
}

// Trainer learns a byte-level BPE vocabulary. Feed it documents (Add), then
// call Train. Only the word counts are kept, so memory grows with the
// number of distinct pre-tokens, not with the corpus.
type Trainer struct {
	opts  TrainOptions
	pre   []splitter
	bufs  [][]string
	words map[string]int64
	docs  int64
	bytes int64
	// Skipped counts input records the readers could not use, by reason.
	Skipped map[string]int64
}

// NewTrainer checks the options and returns an empty trainer.
func NewTrainer(o TrainOptions) (*Trainer, error) {
	if o.MinFrequency <= 0 {
		o.MinFrequency = 2
	}
	if o.VocabSize < 256+len(o.SpecialTokens) {
		return nil, fmt.Errorf("train: vocab size %d is below 256 bytes + %d special tokens", o.VocabSize, len(o.SpecialTokens))
	}
	seen := map[string]bool{}
	for _, s := range o.SpecialTokens {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("train: special token %q empty or repeated", s)
		}
		seen[s] = true
	}
	raw, err := preTokenizerJSON(o.PreTokenizer)
	if err != nil {
		return nil, err
	}
	var bl bool
	pre, err := buildPreTokenizer(raw, &bl)
	if err != nil {
		return nil, err
	}
	return &Trainer{opts: o, pre: pre, bufs: make([][]string, len(pre)), words: map[string]int64{}}, nil
}

// preTokenizerJSON is the tokenizer.json pre_tokenizer for a choice.
func preTokenizerJSON(name string) (json.RawMessage, error) {
	bl := func(regex bool) map[string]any {
		return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": regex}
	}
	split := func(p string) map[string]any {
		return map[string]any{"type": "Split", "pattern": map[string]any{"Regex": p}, "behavior": "Isolated", "invert": false}
	}
	var v any
	switch name {
	case PreGPT2:
		v = bl(true)
	case PreSmolLM:
		v = map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "Digits", "individual_digits": true}, bl(true)}}
	case PreLlama3:
		v = map[string]any{"type": "Sequence", "pretokenizers": []any{split(PatternLlama3), bl(false)}}
	case PreQwen2:
		v = map[string]any{"type": "Sequence", "pretokenizers": []any{split(PatternQwen2), bl(false)}}
	default:
		return nil, fmt.Errorf("train: unknown pre-tokenizer %q (known: gpt2, smollm, llama3, qwen2)", name)
	}
	return json.Marshal(v)
}

// Add counts the pre-tokens of one document. Special tokens in the text
// are cut out first, as encoding will.
func (t *Trainer) Add(text string) {
	t.docs++
	t.bytes += int64(len(text))
	for len(text) > 0 {
		cut, next := len(text), len(text)
		for _, s := range t.opts.SpecialTokens {
			if i := indexString(text[:cut], s); i >= 0 {
				cut, next = i, i+len(s)
			}
		}
		t.count(text[:cut], 0)
		text = text[next:]
	}
}

func indexString(s, sub string) int { return bytes.Index([]byte(s), []byte(sub)) }

func (t *Trainer) count(s string, k int) {
	if k == len(t.pre) {
		if s != "" {
			if _, ok := t.words[s]; !ok {
				s = string([]byte(s)) // do not pin the caller's document
			}
			t.words[s]++
		}
		return
	}
	pieces := t.pre[k].split(s, t.bufs[k][:0])
	t.bufs[k] = pieces
	for i := 0; i < len(pieces); i++ {
		t.count(t.bufs[k][i], k+1)
	}
}

// Merge adds another trainer's counts (from a parallel pass) into t.
func (t *Trainer) Merge(o *Trainer) {
	for w, c := range o.words {
		t.words[w] += c
	}
	t.docs += o.docs
	t.bytes += o.bytes
	for k, v := range o.Skipped {
		if t.Skipped == nil {
			t.Skipped = map[string]int64{}
		}
		t.Skipped[k] += v
	}
}

// Stats reports documents, bytes and distinct pre-tokens seen.
func (t *Trainer) Stats() (docs, bytes int64, words int) { return t.docs, t.bytes, len(t.words) }

type trainWord struct {
	syms  []int32
	count int64
}

type pairKeyT struct{ a, b int32 }

type pairItem struct {
	p     pairKeyT
	count int64
}

// pairHeap orders by count (high first), then by pair ids (low first), so
// training is deterministic.
type pairHeap []pairItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	if h[i].p.a != h[j].p.a {
		return h[i].p.a < h[j].p.a
	}
	return h[i].p.b < h[j].p.b
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// Trained is the result of training: the vocabulary (raw bytes per id) and
// the merges in rank order.
type Trained struct {
	Special []string
	Tokens  [][]byte // id -> raw bytes (special tokens hold their text)
	Merges  [][2]int32
	Pre     string
}

// Train runs the merge loop until the vocabulary is full or no pair occurs
// MinFrequency times.
func (t *Trainer) Train(ctx context.Context) (*Trained, error) {
	res := &Trained{Special: t.opts.SpecialTokens, Pre: t.opts.PreTokenizer}
	for _, s := range t.opts.SpecialTokens {
		res.Tokens = append(res.Tokens, []byte(s))
	}
	base := int32(len(res.Tokens))
	for b := 0; b < 256; b++ {
		res.Tokens = append(res.Tokens, []byte{byte(b)})
	}
	byID := map[string]int32{}
	for id := int(base); id < len(res.Tokens); id++ {
		byID[string(res.Tokens[id])] = int32(id)
	}
	// Words in sorted order so every map iteration below is replaced by a
	// deterministic one.
	keys := make([]string, 0, len(t.words))
	for w := range t.words {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	words := make([]trainWord, len(keys))
	counts := map[pairKeyT]int64{}
	where := map[pairKeyT]map[int32]struct{}{}
	for i, w := range keys {
		syms := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			syms[j] = base + int32(w[j])
		}
		words[i] = trainWord{syms: syms, count: t.words[w]}
		for j := 0; j+1 < len(syms); j++ {
			p := pairKeyT{syms[j], syms[j+1]}
			counts[p] += words[i].count
			if where[p] == nil {
				where[p] = map[int32]struct{}{}
			}
			where[p][int32(i)] = struct{}{}
		}
	}
	h := make(pairHeap, 0, len(counts))
	for p, c := range counts {
		h = append(h, pairItem{p, c})
	}
	heap.Init(&h)
	var idxs []int32
	for len(res.Tokens) < t.opts.VocabSize && h.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		top := heap.Pop(&h).(pairItem)
		cur := counts[top.p]
		if cur != top.count {
			if cur > 0 {
				heap.Push(&h, pairItem{top.p, cur}) // stale entry: requeue at its true count
			}
			continue
		}
		if cur < t.opts.MinFrequency {
			break
		}
		merged := append(append([]byte{}, res.Tokens[top.p.a]...), res.Tokens[top.p.b]...)
		newID, exists := byID[string(merged)]
		if !exists {
			newID = int32(len(res.Tokens))
			res.Tokens = append(res.Tokens, merged)
			byID[string(merged)] = newID
		}
		res.Merges = append(res.Merges, [2]int32{top.p.a, top.p.b})
		idxs = idxs[:0]
		for wi := range where[top.p] {
			idxs = append(idxs, wi)
		}
		sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
		touched := map[pairKeyT]struct{}{}
		for _, wi := range idxs {
			w := &words[wi]
			for j := 0; j+1 < len(w.syms); j++ {
				p := pairKeyT{w.syms[j], w.syms[j+1]}
				counts[p] -= w.count
				touched[p] = struct{}{}
			}
			out := w.syms[:0]
			for j := 0; j < len(w.syms); j++ {
				if j+1 < len(w.syms) && w.syms[j] == top.p.a && w.syms[j+1] == top.p.b {
					out = append(out, newID)
					j++
				} else {
					out = append(out, w.syms[j])
				}
			}
			w.syms = out
			for j := 0; j+1 < len(w.syms); j++ {
				p := pairKeyT{w.syms[j], w.syms[j+1]}
				counts[p] += w.count
				touched[p] = struct{}{}
				if where[p] == nil {
					where[p] = map[int32]struct{}{}
				}
				where[p][wi] = struct{}{}
			}
		}
		delete(where, top.p)
		delete(counts, top.p)
		// Requeue pairs whose counts rose (new pairs and pairs gaining
		// occurrences); entries for pairs that fell are fixed lazily.
		tp := make([]pairKeyT, 0, len(touched))
		for p := range touched {
			tp = append(tp, p)
		}
		sort.Slice(tp, func(i, j int) bool {
			if tp[i].a != tp[j].a {
				return tp[i].a < tp[j].a
			}
			return tp[i].b < tp[j].b
		})
		for _, p := range tp {
			if c := counts[p]; c > 0 {
				heap.Push(&h, pairItem{p, c})
			} else {
				delete(counts, p)
				delete(where, p)
			}
		}
	}
	return res, nil
}

// JSON renders the trained model as a Hugging Face tokenizer.json.
func (r *Trained) JSON() ([]byte, error) {
	pre, err := preTokenizerJSON(r.Pre)
	if err != nil {
		return nil, err
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var at []added
	for i, s := range r.Special {
		at = append(at, added{ID: i, Content: s, Special: true})
	}
	ns := len(r.Special)
	vocab := make([]string, len(r.Tokens))
	for i, t := range r.Tokens {
		if i < ns {
			vocab[i] = string(t)
		} else {
			vocab[i] = byteLevelEncode(t)
		}
	}
	merges := make([][2]string, len(r.Merges))
	for i, m := range r.Merges {
		merges[i] = [2]string{vocab[m[0]], vocab[m[1]]}
	}
	// encoding/json sorts map keys; write the vocab in id order instead so
	// the file reads naturally and diffs well.
	var vb bytes.Buffer
	vb.WriteByte('{')
	for i, v := range vocab {
		if i > 0 {
			vb.WriteByte(',')
		}
		k, err := marshalNoEscape(v)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&vb, "%s:%d", k, i)
	}
	vb.WriteByte('}')
	bl := json.RawMessage(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`)
	doc := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   at,
		"normalizer":     nil,
		"pre_tokenizer":  pre,
		"post_processor": bl,
		"decoder":        bl,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": json.RawMessage(vb.Bytes()), "merges": merges,
		},
	}
	if at == nil {
		doc["added_tokens"] = []added{}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func marshalNoEscape(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// WriteFile writes the tokenizer.json to path.
func (r *Trained) WriteFile(path string) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	if len(r.Tokens) == 0 {
		return errors.New("train: empty vocabulary")
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
