package tokenize

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// OutputConfig configures the tokenize output step.
type OutputConfig struct {
	Tokenizer   string `param:"tokenizer" help:"path to a Hugging Face tokenizer.json (byte-level BPE)"`
	EOS         string `param:"eos" help:"token appended to every document: auto (the tokenizer's end-of-text token), none, or a token string"`
	BOS         string `param:"bos" help:"token prepended to every document: none, auto (the tokenizer's begin-of-text token) or a token string"`
	ShardBytes  int64  `param:"shard_bytes" help:"target size of one shard's token file in bytes"`
	Dataset     string `param:"dataset" help:"curated dataset version id recorded in the shard manifest"`
	PromptField string `param:"prompt_field" help:"metadata field holding an SFT prompt: its tokens precede the text with loss mask 0 (enables the loss mask)"`
	Special     bool   `param:"special" help:"add the tokenizer's template tokens (post-processor) around each document"`
}

// DefaultOutputConfig holds the published defaults: EOS after every
// document as datatrove and Megatron do, no BOS, 1 GiB shards.
func DefaultOutputConfig() *OutputConfig {
	return &OutputConfig{EOS: "auto", BOS: "none", ShardBytes: shard.DefaultShardBytes}
}

// Register adds the tokenizer output step to r.
func Register(r *pipeline.Registry) {
	r.Add(pipeline.StepDef{
		Name:     "tokenize",
		Kind:     pipeline.KindOutput,
		Help:     "tokenize documents with a Hugging Face tokenizer.json into packed, document-aware shards (docs/shard-format.md)",
		Defaults: func() any { return DefaultOutputConfig() },
		New: func(cfg any) (any, error) {
			c, ok := cfg.(*OutputConfig)
			if !ok {
				return nil, fmt.Errorf("tokenize: config is %T", cfg)
			}
			return NewOutput(c)
		},
	})
}

// Output is the pipeline output that writes shards. Each task writes its
// own shard files and a part manifest; Finish merges the parts into one
// shard set whose manifest (shards.json) lists every task's shards in task
// order.
type Output struct {
	cfg      OutputConfig
	tok      *Tokenizer
	bos, eos int
}

// partPrefix names a task's files; partSuffix ends its part manifest.
const (
	partPrefix = "task-%05d-"
	partGlob   = "task-*-part.json"
)

// NewOutput loads the tokenizer and resolves the BOS/EOS policy.
func NewOutput(c *OutputConfig) (*Output, error) {
	if c.Tokenizer == "" {
		return nil, errors.New("tokenize: parameter tokenizer (path to tokenizer.json) is required")
	}
	tok, err := Load(c.Tokenizer)
	if err != nil {
		return nil, err
	}
	o := &Output{cfg: *c, tok: tok}
	if o.eos, err = resolveToken(tok, c.EOS, tok.EOS(), "eos"); err != nil {
		return nil, err
	}
	if o.bos, err = resolveToken(tok, c.BOS, tok.BOS(), "bos"); err != nil {
		return nil, err
	}
	if o.cfg.ShardBytes <= 0 {
		o.cfg.ShardBytes = shard.DefaultShardBytes
	}
	return o, nil
}

// Tokenizer returns the loaded tokenizer.
func (o *Output) Tokenizer() *Tokenizer { return o.tok }

// DependsOn implements pipeline.FileDependent: the tokenizer.json.
func (o *Output) DependsOn() []string { return []string{o.cfg.Tokenizer} }

func resolveToken(tok *Tokenizer, spec string, auto int, what string) (int, error) {
	switch spec {
	case "", "none":
		return -1, nil
	case "auto":
		if auto < 0 {
			return -1, fmt.Errorf("tokenize: %s=auto but %s has no recognised %s token; name one or use none", what, tok.Name(), what)
		}
		return auto, nil
	}
	id, ok := tok.TokenID(spec)
	if !ok {
		return -1, fmt.Errorf("tokenize: %s token %q not in the tokenizer's vocabulary", what, spec)
	}
	return id, nil
}

// Name implements pipeline.Output.
func (o *Output) Name() string { return "tokenize" }

func (o *Output) writerOptions(prefix string) shard.WriterOptions {
	return shard.WriterOptions{
		VocabSize: o.tok.VocabSize(), ShardBytes: o.cfg.ShardBytes, LossMask: o.cfg.PromptField != "",
		Prefix: prefix, Tokenizer: filepath.Base(filepath.Dir(o.tok.Name())) + "/" + filepath.Base(o.tok.Name()),
		TokenizerHash: o.tok.Hash(), Dataset: o.cfg.Dataset,
		AddBOS: o.bos >= 0, AddEOS: o.eos >= 0, BOSID: o.bos, EOSID: o.eos, NoManifest: true,
	}
}

