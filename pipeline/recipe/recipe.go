// Package recipe loads Kiln's curation recipes: YAML files naming the inputs
// (globs, reader format, field mapping, source kind), the steps to run by
// registry name with their parameters, the outputs and the run options.
//
// Every error names the recipe file, the line and the key at fault, so a
// typo in a 200-line recipe is found without guessing:
//
//	recipes/curate/web.yaml:14: stages[2].gopher_quality.min_doc_words: want int, got "fifty"
//
// Values may use ${VAR} and ${VAR:-default}; KILN_DATA defaults to the
// shared data folder beside the repository holding the recipe, and
// RECIPE_DIR is the recipe's own folder.
package recipe

import (
	"fmt"

	"github.com/kilnlm/kiln/pipeline"
)

// Recipe is a loaded, expanded recipe. Paths in Inputs are resolved against
// the recipe's folder; step parameters are as written (after ${VAR}
// expansion and --set overrides).
type Recipe struct {
	// File is the recipe path as given, used in every error message.
	File string
	// Dir is the absolute folder holding the recipe.
	Dir         string
	Name        string
	Description string
	Inputs      []Input
	Stages      []Step
	Outputs     Outputs
	Run         Run
}

// Input is one group of input files read by one reader configuration.
type Input struct {
	Name string
	// Paths are the globs as written in the recipe (before expansion), kept
	// so the normalised recipe does not depend on where the data lives.
	Paths []string
	// Globs are Paths after ${VAR} expansion, made absolute.
	Globs        []string
	Format       string // reader format (jsonl, parquet, warc, wet, tree, text); "" detects it
	Source       string // source kind: web, code, math or a user name
	TextField    string
	IDField      string
	MetaFields   []string
	Paragraphs   bool
	MaxFileBytes int64
	TaskBytes    int64
	Pos          Pos
	// PathPos locates each entry of Paths.
	PathPos []Pos
}

// Step is one pipeline step named by its registry name.
type Step struct {
	Name   string
	Params pipeline.Params
	Pos    Pos
	// ParamPos locates each parameter; --set overrides point at the
	// command line instead.
	ParamPos map[string]Pos
	// RawParams holds, for parameters using ${VAR}, the value as written;
	// the normalised recipe shows it instead of the expanded one.
	RawParams map[string]any
}

// Outputs says what a run writes besides stats and manifest.
type Outputs struct {
	// Formats of the kept documents under DIR/docs: "jsonl.zst" (default),
	// "parquet", or both.
	Formats []string
	// Rejected writes dropped documents with their reason under
	// DIR/rejected (default true).
	Rejected bool
	// RejectedSample is the deterministic fraction of dropped documents
	// written (default 1: all of them). Counts always cover all of them.
	RejectedSample float64
	// Steps are registry output steps (kind output), such as tokenize.
	Steps []Step
	Pos   Pos
}

// Run holds execution options.
type Run struct {
	// Workers is the number of goroutines processing documents; 0 means
	// one per CPU. It never changes the output bytes.
	Workers int
	// Seed is handed to every step with a "seed" parameter that the recipe
	// leaves unset.
	Seed int64
}

// Known output formats for kept documents.
const (
	FormatJSONLZstd = "jsonl.zst"
	FormatParquet   = "parquet"
)

// Pos locates a value in a recipe file.
type Pos struct {
	File string
	Line int
	Key  string // dotted path such as stages[2].gopher_quality.min_doc_words
}

// String formats the position as FILE:LINE: KEY.
func (p Pos) String() string {
	switch {
	case p.Line > 0 && p.Key != "":
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Key)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	case p.Key != "":
		return fmt.Sprintf("%s: %s", p.File, p.Key)
	}
	return p.File
}

// Error is a recipe error at a position.
type Error struct {
	Pos Pos
	Err error
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func errAt(p Pos, format string, args ...any) error {
	return &Error{Pos: p, Err: fmt.Errorf(format, args...)}
}

func wrapAt(p Pos, err error) error { return &Error{Pos: p, Err: err} }

func (p Pos) child(key string, line int) Pos {
	k := key
	if p.Key != "" {
		if len(key) > 0 && key[0] == '[' {
			k = p.Key + key
		} else {
			k = p.Key + "." + key
		}
	}
	if line == 0 {
		line = p.Line
	}
	return Pos{File: p.File, Line: line, Key: k}
}
