package lineage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// Result lists what Verify checked and what it could not reach.
type Result struct {
	Checked     []string // one line per verified link
	Unreachable []string // links whose data is not on this machine
}

// ErrUnresolved is wrapped when Strict verification meets a link that
// could not be followed.
var ErrUnresolved = errors.New("lineage link not found")

// VerifyOptions controls Verify.
type VerifyOptions struct {
	// Strict fails on unresolved links and missing raw inputs instead of
	// listing them as unreachable.
	Strict bool
	// Log receives one line per check as it completes (nil: none).
	Log io.Writer
}

// Verify re-checks every hash the chain reaches, in chain order, and
// returns the first mismatch as an error naming the file. Links that could
// not be found (raw inputs from another machine, say) are listed in
// Result.Unreachable, or fail under Strict.
func (c *Chain) Verify(ctx context.Context, opt VerifyOptions) (*Result, error) {
	res := &Result{}
	ok := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		res.Checked = append(res.Checked, s)
		if opt.Log != nil {
			fmt.Fprintln(opt.Log, "ok  ", s)
		}
	}
	miss := func(format string, args ...any) error {
		s := fmt.Sprintf(format, args...)
		if opt.Strict {
			return fmt.Errorf("%w: %s", ErrUnresolved, s)
		}
		res.Unreachable = append(res.Unreachable, s)
		if opt.Log != nil {
			fmt.Fprintln(opt.Log, "skip", s)
		}
		return nil
	}
	for _, u := range c.Unresolved {
		if err := miss("%s", u); err != nil {
			return res, err
		}
	}

	// 1. The checkpoint's own binaries.
	ck := c.Checkpoint
	if len(ck.Files) == 0 {
		if err := miss("checkpoint %s records no file hashes", ck.Dir); err != nil {
			return res, err
		}
	}
	for _, name := range sortedKeys(ck.Files) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		p := filepath.Join(ck.Dir, name)
		_, sum, err := manifest.HashFile(p)
		if err != nil {
			return res, fmt.Errorf("verify checkpoint: %w", err)
		}
		if sum != ck.Files[name] {
			return res, fmt.Errorf("verify checkpoint: %s: sha256 %s, state.json says %s", p, sum, ck.Files[name])
		}
		ok("checkpoint %s", p)
	}

	// 2. The mixture's hash over its stages and weights.
	if m := c.Mixture; m != nil && m.Spec != nil {
		if h := m.Spec.Hash(); h != m.RecordedHash {
			return res, fmt.Errorf("verify mixture: %s: hash %s, checkpoint recorded %s", m.Resolved, h, m.RecordedHash)
		}
		ok("mixture %s hash %s", m.Resolved, m.RecordedHash)
	}

	// 3. Shard sets: every file's sha256 and the set's version id.
	for _, s := range c.ShardSets {
		if s.Manifest == nil {
			continue // already listed as unresolved
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := shard.Verify(s.Dir); err != nil {
			return res, fmt.Errorf("verify source %s: %s: %w", s.Source, s.Dir, err)
		}
		ok("shards %s %s (%d shards)", s.Source, s.Dir, len(s.Manifest.Shards))
	}

	// 4. Curated datasets: outputs, version id, recipe, raw inputs.
	for _, d := range c.Datasets {
		if d.Manifest == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		m := d.Manifest
		if err := m.Verify(d.Dir); err != nil {
			return res, fmt.Errorf("verify dataset %s: %s: %w", manifest.ShortID(d.VersionID), d.Dir, err)
		}
		ok("dataset %s: %d output files", d.Dir, len(m.Outputs))
		if err := verifyRecipe(d.Dir, m); err != nil {
			return res, fmt.Errorf("verify dataset %s: %w", manifest.ShortID(d.VersionID), err)
		}
		ok("recipe %s", filepath.Join(d.Dir, m.Recipe.File))
		for _, in := range m.Inputs {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			st, err := os.Stat(in.Path)
			if err != nil {
				if err := miss("raw input %s %s: %v", in.Input, in.Path, err); err != nil {
					return res, err
				}
				continue
			}
			var size int64
			var sum string
			if st.IsDir() {
				size, sum, err = manifest.HashDir(in.Path)
			} else {
				size, sum, err = manifest.HashFile(in.Path)
			}
			if err != nil {
				return res, fmt.Errorf("verify raw input %s: %w", in.Path, err)
			}
			if sum != in.SHA256 || size != in.Size {
				return res, fmt.Errorf("verify raw input %s (input %s of dataset %s): sha256 %s size %d, manifest says %s size %d",
					in.Path, in.Input, manifest.ShortID(d.VersionID), sum, size, in.SHA256, in.Size)
			}
			ok("raw input %s", in.Path)
		}
	}
	return res, nil
}

// recipeHeaderLines is the number of comment lines `kiln curate` puts
// above the normalised recipe in recipe.yaml (pipeline/executor: "# Recipe
// ... as run by kiln", "# Relative input paths ..."); the recorded sha256
// is of the normalised text after them.
const recipeHeaderLines = 2

func verifyRecipe(dir string, m *manifest.Manifest) error {
	p := filepath.Join(dir, m.Recipe.File)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	body := b
	for i := 0; i < recipeHeaderLines && bytes.HasPrefix(body, []byte("#")); i++ {
		nl := bytes.IndexByte(body, '\n')
		if nl < 0 {
			break
		}
		body = body[nl+1:]
	}
	s := sha256.Sum256(body)
	if got := hex.EncodeToString(s[:]); got != m.Recipe.SHA256 {
		return fmt.Errorf("%s: normalised recipe sha256 %s, manifest says %s", p, got, m.Recipe.SHA256)
	}
	return nil
}
