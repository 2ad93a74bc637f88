package readers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kilnlm/kiln/pipeline"
)

// skipDirs are directory names whose files are vendored or tool state, not
// the project's own source. Their files are still listed, so each one is a
// counted "vendored" skip rather than silently missing.
var skipDirs = map[string]bool{
	"vendor": true, "node_modules": true, ".git": true, ".hg": true, ".svn": true,
	"__pycache__": true, "bower_components": true, ".venv": true,
}

// languages maps file extensions (lower case) to language names.
var languages = map[string]string{
	".go": "go", ".s": "assembly", ".asm": "assembly", ".c": "c", ".h": "c", ".cc": "c++", ".cpp": "c++",
	".cxx": "c++", ".hpp": "c++", ".hh": "c++", ".py": "python", ".pyi": "python", ".js": "javascript",
	".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript",
	".java": "java", ".kt": "kotlin", ".scala": "scala", ".rs": "rust", ".rb": "ruby", ".php": "php",
	".cs": "c#", ".swift": "swift", ".m": "objective-c", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
	".pl": "perl", ".pm": "perl", ".lua": "lua", ".r": "r", ".jl": "julia", ".hs": "haskell", ".ml": "ocaml",
	".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure", ".dart": "dart", ".zig": "zig",
	".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".xml": "xml",
	".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".md": "markdown", ".rst": "restructuredtext",
	".tex": "tex", ".sty": "tex", ".cls": "tex", ".bib": "bibtex", ".txt": "text", ".proto": "protobuf",
	".f90": "fortran", ".f": "fortran", ".v": "verilog", ".vhd": "vhdl", ".cu": "cuda", ".mod": "go.mod",
}

// Language returns the language name for a file path, or "" when unknown.
func Language(path string) string {
	base := filepath.Base(path)
	switch base {
	case "Makefile", "makefile", "GNUmakefile":
		return "makefile"
	case "Dockerfile":
		return "dockerfile"
	}
	return languages[strings.ToLower(filepath.Ext(base))]
}

// planTree lists the tree's regular files (sorted by path) and cuts the
// list into tasks of TreeTaskFiles files; Start and End index the list.
func (r *reader) planTree(root string) ([]pipeline.Task, error) {
	files, err := r.listTree(root)
	if err != nil {
		return nil, err
	}
	var tasks []pipeline.Task
	step := int64(r.opt.TreeTaskFiles)
	for s := int64(0); s < int64(len(files)); s += step {
		tasks = append(tasks, pipeline.Task{Path: root, Start: s, End: min(s+step, int64(len(files)))})
	}
	return tasks, nil
}

// listTree returns the sorted regular files under root, relative to it,
// with slash separators; the result is cached for the reader's lifetime.
func (r *reader) listTree(root string) ([]string, error) {
	r.mu.Lock()
	files, ok := r.treeFiles[root]
	r.mu.Unlock()
	if ok {
		return files, nil
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// WalkDir is already lexical per directory; sorting the full relative
	// paths makes the order independent of that detail.
	sort.Strings(files)
	r.mu.Lock()
	if r.treeFiles == nil {
		r.treeFiles = make(map[string][]string)
	}
	r.treeFiles[root] = files
	r.mu.Unlock()
	return files, nil
}

// readTree emits one document per file of the task's index range.
func (r *reader) readTree(ctx context.Context, t pipeline.Task, out pipeline.Emitter) error {
	files, err := r.listTree(t.Path)
	if err != nil {
		return err
	}
	end := t.End
	if end < 0 || end > int64(len(files)) {
		end = int64(len(files))
	}
	for i := t.Start; i < end; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := files[i]
		full := filepath.Join(t.Path, filepath.FromSlash(rel))
		d, reason, err := r.readSourceFile(full, rel, i+1)
		if err != nil {
			return err
		}
		if reason != "" {
			out.Skip(pipeline.Skip{Reason: reason, File: full, Record: i + 1})
			continue
		}
		if err := out.Doc(d); err != nil {
			return err
		}
	}
	return nil
}

// readSourceFile reads one file of a tree, or returns why it is skipped.
func (r *reader) readSourceFile(full, rel string, index int64) (*pipeline.Document, string, error) {
	for _, part := range strings.Split(rel, "/")[:strings.Count(rel, "/")] {
		if skipDirs[part] {
			return nil, "vendored", nil
		}
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", full, err)
	}
	defer f.Close()
	// Read one byte past the limit to detect oversize files without
	// trusting a stat that may race with writers.
	b, err := io.ReadAll(io.LimitReader(f, r.opt.MaxFileBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", full, err)
	}
	if int64(len(b)) > r.opt.MaxFileBytes {
		return nil, "too_large", nil
	}
	if len(b) == 0 {
		return nil, "empty_file", nil
	}
	if isBinary(b) {
		return nil, "binary_file", nil
	}
	if !utf8.Valid(b) {
		return nil, "invalid_utf8", nil
	}
	if isGenerated(b) {
		return nil, "generated", nil
	}
	d := &pipeline.Document{
		ID:     full,
		Text:   string(b),
		Source: r.opt.Source,
		Prov:   pipeline.Provenance{File: full, Record: index, Offset: 0},
	}
	d.SetMeta("path", rel)
	if lang := Language(rel); lang != "" {
		d.SetMeta("language", lang)
	}
	return d, "", nil
}

// isBinary reports a NUL byte in the first 8 KiB, the test git and grep use.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8192)], 0) >= 0
}

// isGenerated looks for the usual "generated, do not edit" markers in the
// first 2 KiB (after any licence header): Go's "Code generated ... DO NOT EDIT." convention, the
// "@generated" tag (Facebook/Phabricator, protobuf for other languages),
// and "auto-generated"/"autogenerated" comments with a do-not-edit warning.
func isGenerated(b []byte) bool {
	head := b[:min(len(b), 2048)]
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte{'\n'})
		head = rest
		upper := bytes.ToUpper(line)
		if bytes.Contains(line, []byte("Code generated")) && bytes.Contains(line, []byte("DO NOT EDIT")) {
			return true
		}
		if bytes.Contains(line, []byte("@generated")) {
			return true
		}
		if (bytes.Contains(upper, []byte("AUTO-GENERATED")) || bytes.Contains(upper, []byte("AUTOGENERATED")) ||
			bytes.Contains(upper, []byte("AUTOMATICALLY GENERATED"))) &&
			(bytes.Contains(upper, []byte("DO NOT EDIT")) || bytes.Contains(upper, []byte("DO NOT MODIFY"))) {
			return true
		}
	}
	return false
}
