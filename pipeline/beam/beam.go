//go:build beam

// Package beam translates a Kiln curation recipe into an Apache Beam
// pipeline so the same recipe runs on Flink, Spark or Dataflow (or on the
// embedded prism runner for tests). It is compiled only with the build tag
// "beam" (make build-beam): the Beam SDK and its gRPC/cloud dependencies
// roughly double the kiln binary, and one machine is better served by the
// local executor (docs/perf/beam.md).
//
// The translation keeps Kiln's own code on the workers: readers, stages and
// outputs are built from the recipe inside each DoFn, so a filter behaves
// exactly as under the local executor. The graph is
//
//	tasks (planned on the driver) -> Reshuffle -> read + stages before the
//	first global stage -> per global stage: keys -> GroupByKey -> decisions,
//	joined back to the documents by input order (CoGroupByKey) -> stages up
//	to the next global stage -> GroupByKey by task -> per-task writers ->
//	one finish step (Output.Finish: manifest merge; stats.json).
//
// Every document carries its input order, ord = task<<32 | record number,
// which is the order the local executor numbers documents in, so "keep the
// first of a duplicate cluster" picks the same document on every runner.
package beam

import (
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/kilnlm/kiln/filters/dedup"
	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/recipe"
)

func init() {
	for _, v := range []any{
		(*readFn)(nil), (*keyFn)(nil), (*exactDecideFn)(nil), (*bandEdgesFn)(nil),
		(*componentsFn)(nil), (*applyFn)(nil), (*toTaskFn)(nil), (*writeFn)(nil), (*finishFn)(nil),
		(*taskSpec)(nil), (*docRec)(nil), (*outRec)(nil), (*member)(nil), (*decision)(nil), (*edge)(nil), (*stat)(nil), (*adj)(nil), (*starFn)(nil),
	} {
		beam.RegisterType(reflect.TypeOf(v).Elem())
	}
	beam.RegisterFunction(keyByOrd)
	beam.RegisterFunction(taskMarker)
	beam.RegisterFunction(toStat)
	beam.RegisterFunction(dropByTask)
	beam.RegisterFunction(bothWays)
}

// Spec is what every DoFn needs to rebuild the recipe on a worker: the
// normalised recipe (every parameter explicit), where it came from (for
// ${RECIPE_DIR}/${KILN_DATA} and error messages), and the run directory.
// It is serialised into the pipeline graph as JSON.
type Spec struct {
	File   string `json:"file"`
	Dir    string `json:"dir"`
	Recipe []byte `json:"recipe"`
	Out    string `json:"out"`
}

// taskSpec is one planned read task.
type taskSpec struct {
	Index int64
	Input int64
	Path  string
	Start int64
	End   int64
}

// docRec is a document in flight, in Kiln's JSON form, with its input order.
type docRec struct {
	Ord int64
	Doc []byte
}

// outRec is a document on its way to the per-task writers. Reason is empty
// for a kept document; Ord < 0 marks a task that must be opened even when
// none of its documents survived (outputs expect one part per task).
type outRec struct {
	Ord    int64
	Doc    []byte
	Reason string
}

// ordOf packs a task index and a record number into the input order.
func ordOf(task int64, seq int64) int64 { return task<<32 | seq }

func taskOf(ord int64) int64 { return ord >> 32 }

// Options configures the translation.
type Options struct {
	// Out is the run directory. On a cluster it must be a path every worker
	// and the finish step can write (a shared or fuse-mounted filesystem).
	Out string
	// Sources are the normalised recipe's origin for worker-side parsing.
	File, Dir string
}

// Translation is a built pipeline plus what the driver planned.
type Translation struct {
	Pipeline *beam.Pipeline
	Tasks    int
}

