// Package lineage walks the provenance chain of a training checkpoint:
// checkpoint -> mixture and its stages -> shard sets -> curated dataset
// versions -> recipes and raw inputs, and re-checks every hash the chain
// records (checkpoint files, mixture hash, shard sha256s, curated outputs,
// recipe and raw input hashes).
//
// Links are stored as version ids, not paths (a checkpoint records each
// source's shard-set version id; a shard set records its curated dataset's
// version id), so the walk locates each link by id: first where the
// recorded path points, then by searching the folders around the run
// (the demo layout TOP/{curate,shards,train}) for a manifest with that id.
package lineage

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/tokenize/shard"
	"github.com/kilnlm/kiln/trainer"
)

// Options controls how the chain's links are located.
type Options struct {
	// SearchRoots are folders searched (recursively, MaxDepth deep) for
	// shard sets and curated runs whose recorded path does not resolve.
	// Empty: the run directory's parent and grandparent.
	SearchRoots []string
	// MaxDepth bounds the search below each root (default 4).
	MaxDepth int
}

// Chain is a checkpoint's resolved lineage.
type Chain struct {
	Checkpoint Checkpoint
	Mixture    *Mixture
	// ShardSets are in the order of the checkpoint's sources (sorted).
	ShardSets []ShardSet
	// Datasets are the distinct curated datasets the shard sets came from.
	Datasets []Dataset
	// Unresolved lists links that could not be followed, in walk order.
	Unresolved []string
}

// Checkpoint is the head of the chain.
type Checkpoint struct {
	Dir    string
	RunDir string
	Step   int
	// Files maps a checkpoint file name to its recorded sha256 (hex).
	Files map[string]string
	State *trainer.CheckpointState
	// Data is the loader state (nil when the checkpoint has none).
	Data *mixer.State
}

// Mixture is the mixture the checkpoint trained on.
type Mixture struct {
	File         string // as recorded in the checkpoint
	Resolved     string // the file actually read ("" when none was found)
	RecordedHash string
	Spec         *mixer.Mixture // nil when the file was not found
}

// ShardSet is one source's shard set.
type ShardSet struct {
	Source    string
	VersionID string // as recorded in the checkpoint
	Dir       string // "" when not found
	Manifest  *shard.Manifest
}

// Dataset is one curated dataset version.
type Dataset struct {
	VersionID string
	Dir       string // "" when not found
	Manifest  *manifest.Manifest
	Sources   []string // the mixture sources whose shards came from it
}

// Resolve reads the checkpoint (a checkpoint folder, or a run folder whose
// latest checkpoint is taken) and follows every link it can.
func Resolve(ctx context.Context, ckpt string, opt Options) (*Chain, error) {
	dir, err := checkpointDir(ckpt)
	if err != nil {
		return nil, err
	}
	st, err := trainer.ReadCheckpointState(dir)
	if err != nil {
		return nil, fmt.Errorf("lineage: %w", err)
	}
	runDir := filepath.Dir(filepath.Dir(dir)) // RUN/checkpoints/step-N
	c := &Chain{Checkpoint: Checkpoint{Dir: dir, RunDir: runDir, Step: st.Step, Files: st.SHA256, State: st}}
	if len(st.Data) > 0 && string(st.Data) != "null" {
		var ds mixer.State
		if err := json.Unmarshal(st.Data, &ds); err != nil {
			return nil, fmt.Errorf("lineage: %s/state.json: data_state: %w", dir, err)
		}
		c.Checkpoint.Data = &ds
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = 4
	}
	if len(opt.SearchRoots) == 0 {
		abs, _ := filepath.Abs(runDir)
		opt.SearchRoots = []string{filepath.Dir(abs)}
		if gp := filepath.Dir(filepath.Dir(abs)); gp != filepath.Dir(abs) {
			opt.SearchRoots = append(opt.SearchRoots, gp)
		}
	}
	idx := &index{roots: opt.SearchRoots, depth: opt.MaxDepth}

	// Mixture: the recorded file, else the copy in RUN/specs/.
	if st.Lineage.MixtureFile != "" || st.Lineage.MixtureHash != "" {
		m := &Mixture{File: st.Lineage.MixtureFile, RecordedHash: st.Lineage.MixtureHash}
		for _, cand := range mixtureCandidates(runDir, st.Lineage.MixtureFile) {
			spec, err := mixer.LoadMixture(cand, mixer.LoadOptions{Vars: st.Lineage.MixtureVars})
			if err != nil {
				continue
			}
			m.Resolved, m.Spec = cand, spec
			if spec.Hash() == m.RecordedHash {
				break // prefer a candidate whose hash matches
			}
		}
		if m.Spec == nil {
			c.Unresolved = append(c.Unresolved, fmt.Sprintf("mixture %s: file not found (also looked in %s)", m.File, filepath.Join(runDir, "specs")))
		}
		c.Mixture = m
	} else if st.Lineage.Note != "" {
		c.Unresolved = append(c.Unresolved, "checkpoint trained without a mixture: "+st.Lineage.Note)
	}

	// Shard sets, by source name.
	srcs := make([]string, 0, len(st.Lineage.Shards))
	for s := range st.Lineage.Shards {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	dsIndex := map[string]int{}
	for _, src := range srcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ss := ShardSet{Source: src, VersionID: st.Lineage.Shards[src]}
		var hint string
		if c.Mixture != nil && c.Mixture.Spec != nil {
			if i := c.Mixture.Spec.SourceIndex(src); i >= 0 {
				hint = c.Mixture.Spec.Sources[i].Path
			}
		}
		ss.Dir, ss.Manifest = idx.findShards(ss.VersionID, hint)
		if ss.Manifest == nil {
			c.Unresolved = append(c.Unresolved, fmt.Sprintf("source %s: shard set %s not found (mixture path %q; searched %s)", src, ss.VersionID, hint, strings.Join(idx.roots, ", ")))
			c.ShardSets = append(c.ShardSets, ss)
			continue
		}
		c.ShardSets = append(c.ShardSets, ss)
		vid := ss.Manifest.Dataset
		if vid == "" {
			c.Unresolved = append(c.Unresolved, fmt.Sprintf("shard set %s (%s) records no curated dataset version", ss.VersionID, ss.Dir))
			continue
		}
		if i, ok := dsIndex[vid]; ok {
			c.Datasets[i].Sources = append(c.Datasets[i].Sources, src)
			continue
		}
		d := Dataset{VersionID: vid, Sources: []string{src}}
		d.Dir, d.Manifest = idx.findDataset(vid, ss.Dir)
		if d.Manifest == nil {
			c.Unresolved = append(c.Unresolved, fmt.Sprintf("curated dataset %s (of shard set %s) not found", vid, ss.VersionID))
		}
		dsIndex[vid] = len(c.Datasets)
		c.Datasets = append(c.Datasets, d)
	}
	return c, nil
}

