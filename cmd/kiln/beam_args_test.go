package main

import (
	"reflect"
	"testing"
)

func TestSplitCurateBeamArgs(t *testing.T) {
	tests := []struct {
		args   []string
		runner string
		want   curateBeamArgs
		err    bool
	}{
		{[]string{"web.yaml"}, "local", curateBeamArgs{recipe: "web.yaml"}, false},
		{[]string{"web.yaml", "--runner=flink", "-o", "runs/w", "--endpoint=localhost:8099", "--environment_type=DOCKER"}, "flink",
			curateBeamArgs{recipe: "web.yaml", runner: "flink", out: "runs/w", beam: []string{"--endpoint=localhost:8099", "--environment_type=DOCKER"}}, false},
		{[]string{"--runner", "dataflow", "--set", "gopher_quality.min_doc_words=30", "r.yaml", "--project=p", "--region=europe-west1", "--workers", "4"}, "dataflow",
			curateBeamArgs{recipe: "r.yaml", runner: "dataflow", sets: []string{"gopher_quality.min_doc_words=30"}, beam: []string{"--project=p", "--region=europe-west1"}}, false},
		{[]string{"a.yaml", "b.yaml"}, "local", curateBeamArgs{}, true},
		{[]string{"--runner=prism"}, "prism", curateBeamArgs{}, true},
		{[]string{"a.yaml", "-o"}, "local", curateBeamArgs{}, true},
	}
	for _, tc := range tests {
		if got := curateRunner(tc.args); got != tc.runner {
			t.Errorf("curateRunner(%q) = %q, want %q", tc.args, got, tc.runner)
		}
		got, err := splitCurateBeamArgs(tc.args)
		if (err != nil) != tc.err {
			t.Errorf("splitCurateBeamArgs(%q): err %v, want error %v", tc.args, err, tc.err)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitCurateBeamArgs(%q) = %+v, want %+v", tc.args, got, tc.want)
		}
	}
}
