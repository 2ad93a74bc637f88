package tokenize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
)

// TrainFiles trains a tokenizer on documents read from paths: JSONL (.gz,
// .zst) or Parquet files with a text field, plain .txt files (one document
// per blank-line-separated paragraph), or folders holding them (a curated
// run's docs/ when present). Word counting runs on up to workers
// goroutines; the merge loop is sequential and deterministic.
func TrainFiles(ctx context.Context, paths []string, o TrainOptions, workers int) (*Trained, *Trainer, error) {
	var jsonl, text []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		if !st.IsDir() && strings.HasSuffix(strings.ToLower(p), ".txt") {
			text = append(text, p)
			continue
		}
		if !st.IsDir() {
			jsonl = append(jsonl, p)
			continue
		}
		fs, err := curatedFiles(p)
		if err != nil {
			return nil, nil, err
		}
		jsonl = append(jsonl, fs...)
		txt, _ := filepath.Glob(filepath.Join(p, "*.txt"))
		text = append(text, txt...)
	}
	if len(jsonl)+len(text) == 0 {
		return nil, nil, fmt.Errorf("train: no input files in %v", paths)
	}
	type job struct {
		rd   pipeline.Reader
		task pipeline.Task
	}
	var jobs []job
	plan := func(files []string, ro readers.Options) error {
		if len(files) == 0 {
			return nil
		}
		rd, err := readers.New(ro)
		if err != nil {
			return err
		}
		tasks, err := rd.Plan(files)
		if err != nil {
			return fmt.Errorf("train: plan: %w", err)
		}
		for _, t := range tasks {
			jobs = append(jobs, job{rd, t})
		}
		return nil
	}
	if err := plan(jsonl, readers.Options{TaskBytes: 64 << 20}); err != nil {
		return nil, nil, err
	}
	if err := plan(text, readers.Options{Format: "text", Paragraphs: true}); err != nil {
		return nil, nil, err
	}
	total, err := NewTrainer(o)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	err = parallelTasks(len(jobs), workers, func(i int) error {
		tr, err := NewTrainer(o)
		if err != nil {
			return err
		}
		em := &trainEmitter{tr: tr}
		if err := jobs[i].rd.Read(ctx, jobs[i].task, em); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		mu.Lock()
		total.Merge(tr)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	res, err := total.Train(ctx)
	return res, total, err
}

type trainEmitter struct{ tr *Trainer }

func (e *trainEmitter) Doc(d *pipeline.Document) error { e.tr.Add(d.Text); return nil }
func (e *trainEmitter) Skip(s pipeline.Skip) {
	if e.tr.Skipped == nil {
		e.tr.Skipped = map[string]int64{}
	}
	e.tr.Skipped[s.Reason]++
}
