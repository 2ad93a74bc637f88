// Package shard writes and reads Kiln's packed, document-aware token shards:
// raw little-endian token files with a document index beside them, an
// optional per-token loss mask, and a manifest per shard set that records the
// tokenizer hash, the curated dataset version the tokens came from, counts per
// source and a sha256 per file. Readers memory-map the shards. The on-disk
// layout is specified in docs/shard-format.md.
package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FormatName and FormatVersion identify a Kiln shard-set manifest.
const (
	FormatName    = "kiln-shards"
	FormatVersion = 1
	// ManifestFile is the manifest's name inside a shard-set folder; it is not
	// manifest.json so a shard set can share a folder with a curated
	// dataset's own manifest.
	ManifestFile = "shards.json"
	// DefaultShardBytes is the default shard size target (token bytes).
	DefaultShardBytes = 1 << 30
)

// File suffixes of one shard's files.
const (
	DataSuffix  = ".tok"
	IndexSuffix = ".idx"
	MaskSuffix  = ".mask"
)

// SourceCount is the number of documents and tokens one source contributed.
type SourceCount struct {
	Docs   int64 `json:"docs"`
	Tokens int64 `json:"tokens"`
}

// ShardInfo describes one shard: its files (relative to the set folder,
// without suffix), its counts and the sha256 of each file.
type ShardInfo struct {
	Name        string `json:"name"`
	Docs        int64  `json:"docs"`
	Tokens      int64  `json:"tokens"`
	DataSHA256  string `json:"data_sha256"`
	IndexSHA256 string `json:"index_sha256"`
	MaskSHA256  string `json:"mask_sha256,omitempty"`
}

// Manifest describes a whole shard set.
type Manifest struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// VersionID names this shard set's content: a hash over the tokenizer
	// hash, dataset id, policy and every shard's checksums.
	VersionID string `json:"version_id"`
	// Tokenizer is a human-readable name or path of the tokenizer.
	Tokenizer string `json:"tokenizer,omitempty"`
	// TokenizerHash is "sha256:<hex>" of the tokenizer.json bytes.
	TokenizerHash string `json:"tokenizer_hash"`
	// Dataset is the curated dataset's version id the tokens came from.
	Dataset    string `json:"dataset,omitempty"`
	VocabSize  int    `json:"vocab_size"`
	TokenBytes int    `json:"token_bytes"` // 2 (uint16) or 4 (uint32)
	// BOS/EOS policy the tokens were written with, and the ids used (-1
	// when unused). The tokens in the shards already contain them.
	AddBOS      bool                   `json:"add_bos"`
	AddEOS      bool                   `json:"add_eos"`
	BOSID       int                    `json:"bos_id"`
	EOSID       int                    `json:"eos_id"`
	HasLossMask bool                   `json:"has_loss_mask"`
	NumTokens   int64                  `json:"num_tokens"`
	NumDocs     int64                  `json:"num_docs"`
	Sources     map[string]SourceCount `json:"sources"`
	Shards      []ShardInfo            `json:"shards"`
}

// computeVersionID derives VersionID from the manifest's content.
func (m *Manifest) computeVersionID() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s/%d\n%s\n%s\n%d %d %t %t %d %d %t\n", m.Format, m.FormatVersion,
		m.TokenizerHash, m.Dataset, m.VocabSize, m.TokenBytes, m.AddBOS, m.AddEOS, m.BOSID, m.EOSID, m.HasLossMask)
	for _, s := range m.Shards {
		fmt.Fprintf(h, "%s %d %d %s %s %s\n", s.Name, s.Docs, s.Tokens, s.DataSHA256, s.IndexSHA256, s.MaskSHA256)
	}
	return "shards-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// Finalize recomputes the totals and VersionID from Shards. Merge tools that
// assemble a manifest by hand call it before WriteManifest.
func (m *Manifest) Finalize() {
	m.Format, m.FormatVersion = FormatName, FormatVersion
	m.NumDocs, m.NumTokens = 0, 0
	for _, s := range m.Shards {
		m.NumDocs += s.Docs
		m.NumTokens += s.Tokens
	}
	if m.Sources == nil {
		m.Sources = map[string]SourceCount{}
	}
	m.VersionID = m.computeVersionID()
}

