package readers

import (
	"context"
	"testing"

	"github.com/kilnlm/kiln/pipeline"
)

// collector is an Emitter that keeps documents and counts skips.
type collector struct {
	docs  []*pipeline.Document
	skips map[string]int
	first map[string]pipeline.Skip
	keep  bool // keep documents (else only count)
	n     int
}

func newCollector(keep bool) *collector {
	return &collector{skips: map[string]int{}, first: map[string]pipeline.Skip{}, keep: keep}
}

func (c *collector) Doc(d *pipeline.Document) error {
	c.n++
	if c.keep {
		c.docs = append(c.docs, d)
	}
	return nil
}

func (c *collector) Skip(s pipeline.Skip) {
	if _, ok := c.first[s.Reason]; !ok {
		c.first[s.Reason] = s
	}
	c.skips[s.Reason]++
}

func (c *collector) skipped() int {
	n := 0
	for _, v := range c.skips {
		n += v
	}
	return n
}

// readAll plans paths and reads every task in order.
func readAll(tb testing.TB, o Options, keep bool, paths ...string) (*collector, error) {
	tb.Helper()
	r, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	tasks, err := r.Plan(paths)
	if err != nil {
		return nil, err
	}
	c := newCollector(keep)
	for _, t := range tasks {
		if err := r.Read(context.Background(), t, c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func pipelineTask(path string) pipeline.Task { return pipeline.Task{Path: path, End: -1} }
