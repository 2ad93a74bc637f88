package dedup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/kilnlm/kiln/pipeline"
)

// Options configure Run, the engine of `kiln dedup`.
type Options struct {
	Method     string          // exact, minhash or line
	Params     pipeline.Params // step parameters (--set minhash.bands=20 gives {"bands": "20"})
	Memory     int64           // stage memory budget in bytes; 0 means DefaultMemory
	Workers    int             // goroutines for Observe and Build; 0 means 1
	WorkDir    string          // state dir; "" means a temporary one, removed at the end
	ChunkBytes int64           // input bytes per task; 0 means 32 MiB
}

// Stats counts what Run did.
type Stats struct {
	Docs, Kept, Dropped, Tasks int
}

// StepName maps a --method value to its recipe step.
func StepName(method string) (string, error) {
	switch method {
	case "exact":
		return "exact_dedup", nil
	case "minhash":
		return "minhash_dedup", nil
	case "line", "lines":
		return "line_dedup", nil
	}
	return "", fmt.Errorf("method %q: want exact, minhash or line", method)
}

type chunk struct {
	File      string `json:"file"`
	FirstLine int64  `json:"first_line"`
}

// Run reads JSONL documents from in, deduplicates them with one global
// stage driven exactly as the executor drives it (Observe per task, Build,
// Filter per task), and writes every input document to out in input order
// with "kept", "reason" and, for duplicates, "cluster" (the id of the kept
// document) and "cluster_size". Input is spooled into chunk files under the
// work dir, one task each, so memory does not grow with the input. With a
// persistent WorkDir a killed run resumes: committed tasks and a committed
// Build are reused when the input is byte-identical.
func Run(ctx context.Context, in io.Reader, out io.Writer, o Options) (Stats, error) {
	var st Stats
	name, err := StepName(o.Method)
	if err != nil {
		return st, err
	}
	params := pipeline.Params{}
	for k, v := range o.Params {
		params[k] = v
	}
	if _, ok := params["memory"]; !ok && o.Memory > 0 {
		params["memory"] = strconv.FormatInt(o.Memory, 10)
	}
	reg := pipeline.NewRegistry()
	Register(reg)
	step, _, err := reg.Build(name, params)
	if err != nil {
		return st, err
	}
	stage := step.(pipeline.GlobalStage)
	workers := max(o.Workers, 1)
	chunkBytes := o.ChunkBytes
	if chunkBytes <= 0 {
		chunkBytes = 32 << 20
	}

	work := o.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "kiln-dedup-*"); err != nil {
			return st, err
		}
		defer os.RemoveAll(work)
	}
	if err := mkdir(work); err != nil {
		return st, err
	}
	chunks, err := spool(in, work, chunkBytes)
	if err != nil {
		return st, err
	}
	st.Tasks = len(chunks)
	stageDir := filepath.Join(work, "stage")

	// Observe the tasks on workers goroutines; per-task state does not
	// depend on which goroutine ran it.
	if err := parallelTasks(ctx, workers, len(chunks), func(t int) error {
		return observeChunk(stage, stageDir, work, t, chunks[t])
	}); err != nil {
		return st, err
	}
	if err := stage.Build(ctx, stageDir, len(chunks), workers); err != nil {
		return st, err
	}
	// Filter the tasks in parallel into per-task files, then concatenate
	// them in task order: the output bytes do not depend on scheduling.
	prefix := map[string]string{"exact_dedup": "exact", "minhash_dedup": "minhash"}[name]
	outDir := filepath.Join(work, "out")
	if err := os.RemoveAll(outDir); err != nil {
		return st, err
	}
	if err := mkdir(outDir); err != nil {
		return st, err
	}
	taskStats := make([]Stats, len(chunks))
	if err := parallelTasks(ctx, workers, len(chunks), func(t int) error {
		s, err := filterChunk(stage, stageDir, work, outDir, t, chunks[t], prefix)
		taskStats[t] = s
		return err
	}); err != nil {
		return st, err
	}
	for t := range chunks {
		st.Docs += taskStats[t].Docs
		st.Kept += taskStats[t].Kept
		st.Dropped += taskStats[t].Dropped
		f, err := os.Open(outPath(outDir, t))
		if err != nil {
			return st, err
		}
		_, err = io.Copy(out, f)
		f.Close()
		if err != nil {
			return st, fmt.Errorf("write output: %w", err)
		}
	}
	return st, os.RemoveAll(outDir)
}