// OpenTask implements pipeline.Output.
func (o *Output) OpenTask(dir string, task int) (pipeline.TaskWriter, error) {
	prefix := fmt.Sprintf(partPrefix, task)
	w, err := shard.NewWriter(dir, o.writerOptions(prefix))
	if err != nil {
		return nil, err
	}
	return &taskWriter{o: o, w: w, enc: o.tok.NewEncoder(), part: filepath.Join(dir, prefix+"part.json")}, nil
}

type taskWriter struct {
	o    *Output
	w    *shard.Writer
	enc  *Encoder
	part string
	ids  []int32
	mask []uint8
}

// Write tokenizes one document and appends it to the task's shards.
func (tw *taskWriter) Write(d *pipeline.Document) error {
	ids, mask := tw.o.encodeDoc(tw.enc, d, tw.ids[:0], tw.mask[:0])
	tw.ids, tw.mask = ids, mask
	src := d.Source
	if src == "" {
		src = "unknown"
	}
	if tw.o.cfg.PromptField == "" {
		mask = nil
	}
	if err := tw.w.AddDoc(ids, mask, src); err != nil {
		return fmt.Errorf("tokenize document %s (%s record %d): %w", d.ID, d.Prov.File, d.Prov.Record, err)
	}
	return nil
}

// encodeDoc applies the BOS/EOS policy and the optional prompt mask.
func (o *Output) encodeDoc(e *Encoder, d *pipeline.Document, ids []int32, mask []uint8) ([]int32, []uint8) {
	if o.bos >= 0 {
		ids = append(ids, int32(o.bos))
	}
	if o.cfg.Special {
		ids = append(ids, o.tok.postPrefix...)
	}
	if o.cfg.PromptField != "" {
		ids = e.Encode(d.MetaString(o.cfg.PromptField), ids)
	}
	for len(mask) < len(ids) {
		mask = append(mask, 0) // BOS, template prefix and prompt are not targets
	}
	ids = e.Encode(d.Text, ids)
	if o.cfg.Special {
		ids = append(ids, o.tok.postSuffix...)
	}
	if o.eos >= 0 {
		ids = append(ids, int32(o.eos))
	}
	for len(mask) < len(ids) {
		mask = append(mask, 1)
	}
	return ids, mask
}

// Close finishes the task's shards and writes its part manifest.
func (tw *taskWriter) Close() error {
	if err := tw.w.Close(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(tw.w.Manifest(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(tw.part, b, 0o644); err != nil {
		return fmt.Errorf("tokenize: write part manifest: %w", err)
	}
	return nil
}

// Finish merges every task's part manifest found under dir (in task order)
// into dir/shards.json.
func (o *Output) Finish(dir string, tasks int) error {
	parts, prefixes, err := collectParts(dir)
	if err != nil {
		return err
	}
	if len(parts) != tasks {
		return fmt.Errorf("tokenize finish: found %d task part manifests under %s, want %d", len(parts), dir, tasks)
	}
	return writeMerged(dir, parts, prefixes, o.cfg.Dataset)
}

// SetDataset records the curated dataset's version id (the executor knows it
// before outputs finish); an explicit dataset parameter wins.
func (o *Output) SetDataset(versionID string) {
	if o.cfg.Dataset == "" {
		o.cfg.Dataset = versionID
	}
}

// collectParts finds task part manifests under dir, sorted by task number
// (the file names carry it, zero-padded).
func collectParts(dir string) ([]*shard.Manifest, []string, error) {
	type found struct{ base, rel string }
	var list []found
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := filepath.Match(partGlob, d.Name()); ok && !d.IsDir() {
			rel, err := filepath.Rel(dir, filepath.Dir(p))
			if err != nil {
				return err
			}
			list = append(list, found{d.Name(), rel})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("tokenize finish: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].base < list[j].base })
	var parts []*shard.Manifest
	var prefixes []string
	for _, f := range list {
		p := filepath.Join(dir, f.rel, f.base)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("tokenize finish: %w", err)
		}
		var m shard.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, nil, fmt.Errorf("tokenize finish: parse %s: %w", p, err)
		}
		rel := f.rel
		if rel == "." {
			rel = ""
		}
		parts = append(parts, &m)
		prefixes = append(prefixes, filepath.ToSlash(rel))
	}
	return parts, prefixes, nil
}

func writeMerged(dir string, parts []*shard.Manifest, prefixes []string, dataset string) error {
	if len(parts) == 0 {
		return fmt.Errorf("tokenize finish: no task part manifests under %s", dir)
	}
	m, err := shard.Merge(parts, prefixes)
	if err != nil {
		return fmt.Errorf("tokenize finish: %w", err)
	}
	if dataset != "" {
		m.Dataset = dataset
	}
	// Part manifests stay beside their shards: Finish can be re-run from
	// them and always produces the same shards.json.
	return shard.WriteManifest(dir, m)
}

// parallelTasks is a small helper for the CLI: run fn for every index on
// up to workers goroutines, returning the first error.
func parallelTasks(n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