// checkpointDir accepts a checkpoint folder (holding state.json) or a run
// folder (holding checkpoints/latest).
func checkpointDir(p string) (string, error) {
	if _, err := os.Stat(filepath.Join(p, "state.json")); err == nil {
		return p, nil
	}
	if _, err := os.Stat(filepath.Join(p, "checkpoints", "latest")); err == nil {
		return trainer.LatestCheckpoint(p)
	}
	return "", fmt.Errorf("lineage: %s is neither a checkpoint (no state.json) nor a run directory (no checkpoints/latest)", p)
}

func mixtureCandidates(runDir, file string) []string {
	var out []string
	if file != "" {
		out = append(out, file)
		if !filepath.IsAbs(file) {
			out = append(out, filepath.Join(runDir, file))
		}
		out = append(out, filepath.Join(runDir, "specs", filepath.Base(file)))
	}
	// Any other mixture copied into specs/ (a remix may have added one).
	ents, _ := os.ReadDir(filepath.Join(runDir, "specs"))
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			out = append(out, filepath.Join(runDir, "specs", n))
		}
	}
	return out
}

// index finds manifests by version id under the search roots. The walk is
// done once and cached.
type index struct {
	roots   []string
	depth   int
	walked  bool
	shards  []string // folders holding shards.json
	curated []string // folders holding a curated manifest.json
}

// skipDirs are never searched: bulk data and run internals.
var skipDirs = map[string]bool{"docs": true, "rejected": true, "checkpoints": true, "samples": true, "node_modules": true}

func (x *index) walk() {
	if x.walked {
		return
	}
	x.walked = true
	seen := map[string]bool{}
	for _, root := range x.roots {
		root = filepath.Clean(root)
		base := strings.Count(root, string(filepath.Separator))
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if d != nil && d.IsDir() && p != root {
					return fs.SkipDir // unreadable folder: search the rest
				}
				return nil
			}
			if !d.IsDir() {
				return nil
			}
			if p != root && (strings.HasPrefix(d.Name(), ".") || skipDirs[d.Name()]) {
				return fs.SkipDir
			}
			if strings.Count(p, string(filepath.Separator))-base > x.depth {
				return fs.SkipDir
			}
			if seen[p] {
				return fs.SkipDir
			}
			seen[p] = true
			if _, err := os.Stat(filepath.Join(p, shard.ManifestFile)); err == nil {
				x.shards = append(x.shards, p)
			}
			if _, err := os.Stat(filepath.Join(p, manifest.FileName)); err == nil {
				x.curated = append(x.curated, p)
			}
			return nil
		})
	}
}

func (x *index) findShards(vid, hint string) (string, *shard.Manifest) {
	if hint != "" {
		if m, err := shard.ReadManifest(hint); err == nil && m.VersionID == vid {
			return hint, m
		}
	}
	x.walk()
	for _, d := range x.shards {
		if m, err := shard.ReadManifest(d); err == nil && m.VersionID == vid {
			return d, m
		}
	}
	return "", nil
}

// findDataset looks beside the shard set first (a tokenize output step
// writes its shards inside the curated run), then searches.
func (x *index) findDataset(vid, shardDir string) (string, *manifest.Manifest) {
	if shardDir != "" {
		for d, i := shardDir, 0; i < 3; d, i = filepath.Dir(d), i+1 {
			if m, err := manifest.Read(filepath.Join(d, manifest.FileName)); err == nil && m.VersionID == vid {
				return d, m
			}
		}
	}
	x.walk()
	for _, d := range x.curated {
		if m, err := manifest.Read(filepath.Join(d, manifest.FileName)); err == nil && m.VersionID == vid {
			return d, m
		}
	}
	return "", nil
}