func outPath(dir string, t int) string { return filepath.Join(dir, fmt.Sprintf("task-%06d.jsonl", t)) }

// filterChunk replays one task through the stage's filter into its output
// file.
func filterChunk(stage pipeline.GlobalStage, stageDir, work, outDir string, t int, c chunk, prefix string) (Stats, error) {
	var st Stats
	f, err := stage.Filter(stageDir, t)
	if err != nil {
		return st, err
	}
	of, err := os.Create(outPath(outDir, t))
	if err != nil {
		f.Close()
		return st, err
	}
	bw := bufio.NewWriterSize(of, 1<<16)
	var buf []byte
	err = eachLine(filepath.Join(work, c.File), c.FirstLine, func(line int64, rec Record) error {
		d := rec.Document("stdin", line)
		reason := f.Apply(d)
		st.Docs++
		if reason == "" {
			st.Kept++
		} else {
			st.Dropped++
		}
		var err error
		buf, err = appendResult(buf[:0], rec, d, reason, prefix)
		if err != nil {
			return err
		}
		_, err = bw.Write(buf)
		return err
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := of.Close(); err == nil {
		err = cerr
	}
	return st, err
}

func observeChunk(stage pipeline.GlobalStage, stageDir, work string, t int, c chunk) error {
	obs, err := stage.Observe(stageDir, t)
	if err != nil {
		return err
	}
	err = eachLine(filepath.Join(work, c.File), c.FirstLine, func(line int64, rec Record) error {
		return obs.Add(rec.Document("stdin", line))
	})
	if err != nil {
		obs.Close()
		return err
	}
	return obs.Close()
}

// resultKeys are the fields appendResult adds.
var resultKeys = []string{"kept", "reason", "cluster", "cluster_size", "lines_removed"}

// appendResult appends the output line for one document: the input object
// with kept, reason and the cluster fields added. The common case splices
// them into the raw line, so the text is not re-encoded; a rewritten text
// or an input that already has one of the keys goes through a map (keys
// then come out sorted).
func appendResult(b []byte, rec Record, d *pipeline.Document, reason, prefix string) ([]byte, error) {
	add := make([][2]string, 0, 4)
	add = append(add, [2]string{"kept", strconv.FormatBool(reason == "")}, [2]string{"reason", strconv.Quote(reason)})
	if prefix != "" {
		if size, ok := d.Meta[prefix+"_cluster_size"].(int); ok {
			if reason != "" {
				c, _ := json.Marshal(d.MetaString(prefix + "_cluster"))
				add = append(add, [2]string{"cluster", string(c)})
			}
			add = append(add, [2]string{"cluster_size", strconv.Itoa(size)})
		}
	}
	if n, ok := d.Meta["line_dedup_removed"].(int); ok {
		add = append(add, [2]string{"lines_removed", strconv.Itoa(n)})
	}
	splice := d.Text == rec.Text && len(rec.Raw) > 1 && rec.Raw[len(rec.Raw)-1] == '}'
	for _, k := range resultKeys {
		if _, ok := rec.Fields[k]; ok {
			splice = false
		}
	}
	if splice {
		b = append(b, rec.Raw[:len(rec.Raw)-1]...)
		for i, kv := range add {
			if i > 0 || len(rec.Fields) > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, kv[0]...)
			b = append(b, '"', ':')
			b = append(b, kv[1]...)
		}
		return append(b, '}', '\n'), nil
	}
	f := make(map[string]json.RawMessage, len(rec.Fields)+len(add))
	for k, v := range rec.Fields {
		f[k] = v
	}
	for _, k := range resultKeys {
		delete(f, k)
	}
	for _, kv := range add {
		f[kv[0]] = json.RawMessage(kv[1])
	}
	if d.Text != rec.Text {
		f["text"], _ = json.Marshal(d.Text)
	}
	out, err := json.Marshal(f)
	if err != nil {
		return b, fmt.Errorf("record %q: %w", d.ID, err)
	}
	b = append(b, out...)
	return append(b, '\n'), nil
}

// eachLine replays a spooled chunk.
func eachLine(path string, first int64, fn func(line int64, rec Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for line := first; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(trimSpace(b)) > 0 {
			rec, perr := ParseRecord(b, strconv.FormatInt(line, 10))
			if perr != nil {
				return fmt.Errorf("stdin line %d: %w", line, perr)
			}
			if err := fn(line, rec); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

// spool copies the input into chunk files of about chunkBytes (whole
// lines), one task each. If the input's hash differs from the one a
// previous run recorded in the work dir, that run's stage state is
// discarded; if it matches, the state is reused.
func spool(in io.Reader, work string, chunkBytes int64) ([]chunk, error) {
	tmp := filepath.Join(work, "input.tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := mkdir(tmp); err != nil {
		return nil, err
	}
	var chunks []chunk
	var f *os.File
	var w *bufio.Writer
	var size int64
	digest := xxhash.New()
	closeChunk := func() error {
		if f == nil {
			return nil
		}
		err := w.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		f = nil
		return err
	}
	r := bufio.NewReaderSize(in, 1<<16)
	for line := int64(1); ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			digest.Write(b)
			// Full parsing happens in Observe (in parallel, naming the line);
			// here only a cheap check that fails fast on non-JSONL input.
			if tb := trimSpace(b); len(tb) > 0 && tb[0] != '{' {
				closeChunk()
				return nil, fmt.Errorf("stdin line %d: want a JSON object", line)
			}
			if f == nil {
				name := fmt.Sprintf("chunk-%06d.jsonl", len(chunks))
				chunks = append(chunks, chunk{File: filepath.Join("input", name), FirstLine: line})
				if f, err = os.Create(filepath.Join(tmp, name)); err != nil {
					return nil, err
				}
				w = bufio.NewWriterSize(f, 1<<16)
				size = 0
			}
			// Blank lines are kept in the chunk (and skipped on replay) so
			// line numbers in messages stay exact.
			w.Write(b)
			if b[len(b)-1] != '\n' {
				w.WriteByte('\n')
			}
			size += int64(len(b))
			if size >= chunkBytes {
				if err := closeChunk(); err != nil {
					return nil, err
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			closeChunk()
			return nil, fmt.Errorf("stdin line %d: %w", line, err)
		}
	}
	if err := closeChunk(); err != nil {
		return nil, err
	}
	idx, _ := json.Marshal(chunks)
	if err := os.WriteFile(filepath.Join(tmp, "index.json"), idx, 0o644); err != nil {
		return nil, err
	}
	sum := strconv.FormatUint(digest.Sum64(), 16)
	sumPath := filepath.Join(work, "input.sum")
	if old, err := os.ReadFile(sumPath); err != nil || string(old) != sum {
		// Different (or unknown) input: earlier stage state is not ours.
		if err := os.RemoveAll(filepath.Join(work, "stage")); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(filepath.Join(work, "input")); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(work, "input")); err != nil {
		return nil, err
	}
	return chunks, writeAtomic(sumPath, []byte(sum))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// parallelTasks runs fn for tasks 0..n-1 on up to workers goroutines and
// returns the first errors (joined) or the context's error; a failing task
// stops the feeding of the rest.
func parallelTasks(ctx context.Context, workers, n int, fn func(t int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				if err := fn(t); err != nil {
					errs[w] = err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for t := range n {
		select {
		case next <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}