// Translate builds the Beam pipeline for a resolved recipe. newReader is the
// readers package constructor used for planning (the driver matches files
// and splits them into tasks, exactly as the local executor does).
func Translate(res *recipe.Resolved, o Options) (*Translation, error) {
	if o.Out == "" {
		return nil, fmt.Errorf("beam: no output directory")
	}
	spec := Spec{File: res.Recipe.File, Dir: res.Recipe.Dir, Recipe: res.Normalized, Out: o.Out}
	// Check on the driver that the normalised recipe rebuilds (workers do the
	// same in Setup), so a problem surfaces before submission.
	if _, err := spec.build(need{From: 0, To: len(res.Stages), Outputs: true}); err != nil {
		return nil, err
	}
	var tasks []taskSpec
	for i, in := range res.Inputs {
		rd, err := newReader(in.Input)
		if err != nil {
			return nil, fmt.Errorf("%s: reader: %w", in.Pos, err)
		}
		ts, err := rd.Plan(in.Files)
		if err != nil {
			return nil, fmt.Errorf("%s: plan: %w", in.Pos, err)
		}
		for _, t := range ts {
			tasks = append(tasks, taskSpec{Index: int64(len(tasks)), Input: int64(i), Path: t.Path, Start: t.Start, End: t.End})
		}
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("%s: no input tasks", res.Recipe.File)
	}
	var globals []int
	for i, b := range res.Stages {
		switch b.Value.(type) {
		case *dedup.Exact, *dedup.MinHash:
			globals = append(globals, i)
		case pipeline.GlobalStage:
			return nil, fmt.Errorf("%s: step %s: global stage not supported by the Beam runner (only exact_dedup and minhash_dedup)", b.Step.Pos, b.Step.Name)
		}
	}
	p, s := beam.NewPipelineWithRoot()
	ts := beam.CreateList(s.Scope("plan"), tasks)
	ts = beam.Reshuffle(s.Scope("spread"), ts)
	end := len(res.Stages)
	if len(globals) > 0 {
		end = globals[0]
	}
	docs, dropped, st := beam.ParDo3(s.Scope("read"), &readFn{Spec: spec, Last: int64(end)}, ts)
	allDropped := []beam.PCollection{dropped}
	allStats := []beam.PCollection{st}
	for gi, g := range globals {
		end := len(res.Stages)
		if gi+1 < len(globals) {
			end = globals[gi+1]
		}
		gs := s.Scope(res.Stages[g].Step.Name)
		keys := beam.ParDo(gs, &keyFn{Spec: spec, Stage: int64(g)}, docs)
		grouped := beam.GroupByKey(gs, keys)
		var dec beam.PCollection
		if _, ok := res.Stages[g].Value.(*dedup.Exact); ok {
			dec = beam.ParDo(gs, &exactDecideFn{}, grouped)
		} else {
			dec = connectedComponents(gs, grouped)
		}
		byOrd := beam.ParDo(gs, keyByOrd, docs)
		joined := beam.CoGroupByKey(gs, byOrd, dec)
		docs, dropped, st = beam.ParDo3(gs, &applyFn{Spec: spec, Global: int64(g), Last: int64(end)}, joined)
		allDropped = append(allDropped, dropped)
		allStats = append(allStats, st)
	}
	ws := s.Scope("write")
	kept := beam.ParDo(ws, &toTaskFn{}, docs)
	rej := beam.ParDo(ws, dropByTask, beam.Flatten(ws, allDropped...))
	markers := beam.ParDo(ws, taskMarker, beam.CreateList(ws, tasks))
	byTask := beam.GroupByKey(ws, beam.Flatten(ws, kept, rej, markers))
	allStats = append(allStats, beam.ParDo(ws, &writeFn{Spec: spec}, byTask))
	fs := s.Scope("finish")
	totals := beam.ParDo(fs, toStat, stats.SumPerKey(fs, beam.Flatten(fs, allStats...)))
	one := beam.GroupByKey(fs, beam.AddFixedKey(fs, totals))
	beam.ParDo0(fs, &finishFn{Spec: spec, Tasks: int64(len(tasks))}, one)
	return &Translation{Pipeline: p, Tasks: len(tasks)}, nil
}

func keyByOrd(d docRec) (int64, docRec) { return d.Ord, d }

func taskMarker(t taskSpec) (int64, outRec) { return t.Index, outRec{Ord: -1} }

// stat is one total for the finish step (Beam forbids a KV inside a KV).
type stat struct {
	Key string
	N   int64
}

func toStat(k string, n int64) stat { return stat{Key: k, N: n} }
