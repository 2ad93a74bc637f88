package trainer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// readSafetensors is an independent reader written from the format spec:
// u64 little-endian header size, JSON header, contiguous data section.
func readSafetensors(path string) (map[string][]float32, map[string][]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%s: too short", path)
	}
	hn := binary.LittleEndian.Uint64(data)
	if 8+hn > uint64(len(data)) {
		return nil, nil, fmt.Errorf("%s: header size %d beyond file", path, hn)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hn], &header); err != nil {
		return nil, nil, err
	}
	body := data[8+hn:]
	vals, shapes := map[string][]float32{}, map[string][]int{}
	covered := 0
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		n := 1
		for _, d := range e.Shape {
			n *= d
		}
		if e.Dtype != "F32" || e.Offsets[1]-e.Offsets[0] != 4*n || e.Offsets[1] > len(body) {
			return nil, nil, fmt.Errorf("tensor %s: bad entry %+v", name, e)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[e.Offsets[0]+4*i:]))
		}
		vals[name], shapes[name] = v, e.Shape
		covered += 4 * n
	}
	if covered != len(body) {
		return nil, nil, fmt.Errorf("tensors cover %d of %d data bytes", covered, len(body))
	}
	return vals, shapes, nil
}

func TestExportSafetensors(t *testing.T) {
	dir := t.TempDir()
	tr := testRun(t, dir, 1, false)
	if err := tr.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	ck, err := LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokPath := filepath.Join(dir, "tokenizer.json")
	os.WriteFile(tokPath, []byte(`{"model":{}}`), 0o644)
	out := filepath.Join(dir, "hf")
	if err := Export(ck, out, tokPath); err != nil {
		t.Fatal(err)
	}
	vals, shapes, err := readSafetensors(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	host := tr.Model.HostParams()
	for _, s := range tr.Model.specs {
		v, ok := vals[s.Name]
		if !ok {
			t.Fatalf("tensor %s missing", s.Name)
		}
		if fmt.Sprint(shapes[s.Name]) != fmt.Sprint(s.Shape) {
			t.Fatalf("%s shape %v want %v", s.Name, shapes[s.Name], s.Shape)
		}
		if !equalF32(v, host[s.Off:s.Off+s.Size()]) {
			t.Fatalf("%s values differ", s.Name)
		}
	}
	if len(vals) != len(tr.Model.specs) {
		t.Fatalf("%d tensors, want %d", len(vals), len(tr.Model.specs))
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["model_type"] != "smollm3" || cfg["num_key_value_heads"].(float64) != 2 {
		t.Fatalf("config.json: %v", cfg)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseCheckpointState: malformed state files fail with an error, never
// a panic, and accepted ones carry a valid model.
func FuzzParseCheckpointState(f *testing.F) {
	good, _ := json.Marshal(CheckpointState{Format: CheckpointFormat, Step: 3, Model: testConfig()})
	f.Add(good)
	f.Add([]byte(`{"format": 1, "model": {"hidden_size": 0}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseCheckpointState(data, "state.json")
		if err != nil {
			return
		}
		if st.Model.Validate() != nil || st.Step < 0 {
			t.Fatalf("invalid state accepted: %+v", st)
		}
	})
}
