package trainer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// MixtureData is a mixture opened for training: the loader's sources with
// a held-out tail of every shard set, the held-out documents, and lineage.
type MixtureData struct {
	Mix     *mixer.Mixture
	Sources map[string]mixer.DocSource
	HeldOut map[string]MemDocs
	Lineage Lineage
	Vocab   int // largest vocabulary the shard sets declare (0: unknown)
	sets    []*shard.Set
}

// OpenMixture opens every shard set of the mixture file. From each source
// it holds out its last heldOut documents (at most a tenth of the source)
// for per-source evaluation; the loader never sees them. vars override the
// spec's ${name} defaults.
func OpenMixture(path string, heldOut int, vars map[string]string) (*MixtureData, error) {
	mix, err := mixer.LoadMixture(path, mixer.LoadOptions{Vars: vars})
	if err != nil {
		return nil, err
	}
	md := &MixtureData{Mix: mix, Sources: map[string]mixer.DocSource{}, HeldOut: map[string]MemDocs{},
		Lineage: Lineage{MixtureFile: path, MixtureHash: mix.Hash(), MixtureVars: vars, Shards: map[string]string{}}}
	for _, s := range mix.Sources {
		if s.Path == "" {
			md.Close()
			return nil, fmt.Errorf("mixture %s line %d: source %q has no shard path", path, s.Line, s.Name)
		}
		set, err := shard.Open(s.Path)
		if err != nil {
			md.Close()
			return nil, fmt.Errorf("mixture %s: source %q: %w", path, s.Name, err)
		}
		md.sets = append(md.sets, set)
		man := set.Manifest()
		md.Lineage.Shards[s.Name] = man.VersionID
		md.Vocab = max(md.Vocab, man.VocabSize)
		n := min(heldOut, set.NumDocs()/10)
		var held MemDocs
		for i := set.NumDocs() - n; i < set.NumDocs(); i++ {
			held = append(held, set.Doc(i, nil))
		}
		md.HeldOut[s.Name] = held
		// mixer.Head keeps the shard source's loss masks and version check
		// visible to the loader while hiding the held-out tail.
		md.Sources[s.Name] = mixer.Head(mixer.ShardSource{Set: set}, set.NumDocs()-n)
	}
	return md, nil
}

// Close closes the shard sets.
func (md *MixtureData) Close() error {
	var first error
	for _, s := range md.sets {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Reopen returns the function that builds the loader from a saved state.
func (md *MixtureData) Reopen(opts mixer.LoaderOptions) func(json.RawMessage) (Data, error) {
	return func(st json.RawMessage) (Data, error) { return OpenLoader(md.Mix, md.Sources, opts, st) }
}

// Evals packs the held-out documents into at most maxBatches batches of
// rows x T per source.
func (md *MixtureData) Evals(rows, T, maxBatches int) map[string][]Input {
	ev := map[string][]Input{}
	for name, docs := range md.HeldOut {
		if b := EvalBatches(docs, rows, T, maxBatches); len(b) > 0 {
			ev[name] = b
		}
	}
	return ev
}

// CopySpecs copies the mixture file and a model config into the run
// directory's specs/ folder, so the run records every spec it used.
func CopySpecs(runDir, mixturePath string, cfg Config, opt Options) error {
	dir := filepath.Join(runDir, "specs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if mixturePath != "" {
		src, err := os.Open(mixturePath)
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.Create(filepath.Join(dir, filepath.Base(mixturePath)))
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			return fmt.Errorf("copy %s: %w", mixturePath, err)
		}
		if err := dst.Close(); err != nil {
			return err
		}
	}
	for name, v := range map[string]any{"model.json": cfg, "train.json": opt} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}
