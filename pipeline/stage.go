package pipeline

import "context"

// Task is one unit of resumable work: a whole input file or a range of one.
// What Start and End count is the reader's business (bytes, Parquet row
// groups, files of a source tree); the executor only orders and names tasks.
type Task struct {
	Index int    // position in the run's task list, set by the executor
	Path  string // input file or directory
	Start int64  // inclusive
	End   int64  // exclusive; -1 means to the end
}

// Skip records an input record that could not become a document. Skips are
// counted by reason in the run's stats, never lost silently.
type Skip struct {
	Reason string // short snake_case reason, e.g. "invalid_json", "binary_file"
	File   string
	Record int64 // 1-based record or line number, 0 when not applicable
	Err    error
}

// Emitter receives a reader's output for one task.
type Emitter interface {
	// Doc hands one document on; a non-nil error stops the reader.
	Doc(d *Document) error
	// Skip counts a bad or excluded record.
	Skip(s Skip)
}

// Reader turns input files into documents.
type Reader interface {
	// Plan splits the matched inputs into tasks, in a deterministic order.
	Plan(paths []string) ([]Task, error)
	// Read streams the documents of one task in input order with bounded
	// memory. A fatal error (unreadable file, truncated compression) names
	// the file and record.
	Read(ctx context.Context, t Task, out Emitter) error
}

// Stage is a per-document step: a quality filter, a formatter, a language
// tagger. Apply returns "" to keep the document (possibly modified) or a
// short drop reason in datatrove's naming ("gopher_short_doc"). Apply must be
// safe for concurrent use: the executor calls it from several goroutines.
type Stage interface {
	Name() string
	Apply(d *Document) (dropReason string)
}

// GlobalStage needs the whole corpus before it can decide about any document
// (exact and MinHash dedup, corpus-level line dedup). The executor runs it in
// three steps:
//
//  1. for every task, Observe is fed, in order, each document that reached
//     this stage; the observer's Close commits its per-task state under dir;
//  2. Build combines the per-task state (using up to workers goroutines);
//  3. for every task, Filter is fed the same documents in the same order and
//     returns a verdict for each.
//
// Because both passes see identical sequences, the n-th document of task t is
// the same document in both, which is how per-document decisions are keyed.
// dir is private to this stage and persists across a restart, so a stage can
// skip work that a previous run already committed.
type GlobalStage interface {
	Name() string
	Observe(dir string, task int) (Observer, error)
	Build(ctx context.Context, dir string, tasks, workers int) error
	Filter(dir string, task int) (TaskFilter, error)
}

// Observer collects a global stage's state for one task.
type Observer interface {
	Add(d *Document) error
	Close() error
}

// TaskFilter applies a global stage's decisions to one task's documents.
type TaskFilter interface {
	Apply(d *Document) (dropReason string)
	Close() error
}

// Output writes documents. The executor gives each task a folder of its own
// and commits it only when the task finishes, so a killed run leaves no
// half-written output behind.
type Output interface {
	Name() string
	// OpenTask returns the writer for one task; files go under dir.
	OpenTask(dir string, task int) (TaskWriter, error)
	// Finish runs once after every task committed (e.g. to merge per-task
	// manifests); dir holds all tasks' committed files.
	Finish(dir string, tasks int) error
}

// TaskWriter writes one task's documents.
type TaskWriter interface {
	Write(d *Document) error
	Close() error
}

// DatasetAware is implemented by outputs that record which curated dataset
// they were made from (the tokenizer's shard manifest). The executor calls
// SetDataset with the run's version id before Finish.
type DatasetAware interface {
	SetDataset(versionID string)
}

// FileDependent is implemented by steps that read files named in their
// parameters (an evaluation set, blocklists, a tokenizer). The executor
// hashes those files into the run's identity and lists them among the
// manifest's inputs, so changing a blocklist changes the dataset version.
type FileDependent interface {
	DependsOn() []string
}
