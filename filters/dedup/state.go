package dedup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kilnlm/kiln/pipeline"
)

// On-disk layout of a stage's private dir (all commits are renames, so a
// kill -9 at any point leaves either the old or the new state):
//
//	config.json             the stage's config; a mismatch is an error
//	tasks/NNNNNN/           committed observation of task N:
//	    meta.json           document count, run files
//	    ids.bin             document ids in input order (uvarint length + bytes)
//	    run-NNNNN.bin       sorted runs of (part, hash, aux, seq) records
//	tasks/NNNNNN.tmp/       an observation in progress (discarded on restart)
//	build/                  committed Build output: per-task decision files
//	build.tmp/              a Build in progress (discarded on restart)

// keyFunc emits the records one document contributes.
type keyFunc func(d *pipeline.Document, emit func(part uint32, hash, aux uint64) error) error

// core is what the three dedup stages share: observation into sorted runs,
// dense numbering and the build/commit protocol.
type core struct {
	name   string
	parts  int
	mem    *budget
	limit  int64  // the whole stage's memory budget in bytes
	config []byte // canonical JSON of the config, checked against dir
	keys   func() (keyFunc, error)
}

type taskMeta struct {
	Docs uint32   `json:"docs"`
	Runs []string `json:"runs"`
}

func taskDir(dir string, task int) string {
	return filepath.Join(dir, "tasks", fmt.Sprintf("%06d", task))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkConfig records the config on first use and refuses a dir that holds
// state made with a different one: reusing it would mix signatures.
func (c *core) checkConfig(dir string) error {
	path := filepath.Join(dir, "config.json")
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if !bytes.Equal(old, c.config) {
			return fmt.Errorf("%s: state dir %s was made with config %s, now %s; use a fresh dir", c.name, dir, old, c.config)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return writeAtomic(path, c.config)
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// Observe implements pipeline.GlobalStage.
func (c *core) Observe(dir string, task int) (pipeline.Observer, error) {
	if err := c.checkConfig(dir); err != nil {
		return nil, err
	}
	final := taskDir(dir, task)
	if exists(filepath.Join(final, "meta.json")) {
		// Committed by an earlier run: the documents are identical, so the
		// state is too.
		return noopObserver{}, nil
	}
	// New observations make any committed Build stale.
	if err := os.RemoveAll(filepath.Join(dir, "build")); err != nil {
		return nil, fmt.Errorf("%s task %d: %w", c.name, task, err)
	}
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("%s task %d: %w", c.name, task, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("%s task %d: %w", c.name, task, err)
	}
	keys, err := c.keys()
	if err != nil {
		return nil, err
	}
	ids, err := os.Create(filepath.Join(tmp, "ids.bin"))
	if err != nil {
		return nil, fmt.Errorf("%s task %d: %w", c.name, task, err)
	}
	return &observer{c: c, task: task, final: final, tmp: tmp, keys: keys,
		idsFile: ids, ids: bufio.NewWriterSize(ids, 1<<16), sp: newSpiller(tmp, c.parts, c.mem)}, nil
}

type noopObserver struct{}

func (noopObserver) Add(*pipeline.Document) error { return nil }
func (noopObserver) Close() error                 { return nil }

type observer struct {
	c          *core
	task       int
	final, tmp string
	keys       keyFunc
	idsFile    *os.File
	ids        *bufio.Writer
	sp         *spiller
	seq        uint32
	varint     [binary.MaxVarintLen64]byte
	closed     bool
}

func (o *observer) Add(d *pipeline.Document) error {
	if o.seq == ^uint32(0) {
		return fmt.Errorf("%s task %d: more than 2^32-1 documents in one task", o.c.name, o.task)
	}
	n := binary.PutUvarint(o.varint[:], uint64(len(d.ID)))
	o.ids.Write(o.varint[:n])
	o.ids.WriteString(d.ID)
	seq := o.seq
	err := o.keys(d, func(part uint32, hash, aux uint64) error {
		return o.sp.add(record{part: part, hash: hash, aux: aux, seq: seq})
	})
	if err != nil {
		return fmt.Errorf("%s task %d document %q (record %d): %w", o.c.name, o.task, d.ID, seq+1, err)
	}
	o.seq++
	return nil
}

// Close spills the last run and commits the task with one rename.
func (o *observer) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	runs, err := o.sp.finish()
	if err == nil {
		err = o.ids.Flush()
	}
	if cerr := o.idsFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s task %d: %w", o.c.name, o.task, err)
	}
	m := taskMeta{Docs: o.seq}
	for _, r := range runs {
		m.Runs = append(m.Runs, filepath.Base(r))
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(o.tmp, "meta.json"), b, 0o644); err != nil {
		return fmt.Errorf("%s task %d: %w", o.c.name, o.task, err)
	}
	if err := os.RemoveAll(o.final); err != nil {
		return fmt.Errorf("%s task %d: %w", o.c.name, o.task, err)
	}
	if err := os.Rename(o.tmp, o.final); err != nil {
		return fmt.Errorf("%s task %d: commit: %w", o.c.name, o.task, err)
	}
	return nil
}

// corpus is the committed observation of every task, numbered densely:
// document seq of task t is id offsets[t]+seq.
type corpus struct {
	dir     string
	metas   []taskMeta
	offsets []uint32
	n       uint32
}

func loadCorpus(dir string, tasks int) (*corpus, error) {
	c := &corpus{dir: dir, metas: make([]taskMeta, tasks), offsets: make([]uint32, tasks+1)}
	var total uint64
	for t := range tasks {
		path := filepath.Join(taskDir(dir, t), "meta.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("task %d was not observed: %w", t, err)
		}
		if err := json.Unmarshal(b, &c.metas[t]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		c.offsets[t] = uint32(total)
		total += uint64(c.metas[t].Docs)
		if total >= 1<<32-1 {
			return nil, fmt.Errorf("more than 2^32-2 documents; split the run")
		}
	}
	c.offsets[tasks] = uint32(total)
	c.n = uint32(total)
	return c, nil
}

// sources lists every run's section for part.
func (c *corpus) sources(part int) []source {
	var out []source
	for t, m := range c.metas {
		for _, r := range m.Runs {
			out = append(out, source{path: filepath.Join(taskDir(c.dir, t), r), part: part, base: c.offsets[t]})
		}
	}
	return out
}

// eachID calls fn with every document id in dense order.
func (c *corpus) eachID(fn func(id uint32, docID string) error) error {
	var buf []byte
	for t := range c.metas {
		path := filepath.Join(taskDir(c.dir, t), "ids.bin")
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		r := bufio.NewReaderSize(f, 1<<16)
		for seq := uint32(0); seq < c.metas[t].Docs; seq++ {
			n, err := binary.ReadUvarint(r)
			if err == nil {
				buf = append(buf[:0], make([]byte, n)...)
				_, err = io.ReadFull(r, buf)
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s record %d: %w", path, seq+1, err)
			}
			if err := fn(c.offsets[t]+seq, string(buf)); err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
	}
	return nil
}

// fanIn picks how many runs one merge reads at once within bytes.
func fanIn(bytes int64) int {
	return int(min(max(bytes/mergeBufSize, 2), 512))
}

// build runs the shared commit protocol around a stage's decide step, which
// writes its per-task files into tmp.
func build(ctx context.Context, name, dir string, tasks int, decide func(ctx context.Context, c *corpus, tmp string) error) error {
	final := filepath.Join(dir, "build")
	done := filepath.Join(final, "done")
	if b, err := os.ReadFile(done); err == nil && string(b) == strconv.Itoa(tasks) {
		return nil
	}
	c, err := loadCorpus(dir, tasks)
	if err != nil {
		return fmt.Errorf("%s build: %w", name, err)
	}
	tmp := filepath.Join(dir, "build.tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("%s build: %w", name, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("%s build: %w", name, err)
	}
	if err := decide(ctx, c, tmp); err != nil {
		return fmt.Errorf("%s build: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "done"), []byte(strconv.Itoa(tasks)), 0o644); err != nil {
		return fmt.Errorf("%s build: %w", name, err)
	}
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("%s build: %w", name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("%s build: commit: %w", name, err)
	}
	return nil
}

func decisionPath(dir string, task int) string {
	return filepath.Join(dir, fmt.Sprintf("task-%06d.dec", task))
}

// writeDecisions turns rep (rep[i] = the kept document of i's cluster) into
// one decision file per task listing the documents of clusters larger than
// one: seq, cluster size, duplicate flag, id of the kept document.
func writeDecisions(ctx context.Context, c *corpus, rep []uint32, tmp string) error {
	size := make([]uint32, c.n)
	for _, r := range rep {
		size[r]++
	}
	roots := make(map[uint32]string)
	err := c.eachID(func(id uint32, docID string) error {
		if rep[id] == id && size[id] > 1 {
			roots[id] = docID
		}
		return nil
	})
	if err != nil {
		return err
	}
	var b []byte
	for t := range c.metas {
		if err := ctx.Err(); err != nil {
			return err
		}
		b = b[:0]
		for id := c.offsets[t]; id < c.offsets[t+1]; id++ {
			r := rep[id]
			if size[r] < 2 {
				continue
			}
			b = binary.AppendUvarint(b, uint64(id-c.offsets[t]))
			b = binary.AppendUvarint(b, uint64(size[r]))
			if r != id {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			b = binary.AppendUvarint(b, uint64(len(roots[r])))
			b = append(b, roots[r]...)
		}
		if err := os.WriteFile(decisionPath(tmp, t), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// clusterFilter applies decision files: reason for duplicates, and the
// cluster's kept id and size in metadata under prefix+"_cluster" and
// prefix+"_cluster_size" for every member, the kept one included.
type clusterFilter struct {
	path   string
	reason string
	prefix string
	r      *bufio.Reader
	f      *os.File
	seq    uint64
	have   bool
	next   decision
	err    error
}

type decision struct {
	seq, size uint64
	dup       bool
	root      string
}

func openClusterFilter(dir string, task int, reason, prefix string) (*clusterFilter, error) {
	b := filepath.Join(dir, "build")
	if !exists(filepath.Join(b, "done")) {
		return nil, fmt.Errorf("%s: Filter before Build finished (no %s)", prefix, filepath.Join(b, "done"))
	}
	path := decisionPath(b, task)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	cf := &clusterFilter{path: path, reason: reason, prefix: prefix, f: f, r: bufio.NewReader(f)}
	cf.advance()
	return cf, nil
}

func (cf *clusterFilter) advance() {
	cf.have = false
	seq, err := binary.ReadUvarint(cf.r)
	if err == io.EOF {
		return
	}
	var size, n uint64
	var flag byte
	if err == nil {
		size, err = binary.ReadUvarint(cf.r)
	}
	if err == nil {
		flag, err = cf.r.ReadByte()
	}
	if err == nil {
		n, err = binary.ReadUvarint(cf.r)
	}
	var root []byte
	if err == nil {
		root = make([]byte, n)
		_, err = io.ReadFull(cf.r, root)
	}
	if err != nil {
		cf.err = fmt.Errorf("%s: corrupt decision file: %w", cf.path, err)
		return
	}
	cf.next = decision{seq: seq, size: size, dup: flag == 1, root: string(root)}
	cf.have = true
}

func (cf *clusterFilter) Apply(d *pipeline.Document) string {
	seq := cf.seq
	cf.seq++
	if !cf.have || cf.next.seq != seq {
		return ""
	}
	dec := cf.next
	cf.advance()
	if !dec.dup && d.ID != dec.root && cf.err == nil {
		// The kept document's id was recorded in Observe: a different id
		// here means the Filter pass is not replaying the same documents.
		cf.err = fmt.Errorf("%s: document %d is %q but Observe saw %q there; the Filter pass must see the Observe pass's documents in order", cf.path, seq+1, d.ID, dec.root)
	}
	d.SetMeta(cf.prefix+"_cluster", dec.root)
	d.SetMeta(cf.prefix+"_cluster_size", int(dec.size))
	if dec.dup {
		return cf.reason
	}
	return ""
}

// Close reports a corrupt decision file or a task that saw fewer documents
// than the observation did.
func (cf *clusterFilter) Close() error {
	err := cf.err
	if err == nil && cf.have {
		err = fmt.Errorf("%s: filter saw %d documents but decisions go on to document %d; the Filter pass must see the Observe pass's documents", cf.path, cf.seq, cf.next.seq+1)
	}
	if cerr := cf.f.Close(); err == nil {
		err = cerr
	}
	return err
}
