package lineage

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kilnlm/kiln/pipeline/manifest"
)

// Print writes the chain as an indented tree, one link per line, every
// link with the hash that identifies it.
func (c *Chain) Print(w io.Writer) error {
	p := &printer{w: w}
	ck := c.Checkpoint
	p.f("checkpoint %s (step %d", ck.Dir, ck.Step)
	if ck.State != nil {
		p.f(", backend %s, model %s", ck.State.Backend, ck.State.Model.Name)
	}
	p.f(")\n")
	for _, name := range sortedKeys(ck.Files) {
		p.f("  file %-12s sha256 %s\n", name, ck.Files[name])
	}
	if ck.State != nil && ck.State.Lineage.Note != "" {
		p.f("  note: %s\n", ck.State.Lineage.Note)
	}
	if m := c.Mixture; m != nil {
		p.f("mixture %s hash %s\n", m.File, m.RecordedHash)
		if ck.State != nil {
			for _, k := range sortedKeys(ck.State.Lineage.MixtureVars) {
				p.f("  var %s=%s\n", k, ck.State.Lineage.MixtureVars[k])
			}
		}
		if m.Spec != nil {
			state := "matches"
			if h := m.Spec.Hash(); h != m.RecordedHash {
				state = "DIFFERS: " + h
			}
			p.f("  read from %s (name %s, seed %d, hash %s)\n", m.Resolved, m.Spec.Name, m.Spec.Seed, state)
			for _, st := range m.Spec.Stages {
				var ws []string
				for i, s := range m.Spec.Sources {
					if i < len(st.Weights) && st.Weights[i] > 0 {
						ws = append(ws, fmt.Sprintf("%s %.3g", s.Name, st.Weights[i]))
					}
				}
				p.f("  stage %-14s start %s %d, seq_len %d, weights %s\n", st.Name, st.Start.Unit, st.Start.Value, st.SeqLen, strings.Join(ws, ", "))
			}
		}
	}
	if d := ck.Data; d != nil {
		p.f("data seen (loader state at step %d, %d tokens; stage %s)\n", d.Step, d.Tokens, d.StageName)
		for _, e := range d.Lineage {
			p.f("  segment %d %s/%s %-8s steps %d-%d  %d tokens  cursor epoch %d doc %d -> epoch %d doc %d\n",
				e.Segment, e.Mixture, e.Stage, e.Source, e.FirstStep, e.EndStep, e.Tokens, e.From.Epoch, e.From.Index, e.To.Epoch, e.To.Index)
		}
	}
	for _, s := range c.ShardSets {
		if s.Manifest == nil {
			p.f("shards %-8s %s  NOT FOUND\n", s.Source, s.VersionID)
			continue
		}
		m := s.Manifest
		p.f("shards %-8s %s  %s\n", s.Source, s.VersionID, s.Dir)
		p.f("  %d docs, %d tokens, %d shard(s), vocab %d, tokenizer %s %s\n", m.NumDocs, m.NumTokens, len(m.Shards), m.VocabSize, m.Tokenizer, m.TokenizerHash)
		p.f("  dataset %s\n", m.Dataset)
	}
	for _, d := range c.Datasets {
		if d.Manifest == nil {
			p.f("dataset %s  NOT FOUND (sources %s)\n", d.VersionID, strings.Join(d.Sources, ", "))
			continue
		}
		m := d.Manifest
		p.f("dataset %s  %s (recipe %q, sources %s)\n", manifest.ShortID(d.VersionID), d.Dir, m.Name, strings.Join(d.Sources, ", "))
		p.f("  version %s, kiln %s\n", m.VersionID, m.KilnVersion)
		p.f("  recipe %s sha256 %s\n", m.Recipe.File, m.Recipe.SHA256)
		p.f("  counts: %d records, %d kept, %d dropped, %d skipped; %d output files\n", m.Counts.Records, m.Counts.Kept, m.Counts.Dropped, m.Counts.Skipped, len(m.Outputs))
		for _, in := range m.Inputs {
			kind := "file"
			if in.Dir {
				kind = "tree"
			}
			p.f("  input %-10s %s %s  %d bytes  sha256 %s\n", in.Input, kind, in.Path, in.Size, in.SHA256)
		}
	}
	for _, u := range c.Unresolved {
		p.f("unresolved: %s\n", u)
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
