package dedup

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/kilnlm/kiln/pipeline"
)

// Line is the line_dedup stage: boilerplate lines (cookie banners,
// navigation) or C4-style three-sentence spans found in more than MaxDocs
// documents are removed from every document but the first that has them.
type Line struct {
	*core
	cfg LineConfig
}

// NewLine builds line_dedup.
func NewLine(cfg LineConfig) (*Line, error) {
	if cfg.Mode != "lines" && cfg.Mode != "sentences3" {
		return nil, fmt.Errorf("line_dedup: mode = %q, want lines or sentences3", cfg.Mode)
	}
	if cfg.MaxDocs < 1 {
		return nil, fmt.Errorf("line_dedup: max_docs = %d, want >= 1", cfg.MaxDocs)
	}
	c, err := newCore("line_dedup", 1, cfg.Memory, cfg)
	if err != nil {
		return nil, err
	}
	l := &Line{core: c, cfg: cfg}
	c.keys = func() (keyFunc, error) {
		var sb strings.Builder
		var hs []uint64
		return func(d *pipeline.Document, emit func(uint32, uint64, uint64) error) error {
			hs = hs[:0]
			eachUnit(d.Text, cfg.Mode, func(_ int, u string) {
				if n := lightNormalize(&sb, u); n != "" {
					hs = append(hs, xxhash.Sum64String(n))
				}
			})
			// Count documents, not occurrences: one record per distinct unit.
			slices.Sort(hs)
			hs = slices.Compact(hs)
			for _, h := range hs {
				if err := emit(0, h, 0); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	return l, nil
}

// Name implements pipeline.GlobalStage.
func (l *Line) Name() string { return "line_dedup" }

// eachUnit calls fn for each unit of text with the index of its line. In
// sentences3 mode a line's sentences are grouped three at a time (the last
// group may be shorter).
func eachUnit(text, mode string, fn func(line int, unit string)) {
	for i, line := range strings.Split(text, "\n") {
		if mode == "lines" {
			fn(i, line)
			continue
		}
		for _, span := range spans3(line) {
			fn(i, span)
		}
	}
}

// spans3 splits a line into sentences (ending in . ! ? or their CJK forms,
// followed by white space or the end) and joins them three at a time.
func spans3(line string) []string {
	var out []string
	start, count := 0, 0
	for i, r := range line {
		if r != '.' && r != '!' && r != '?' && r != '。' && r != '！' && r != '？' {
			continue
		}
		end := i + len(string(r))
		if end < len(line) && line[end] != ' ' && line[end] != '\t' && r < 0x80 {
			continue
		}
		if count++; count == 3 {
			out = append(out, line[start:end])
			start, count = end, 0
		}
	}
	if strings.TrimSpace(line[start:]) != "" {
		out = append(out, line[start:])
	}
	return out
}

// Build counts, per unit, the documents holding it (equal hashes arrive
// together from the merge, in input order) and writes for each task the
// (seq, unit hash) pairs to remove.
func (l *Line) Build(ctx context.Context, dir string, tasks, workers int) error {
	return build(ctx, l.name, dir, tasks, func(ctx context.Context, c *corpus, tmp string) error {
		rmDir := filepath.Join(tmp, "rm")
		if err := mkdir(rmDir); err != nil {
			return err
		}
		// Removals are re-sorted by (document, hash) through a spiller of
		// their own, so this too stays within the budget.
		sp := newSpiller(rmDir, 1, &budget{limit: l.limit / 4})
		var prev uint64
		var group []uint32 // the first MaxDocs holders of the current unit
		count, n := 0, 0
		remove := func(id uint32, h uint64) error { return sp.add(record{hash: uint64(id), aux: h}) }
		err := merge(c.sources(0), fanIn(l.limit/4), tmp, func(it item) error {
			if n++; n&0xffff == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if count == 0 || it.hash != prev {
				prev, count, group = it.hash, 0, group[:0]
			}
			count++
			switch {
			case count <= l.cfg.MaxDocs:
				group = append(group, it.id)
			case count == l.cfg.MaxDocs+1:
				// The unit crosses the threshold: all holders but the
				// first lose it, including the ones held back so far.
				for _, id := range group[1:] {
					if err := remove(id, it.hash); err != nil {
						return err
					}
				}
				return remove(it.id, it.hash)
			default:
				return remove(it.id, it.hash)
			}
			return nil
		})
		if err != nil {
			return err
		}
		runs, err := sp.finish()
		if err != nil {
			return err
		}
		srcs := make([]source, len(runs))
		for i, r := range runs {
			srcs[i] = source{path: r}
		}
		// The merge yields (id, hash) in id order; split it by task.
		t := 0
		var w *bufio.Writer
		var f *os.File
		open := func(task int) error {
			if f != nil {
				if err := w.Flush(); err != nil {
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			var err error
			f, err = os.Create(removalPath(tmp, task))
			w = bufio.NewWriter(f)
			return err
		}
		if err := open(0); err != nil {
			return err
		}
		var b []byte
		err = merge(srcs, fanIn(l.limit/4), rmDir, func(it item) error {
			id := uint32(it.hash)
			for id >= c.offsets[t+1] {
				t++
				if err := open(t); err != nil {
					return err
				}
			}
			b = binary.AppendUvarint(b[:0], uint64(id-c.offsets[t]))
			b = binary.LittleEndian.AppendUint64(b, it.aux)
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return err
		}
		for t < tasks-1 {
			t++
			if err := open(t); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.RemoveAll(rmDir)
	})
}

func removalPath(dir string, task int) string {
	return filepath.Join(dir, fmt.Sprintf("task-%06d.rm", task))
}

// Filter implements pipeline.GlobalStage.
func (l *Line) Filter(dir string, task int) (pipeline.TaskFilter, error) {
	b := filepath.Join(dir, "build")
	if !exists(filepath.Join(b, "done")) {
		return nil, fmt.Errorf("line_dedup: Filter before Build finished")
	}
	path := removalPath(b, task)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("line_dedup: %w", err)
	}
	lf := &lineFilter{mode: l.cfg.Mode, path: path, f: f, r: bufio.NewReader(f)}
	lf.advance()
	return lf, nil
}

type lineFilter struct {
	mode    string
	path    string
	f       *os.File
	r       *bufio.Reader
	seq     uint64
	have    bool
	nextSeq uint64
	nextH   uint64
	err     error
	sb      strings.Builder
}

func (lf *lineFilter) advance() {
	lf.have = false
	seq, err := binary.ReadUvarint(lf.r)
	if err == io.EOF {
		return
	}
	var b [8]byte
	if err == nil {
		_, err = io.ReadFull(lf.r, b[:])
	}
	if err != nil {
		lf.err = fmt.Errorf("%s: corrupt removal file: %w", lf.path, err)
		return
	}
	lf.nextSeq, lf.nextH, lf.have = seq, binary.LittleEndian.Uint64(b[:]), true
}

// Apply removes the document's units marked in Build; a document left
// without text is dropped as line_dedup_empty.
func (lf *lineFilter) Apply(d *pipeline.Document) string {
	seq := lf.seq
	lf.seq++
	var drop map[uint64]bool
	for lf.have && lf.nextSeq == seq {
		if drop == nil {
			drop = make(map[uint64]bool)
		}
		drop[lf.nextH] = true
		lf.advance()
	}
	if drop == nil {
		return ""
	}
	lines := strings.Split(d.Text, "\n")
	kept := make([]string, 0, len(lines))
	removed := 0
	for _, line := range lines {
		var units []string
		if lf.mode == "lines" {
			units = []string{line}
		} else {
			units = spans3(line)
		}
		var keep []string
		for _, u := range units {
			if n := lightNormalize(&lf.sb, u); n != "" && drop[xxhash.Sum64String(n)] {
				removed++
				continue
			}
			keep = append(keep, u)
		}
		if len(units) > 0 && len(keep) == 0 {
			continue
		}
		joined := strings.Join(keep, "")
		if len(keep) < len(units) {
			// A removed span took the text before the space that led the
			// next one; do not leave the line starting with it.
			joined = strings.TrimLeft(joined, " \t")
		}
		kept = append(kept, joined)
	}
	d.Text = strings.Join(kept, "\n")
	d.SetMeta("line_dedup_removed", removed)
	if strings.TrimSpace(d.Text) == "" {
		return "line_dedup_empty"
	}
	return ""
}

// Close reports a corrupt removal file or a short replay.
func (lf *lineFilter) Close() error {
	err := lf.err
	if err == nil && lf.have {
		err = fmt.Errorf("%s: filter saw %d documents but removals go on to document %d", lf.path, lf.seq, lf.nextSeq+1)
	}
	if cerr := lf.f.Close(); err == nil {
		err = cerr
	}
	return err
}