// validate checks a manifest's internal consistency (not the files).
func (m *Manifest) validate() error {
	if m.Format != FormatName {
		return fmt.Errorf("format %q, want %q", m.Format, FormatName)
	}
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("format_version %d not supported (want %d)", m.FormatVersion, FormatVersion)
	}
	if m.TokenBytes != 2 && m.TokenBytes != 4 {
		return fmt.Errorf("token_bytes %d, want 2 or 4", m.TokenBytes)
	}
	if m.TokenBytes == 2 && m.VocabSize > 1<<16 {
		return fmt.Errorf("vocab_size %d does not fit token_bytes 2", m.VocabSize)
	}
	var docs, toks int64
	seen := map[string]bool{}
	for i, s := range m.Shards {
		if s.Name == "" || filepath.IsAbs(s.Name) || strings.Contains(s.Name, "..") {
			return fmt.Errorf("shard %d: bad name %q", i, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("shard %d: duplicate name %q", i, s.Name)
		}
		seen[s.Name] = true
		if s.Docs < 0 || s.Tokens < 0 {
			return fmt.Errorf("shard %s: negative counts", s.Name)
		}
		if m.HasLossMask != (s.MaskSHA256 != "") {
			return fmt.Errorf("shard %s: mask checksum present=%t but has_loss_mask=%t", s.Name, s.MaskSHA256 != "", m.HasLossMask)
		}
		docs += s.Docs
		toks += s.Tokens
	}
	if docs != m.NumDocs || toks != m.NumTokens {
		return fmt.Errorf("totals num_docs=%d num_tokens=%d but shards sum to %d docs, %d tokens", m.NumDocs, m.NumTokens, docs, toks)
	}
	var sd, st int64
	for _, c := range m.Sources {
		sd += c.Docs
		st += c.Tokens
	}
	if len(m.Sources) > 0 && (sd != m.NumDocs || st != m.NumTokens) {
		return fmt.Errorf("sources sum to %d docs, %d tokens; totals are %d, %d", sd, st, m.NumDocs, m.NumTokens)
	}
	if want := m.computeVersionID(); m.VersionID != want {
		return fmt.Errorf("version_id %q does not match content (want %q)", m.VersionID, want)
	}
	return nil
}

// ReadManifest reads and validates dir/shards.json.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read shard manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// WriteManifest writes m (after Finalize) as dir/shards.json atomically.
func WriteManifest(dir string, m *Manifest) error {
	m.Finalize()
	if err := m.validate(); err != nil {
		return fmt.Errorf("manifest for %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// Merge combines the manifests of several shard sets whose shard files live
// under dir (names relative to dir) into one manifest. All parts must share
// tokenizer, token width, policy and mask presence. Parts are merged in the
// given order, so the merged document order is deterministic.
func Merge(parts []*Manifest, prefixes []string) (*Manifest, error) {
	if len(parts) == 0 {
		return nil, errors.New("merge: no parts")
	}
	if len(prefixes) != len(parts) {
		return nil, errors.New("merge: prefixes and parts differ in length")
	}
	first := parts[0]
	out := &Manifest{
		Tokenizer: first.Tokenizer, TokenizerHash: first.TokenizerHash, Dataset: first.Dataset,
		VocabSize: first.VocabSize, TokenBytes: first.TokenBytes, AddBOS: first.AddBOS, AddEOS: first.AddEOS,
		BOSID: first.BOSID, EOSID: first.EOSID, HasLossMask: first.HasLossMask,
		Sources: map[string]SourceCount{},
	}
	for i, p := range parts {
		if p.TokenizerHash != out.TokenizerHash || p.TokenBytes != out.TokenBytes || p.AddBOS != out.AddBOS ||
			p.AddEOS != out.AddEOS || p.BOSID != out.BOSID || p.EOSID != out.EOSID || p.HasLossMask != out.HasLossMask ||
			p.Dataset != out.Dataset {
			return nil, fmt.Errorf("merge: part %d (%s) differs from part 0 in tokenizer, dataset, width, policy or mask", i, prefixes[i])
		}
		for _, s := range p.Shards {
			s.Name = filepath.ToSlash(filepath.Join(prefixes[i], s.Name))
			out.Shards = append(out.Shards, s)
		}
		for k, c := range p.Sources {
			o := out.Sources[k]
			o.Docs += c.Docs
			o.Tokens += c.Tokens
			out.Sources[k] = o
		}
	}
	out.Finalize()
	return out, nil
}

// SourceNames returns the manifest's source names, sorted.
func (m *Manifest) SourceNames() []string {
	out := make([]string, 0, len(m.Sources))
	for k := range m.Sources {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
