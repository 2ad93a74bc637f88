//go:build beam

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"

	kbeam "github.com/kilnlm/kiln/pipeline/beam"
)

// curateBeam runs a recipe on a Beam runner (prism, flink, spark,
// dataflow). beamFlags are Beam's own flags (--endpoint,
// --environment_type, --project, --region, --staging_location, ...),
// handed to the SDK's flag set unchanged.
func curateBeam(ctx context.Context, runner, recipePath string, sets []string, out string, beamFlags []string) error {
	// Beam's runners read their options from the standard flag set.
	if err := flag.CommandLine.Parse(beamFlags); err != nil {
		return fmt.Errorf("beam flags: %w", err)
	}
	beam.Init()
	res, err := loadRecipe(recipePath, sets)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join("runs", res.Recipe.Name)
	}
	if abs, err := filepath.Abs(out); err == nil {
		out = abs
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tr, err := kbeam.Translate(res, kbeam.Options{Out: out})
	if err != nil {
		return err
	}
	var exec func(context.Context, *beam.Pipeline) (beam.PipelineResult, error)
	switch runner {
	case "prism":
		exec = prism.Execute
	case "flink":
		exec = flink.Execute
	case "spark":
		exec = spark.Execute
	case "dataflow":
		exec = dataflow.Execute
	default:
		return fmt.Errorf("--runner %q: want local, prism, flink, spark or dataflow", runner)
	}
	fmt.Fprintf(os.Stderr, "kiln: running %s on %s: %d tasks -> %s\n", res.Recipe.Name, runner, tr.Tasks, out)
	if _, err := exec(ctx, tr.Pipeline); err != nil {
		return fmt.Errorf("beam %s: %w", runner, err)
	}
	fmt.Printf("%s: done on %s; see %s\n", out, runner, filepath.Join(out, "stats.json"))
	return nil
}

// beamWorkerMain turns this process into a Beam SDK worker when a runner
// started it as one (the runner passes --worker=true and the control
// endpoints). main must call it before dispatching verbs; it returns false
// for every ordinary command line.
func beamWorkerMain() bool {
	for _, a := range os.Args[1:] {
		if a == "--worker" || a == "--worker=true" || a == "-worker" || a == "-worker=true" {
			flag.Parse()
			beam.Init() // runs the worker harness and exits
			return true
		}
	}
	return false
}
