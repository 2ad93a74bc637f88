//go:build beam

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurateBeamPrism runs kiln curate's Beam path end to end on prism with
// a Beam flag passed through, and checks the run directory it leaves.
func TestCurateBeamPrism(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 40; i++ {
		text := strings.Repeat("The river runs past the old mill and the children watch the boats go by. ", 8)
		if i%4 == 0 {
			text = "short"
		}
		b, _ := json.Marshal(map[string]string{"id": "d" + string(rune('a'+i%26)) + string(rune('a'+i/26)), "text": text})
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(rec, []byte(`name: cli
inputs:
  - name: in
    paths: ["in.jsonl"]
    format: jsonl
    source: web
stages:
  - gopher_quality
  - exact_dedup
outputs:
  docs: jsonl.zst
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	if err := cmdCurateBeam(context.Background(), []string{rec, "--runner=prism", "-o", out, "--job_name=kiln-cli-test"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Records   int64            `json:"records"`
		Kept      int64            `json:"kept"`
		DroppedBy map[string]int64 `json:"dropped_by_reason"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	// 10 "short" documents fail gopher_quality; the 30 long ones are one
	// exact cluster, of which the first is kept.
	if st.Records != 40 || st.Kept != 1 || st.DroppedBy["exact_duplicate"] != 29 || st.DroppedBy["gopher_short_doc"] != 10 {
		t.Errorf("stats: records %d kept %d drops %v", st.Records, st.Kept, st.DroppedBy)
	}
	if err := cmdCurateBeam(context.Background(), []string{rec, "--runner=storm"}); err == nil || !strings.Contains(err.Error(), "want local, prism") {
		t.Errorf("unknown runner: err %v", err)
	}
}
