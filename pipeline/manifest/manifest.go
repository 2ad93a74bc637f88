// Package manifest defines the identity of a curated dataset: the
// manifest.json a `kiln curate` run writes next to its output. Its version
// id is a hash over the normalised recipe, the kiln version and every input
// file's size and content hash, so two runs share an id exactly when they
// must produce the same bytes. Later stages (token shards, mixtures,
// checkpoints) record this id to form the lineage chain.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FileName is the manifest's name inside a run directory.
const FileName = "manifest.json"

// Kind identifies a curated-dataset manifest among Kiln's manifests.
const Kind = "kiln.curated-dataset"

// FormatVersion is bumped when the manifest's layout changes.
const FormatVersion = 1

// Manifest describes one completed curation run.
type Manifest struct {
	Kind          string `json:"kind"`
	FormatVersion int    `json:"format_version"`
	// VersionID is "sha256:<hex>" over Identity's canonical JSON.
	VersionID   string `json:"version_id"`
	KilnVersion string `json:"kiln_version"`
	Name        string `json:"name"`
	// Recipe is the file name of the recipe as run (recipe.yaml) and the
	// sha256 of its normalised text.
	Recipe RecipeRef   `json:"recipe"`
	Inputs []InputFile `json:"inputs"`
	// Outputs lists every file the run wrote under docs/, rejected/ and
	// each output step's folder, sorted by path.
	Outputs []OutputFile `json:"outputs"`
	Counts  Counts       `json:"counts"`
	// Sources counts kept documents and text bytes per source kind.
	Sources map[string]SourceCounts `json:"sources,omitempty"`
	// CreatedAt is informational (RFC 3339) and not part of the identity.
	CreatedAt string `json:"created_at,omitempty"`
}

// RecipeRef points at the normalised recipe.
type RecipeRef struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// InputFile is one input file (or source-tree folder) and its content hash.
type InputFile struct {
	Input string `json:"input"` // the recipe input's name
	Path  string `json:"path"`  // as found on the machine that ran
	Size  int64  `json:"size"`
	// SHA256 of the content; for a folder, of the sorted list of
	// "relative-path size sha256" lines of its regular files.
	SHA256 string `json:"sha256"`
	Dir    bool   `json:"dir,omitempty"`
}

// OutputFile is one written file, relative to the run directory.
type OutputFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Task is the task that wrote the file, -1 for files written at the end
	// (an output's Finish).
	Task int `json:"task"`
	// Docs is the number of documents in the file when known (-1 if not).
	Docs int64 `json:"docs"`
}

// Counts are the run's document totals. Records = Kept + Dropped + Skipped.
type Counts struct {
	Records  int64 `json:"records"`
	Docs     int64 `json:"docs"`
	Kept     int64 `json:"kept"`
	Dropped  int64 `json:"dropped"`
	Skipped  int64 `json:"skipped"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	Tasks    int   `json:"tasks"`
}

// SourceCounts are kept documents per source kind.
type SourceCounts struct {
	Docs  int64 `json:"docs"`
	Bytes int64 `json:"bytes"`
}

// Identity is what the version id hashes: nothing machine-specific (paths
// and times are left out), everything that decides the output bytes.
type Identity struct {
	KilnVersion  string          `json:"kiln_version"`
	RecipeSHA256 string          `json:"recipe_sha256"`
	Inputs       []IdentityInput `json:"inputs"`
}

// IdentityInput is one input file's contribution to the identity.
type IdentityInput struct {
	Input  string `json:"input"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// VersionID returns "sha256:<hex>" of the identity's canonical JSON.
func (id Identity) VersionID() string {
	b, _ := json.Marshal(id) // plain structs of strings and ints: cannot fail
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// IdentityOf derives the identity from the manifest's own fields.
func (m *Manifest) IdentityOf() Identity {
	id := Identity{KilnVersion: m.KilnVersion, RecipeSHA256: m.Recipe.SHA256}
	for _, in := range m.Inputs {
		id.Inputs = append(id.Inputs, IdentityInput{Input: in.Input, Size: in.Size, SHA256: in.SHA256})
	}
	return id
}

// ShortID is the first 12 hex digits of the version id, for display.
func ShortID(v string) string {
	if len(v) > 7+12 && v[:7] == "sha256:" {
		return v[7 : 7+12]
	}
	return v
}

// Write stores m as DIR/manifest.json atomically (temporary file, rename).
func (m *Manifest) Write(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, FileName), append(b, '\n'))
}

// Read loads DIR/manifest.json (or the file itself when path is a file).
func Read(path string) (*Manifest, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Kind != Kind {
		return nil, fmt.Errorf("%s: kind %q is not a curated-dataset manifest", path, m.Kind)
	}
	return &m, nil
}

// Verify re-hashes every output file under dir and checks the version id
// against the manifest's own identity fields.
func (m *Manifest) Verify(dir string) error {
	if got := m.IdentityOf().VersionID(); got != m.VersionID {
		return fmt.Errorf("version id %s does not match the manifest's identity (%s)", m.VersionID, got)
	}
	for _, o := range m.Outputs {
		size, sum, err := HashFile(filepath.Join(dir, o.Path))
		if err != nil {
			return err
		}
		if size != o.Size || sum != o.SHA256 {
			return fmt.Errorf("%s: sha256 %s size %d, manifest says %s size %d", o.Path, sum, size, o.SHA256, o.Size)
		}
	}
	return nil
}

// HashFile returns a file's size and hex sha256.
func HashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("hash %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// HashDir hashes a folder's regular files: sha256 over sorted
// "relative-path size sha256\n" lines, and the total size.
func HashDir(dir string) (int64, string, error) {
	type ent struct {
		rel  string
		size int64
		sum  string
	}
	var ents []ent
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		size, sum, err := HashFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		ents = append(ents, ent{filepath.ToSlash(rel), size, sum})
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].rel < ents[j].rel })
	h := sha256.New()
	var total int64
	for _, e := range ents {
		fmt.Fprintf(h, "%s %d %s\n", e.rel, e.size, e.sum)
		total += e.size
	}
	return total, hex.EncodeToString(h.Sum(nil)), nil
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it,
// renames it over path and syncs the folder, so after a crash or power
// loss path holds either the old bytes or the new ones, and once it
// returns the new ones are on disk.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes the entries of a folder (files created, renamed or
// removed in it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// WorkDir is the work folder inside a run directory while a curation runs;
// IdentityFile inside it holds the run's version id from the start.
const (
	WorkDir      = ".kiln"
	IdentityFile = "identity"
)

// RunVersionID returns the dataset version id of a curation run directory:
// from manifest.json when the run finished, else from the work folder of a
// running one. Output steps (tokenize) call it from Finish, which runs
// before the manifest is written, to chain their own manifest to the
// curated dataset.
func RunVersionID(runDir string) (string, error) {
	if m, err := Read(runDir); err == nil {
		return m.VersionID, nil
	}
	b, err := os.ReadFile(filepath.Join(runDir, WorkDir, IdentityFile))
	if err != nil {
		return "", fmt.Errorf("%s: no manifest.json and no running curation: %w", runDir, err)
	}
	return strings.TrimSpace(string(b)), nil
}
