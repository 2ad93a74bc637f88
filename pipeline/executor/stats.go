package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// StageStats counts one stage's work. In = Out + sum(Dropped). Seconds is
// the time spent in Apply summed over the workers (CPU-like, not wall time).
type StageStats struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	In       int64            `json:"in"`
	Out      int64            `json:"out"`
	Dropped  map[string]int64 `json:"dropped,omitempty"`
	BytesIn  int64            `json:"bytes_in"`
	BytesOut int64            `json:"bytes_out"`
	Seconds  float64          `json:"seconds"`
}

func (s *StageStats) add(o *StageStats) {
	s.In += o.In
	s.Out += o.Out
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Seconds += o.Seconds
	for r, n := range o.Dropped {
		if s.Dropped == nil {
			s.Dropped = make(map[string]int64)
		}
		s.Dropped[r] += n
	}
}

func (s *StageStats) drop(reason string) {
	if s.Dropped == nil {
		s.Dropped = make(map[string]int64)
	}
	s.Dropped[reason]++
}

func sumMap(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// SkipExample records one skipped record so a user can find it.
type SkipExample struct {
	Reason string `json:"reason"`
	File   string `json:"file"`
	Record int64  `json:"record"`
	Error  string `json:"error,omitempty"`
}

// maxSkipExamples bounds the examples kept per reason and task.
const maxSkipExamples = 3

// TaskStats counts one task across all phases.
type TaskStats struct {
	Task  int    `json:"task"`
	Input string `json:"input"`
	Path  string `json:"path"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	// Records = Docs + sum(Skipped): what the reader saw.
	Records  int64            `json:"records"`
	Docs     int64            `json:"docs"`
	Skipped  map[string]int64 `json:"skipped,omitempty"`
	Examples []SkipExample    `json:"skip_examples,omitempty"`
	BytesIn  int64            `json:"bytes_in"`
	Kept     int64            `json:"kept"`
	BytesOut int64            `json:"bytes_out"`
	// Stages is indexed like the recipe's stages.
	Stages  []StageStats `json:"stages"`
	Seconds float64      `json:"seconds"`
	// KeptBySource counts kept documents per source kind.
	KeptBySource map[string][2]int64 `json:"kept_by_source,omitempty"`
}

func (t *TaskStats) skip(reason, file string, record int64, err error) {
	if t.Skipped == nil {
		t.Skipped = make(map[string]int64)
	}
	t.Skipped[reason]++
	t.Records++
	if t.Skipped[reason] <= maxSkipExamples {
		ex := SkipExample{Reason: reason, File: file, Record: record}
		if err != nil {
			ex.Error = err.Error()
		}
		t.Examples = append(t.Examples, ex)
	}
}

// merge adds a later phase's counts of the same task.
func (t *TaskStats) merge(o *TaskStats) {
	t.Records += o.Records
	t.Docs += o.Docs
	for r, n := range o.Skipped {
		if t.Skipped == nil {
			t.Skipped = make(map[string]int64)
		}
		t.Skipped[r] += n
	}
	t.Examples = append(t.Examples, o.Examples...)
	t.BytesIn += o.BytesIn
	t.Kept += o.Kept
	t.BytesOut += o.BytesOut
	t.Seconds += o.Seconds
	for i := range o.Stages {
		if i < len(t.Stages) {
			t.Stages[i].add(&o.Stages[i])
		}
	}
	for k, v := range o.KeptBySource {
		if t.KeptBySource == nil {
			t.KeptBySource = make(map[string][2]int64)
		}
		c := t.KeptBySource[k]
		t.KeptBySource[k] = [2]int64{c[0] + v[0], c[1] + v[1]}
	}
}

// dropped is the task's documents dropped by any stage.
func (t *TaskStats) dropped() int64 {
	var n int64
	for i := range t.Stages {
		n += sumMap(t.Stages[i].Dropped)
	}
	return n
}

// check verifies the accounting: every record the reader saw is kept,
// dropped by a named reason or skipped by a named reason, and every stage
// hands on exactly what it did not drop.
func (t *TaskStats) check() error {
	skipped := sumMap(t.Skipped)
	if t.Records != t.Docs+skipped {
		return fmt.Errorf("task %d: %d records != %d docs + %d skipped", t.Task, t.Records, t.Docs, skipped)
	}
	if d := t.dropped(); t.Docs != t.Kept+d {
		return fmt.Errorf("task %d: %d docs != %d kept + %d dropped", t.Task, t.Docs, t.Kept, d)
	}
	prev := t.Docs
	for i := range t.Stages {
		s := &t.Stages[i]
		if s.In != prev {
			return fmt.Errorf("task %d stage %d (%s): %d in, but %d reached it", t.Task, i, s.Name, s.In, prev)
		}
		if s.In != s.Out+sumMap(s.Dropped) {
			return fmt.Errorf("task %d stage %d (%s): %d in != %d out + %d dropped", t.Task, i, s.Name, s.In, s.Out, sumMap(s.Dropped))
		}
		prev = s.Out
	}
	if prev != t.Kept {
		return fmt.Errorf("task %d: last stage passed %d documents but %d were written", t.Task, prev, t.Kept)
	}
	return nil
}

// Stats is the run's stats.json.
type Stats struct {
	Name      string `json:"name"`
	VersionID string `json:"version_id"`
	Workers   int    `json:"workers"`
	Tasks     int    `json:"tasks"`
	// Records = Kept + Dropped + Skipped is checked before this is written.
	Records   int64            `json:"records"`
	Docs      int64            `json:"docs"`
	Kept      int64            `json:"kept"`
	Dropped   int64            `json:"dropped"`
	Skipped   int64            `json:"skipped"`
	DroppedBy map[string]int64 `json:"dropped_by_reason"`
	SkippedBy map[string]int64 `json:"skipped_by_reason"`
	BytesIn   int64            `json:"bytes_in"`
	BytesOut  int64            `json:"bytes_out"`
	Stages    []StageStats     `json:"stages"`
	// Seconds is wall time of this invocation (a resumed run counts only
	// the work it redid); the rates use it.
	Seconds    float64       `json:"seconds"`
	DocsPerSec float64       `json:"docs_per_sec"`
	MBPerSec   float64       `json:"mb_per_sec"`
	PerTask    []TaskStats   `json:"per_task"`
	Examples   []SkipExample `json:"skip_examples,omitempty"`
}

// mergeStats totals per-task stats (already merged across phases) in task
// order and checks the invariant.
func mergeStats(stages []StageStats, tasks []TaskStats) (*Stats, error) {
	s := &Stats{DroppedBy: map[string]int64{}, SkippedBy: map[string]int64{}, Tasks: len(tasks)}
	s.Stages = make([]StageStats, len(stages))
	for i := range stages {
		s.Stages[i] = StageStats{Name: stages[i].Name, Kind: stages[i].Kind}
	}
	for i := range tasks {
		t := &tasks[i]
		if err := t.check(); err != nil {
			return nil, err
		}
		s.Records += t.Records
		s.Docs += t.Docs
		s.Kept += t.Kept
		s.BytesIn += t.BytesIn
		s.BytesOut += t.BytesOut
		for r, n := range t.Skipped {
			s.SkippedBy[r] += n
			s.Skipped += n
		}
		for j := range t.Stages {
			s.Stages[j].add(&t.Stages[j])
			for r, n := range t.Stages[j].Dropped {
				s.DroppedBy[r] += n
				s.Dropped += n
			}
		}
		for _, ex := range t.Examples {
			if len(s.Examples) < 100 {
				s.Examples = append(s.Examples, ex)
			}
		}
	}
	if s.Records != s.Kept+s.Dropped+s.Skipped {
		return nil, fmt.Errorf("accounting: %d records != %d kept + %d dropped + %d skipped", s.Records, s.Kept, s.Dropped, s.Skipped)
	}
	s.PerTask = tasks
	return s, nil
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
