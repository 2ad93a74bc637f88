//go:build beam

package beam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow/dataflowlib"
	"google.golang.org/protobuf/proto"

	"github.com/kilnlm/kiln/internal/shareddata"
	"github.com/kilnlm/kiln/pipeline/recipe"
)

// portablePrimitives are the leaf transforms every portable runner (Flink,
// Spark, Dataflow runner v2, prism) executes; a leaf outside this set would
// need runner-specific support.
var portablePrimitives = map[string]bool{
	"beam:transform:impulse:v1":      true,
	"beam:transform:pardo:v1":        true,
	"beam:transform:group_by_key:v1": true,
	"beam:transform:flatten:v1":      true,
}

// TestShippedRecipesTranslate builds every shipped recipe's Beam graph,
// marshals it to the portable pipeline proto with a docker environment (as
// the Flink and Spark job servers receive it) and translates it into a
// Dataflow job, all offline: nothing is submitted.
func TestShippedRecipesTranslate(t *testing.T) {
	t.Setenv("KILN_DATA", shareddata.Dir(t)) // also when found through KILN_SHARED_DATA
	if os.Getenv("GOROOT") == "" {
		t.Setenv("GOROOT", runtime.GOROOT()) // code.yaml reads ${GOROOT}/src
	}
	files, err := filepath.Glob("../../recipes/curate/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped recipes found: %v", err)
	}
	ctx := context.Background()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := recipe.Load(f, recipe.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Resolve(NewRegistry(), nil)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := Translate(res, Options{Out: "/mnt/shared/kiln-runs/" + res.Recipe.Name})
			if err != nil {
				t.Fatal(err)
			}
			edges, _, err := tr.Pipeline.Build()
			if err != nil {
				t.Fatal(err)
			}
			env, err := graphx.CreateEnvironment(ctx, graphx.URNEnvDocker, func(context.Context) string { return "apache/beam_go_sdk:2.77.0" })
			if err != nil {
				t.Fatal(err)
			}
			model, err := graphx.Marshal(edges, &graphx.Options{Environment: env})
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			// Flink/Spark: the job server receives these bytes.
			b, err := proto.Marshal(model)
			if err != nil {
				t.Fatal(err)
			}
			var back pipepb.Pipeline
			if err := proto.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			checkModel(t, &back)
			// Dataflow: the v1b3 job the service would receive.
			sum := sha256.Sum256(b)
			job, err := dataflowlib.Translate(ctx, model, &dataflowlib.JobOptions{
				Name: "kiln-" + res.Recipe.Name, Project: "kiln-offline", Region: "us-central1",
				Zone: "us-central1-a", TempLocation: "gs://kiln-offline/tmp", Worker: "kiln",
				Experiments: []string{"use_runner_v2", "use_portable_job_submission"},
			}, "gs://kiln-offline/staging/worker", "gs://kiln-offline/staging/model", hex.EncodeToString(sum[:]))
			if err != nil {
				t.Fatalf("dataflow translate: %v", err)
			}
			if job.Name != "kiln-"+res.Recipe.Name || job.Type != "JOB_TYPE_BATCH" {
				t.Errorf("dataflow job %q type %q", job.Name, job.Type)
			}
			t.Logf("%s: %d tasks, %d transforms, %d pcollections, %d proto bytes", res.Recipe.Name, tr.Tasks,
				len(back.Components.Transforms), len(back.Components.Pcollections), len(b))
		})
	}
}

// checkModel verifies the proto is self-consistent: every leaf is a
// portable primitive, every referenced PCollection, coder and environment
// exists, and the graph has root transforms.
func checkModel(t *testing.T, p *pipepb.Pipeline) {
	t.Helper()
	c := p.GetComponents()
	if len(p.GetRootTransformIds()) == 0 {
		t.Fatal("no root transforms")
	}
	gbks := 0
	for id, tr := range c.GetTransforms() {
		if len(tr.GetSubtransforms()) == 0 {
			urn := tr.GetSpec().GetUrn()
			if !portablePrimitives[urn] {
				t.Errorf("transform %s (%s): leaf urn %q is not a portable primitive", id, tr.GetUniqueName(), urn)
			}
			if urn == "beam:transform:group_by_key:v1" {
				gbks++
			}
			if urn == "beam:transform:pardo:v1" {
				if _, ok := c.GetEnvironments()[tr.GetEnvironmentId()]; !ok {
					t.Errorf("transform %s: environment %q missing", tr.GetUniqueName(), tr.GetEnvironmentId())
				}
			}
		}
		for _, pc := range tr.GetInputs() {
			if _, ok := c.GetPcollections()[pc]; !ok {
				t.Errorf("transform %s: input %q missing", tr.GetUniqueName(), pc)
			}
		}
		for _, pc := range tr.GetOutputs() {
			if _, ok := c.GetPcollections()[pc]; !ok {
				t.Errorf("transform %s: output %q missing", tr.GetUniqueName(), pc)
			}
		}
	}
	for id, pc := range c.GetPcollections() {
		if _, ok := c.GetCoders()[pc.GetCoderId()]; !ok {
			t.Errorf("pcollection %s: coder %q missing", id, pc.GetCoderId())
		}
	}
	if gbks == 0 {
		t.Error("no GroupByKey: dedup and the per-task writers should shuffle")
	}
}

// TestTranslateRefuses checks the errors a recipe gets before anything is
// submitted: an unsupported global stage (named with its recipe position)
// and a missing run directory.
func TestTranslateRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(`{"id":"a","text":"one two three"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := resolve(t, dir, "lines", `name: lines
inputs:
  - name: in
    paths: ["in.jsonl"]
    format: jsonl
stages:
  - line_dedup
`)
	_, err := Translate(res, Options{Out: filepath.Join(dir, "run")})
	if err == nil || !strings.Contains(err.Error(), "line_dedup") || !strings.Contains(err.Error(), "lines.yaml:") {
		t.Errorf("line_dedup: err = %v, want an error naming the step and the recipe line", err)
	}
	if _, err := Translate(res, Options{}); err == nil {
		t.Error("no output directory: want an error")
	}
}
