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

// cmdCurateBeam is kiln curate with --runner=prism|flink|spark|dataflow:
// the recipe is translated into a Beam pipeline (pipeline/beam) and
// submitted to the runner. Beam's own flags (--endpoint,
// --environment_type, --project, --region, --staging_location, ...) are
// handed to the SDK unchanged; write them as --name=value.
func cmdCurateBeam(ctx context.Context, args []string) error {
	ca, err := splitCurateBeamArgs(args)
	if err != nil {
		return err
	}
	// Beam's runners read their options from the standard flag set.
	if err := flag.CommandLine.Parse(ca.beam); err != nil {
		return fmt.Errorf("beam flags: %w", err)
	}
	if rest := flag.CommandLine.Args(); len(rest) > 0 {
		return fmt.Errorf("beam flags: unexpected %q (write Beam flags as --name=value)", rest)
	}
	beam.Init()
	res, err := loadRecipe(ca.recipe, ca.sets)
	if err != nil {
		return err
	}
	out := ca.out
	if out == "" {
		out = filepath.Join("runs", res.Recipe.Name)
	}
	if abs, err := filepath.Abs(out); err == nil {
		out = abs
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var exec func(context.Context, *beam.Pipeline) (beam.PipelineResult, error)
	switch ca.runner {
	case "prism":
		exec = prism.Execute
	case "flink":
		exec = flink.Execute
	case "spark":
		exec = spark.Execute
	case "dataflow":
		exec = dataflow.Execute
	default:
		return fmt.Errorf("--runner %q: want local, prism, flink, spark or dataflow", ca.runner)
	}
	tr, err := kbeam.Translate(res, kbeam.Options{Out: out})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "kiln: running %s on %s: %d tasks -> %s\n", res.Recipe.Name, ca.runner, tr.Tasks, out)
	if _, err := exec(ctx, tr.Pipeline); err != nil {
		return fmt.Errorf("beam %s: %w", ca.runner, err)
	}
	fmt.Printf("%s: done on %s; counts in %s\n", out, ca.runner, filepath.Join(out, "stats.json"))
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
