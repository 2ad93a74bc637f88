package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/kilnlm/kiln/pipeline/executor"
	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// found is what discovery located below the report's root.
type found struct {
	Curated []*curatedRun
	Shards  []*shardSet
	Train   []*trainRun
	// Problems are files that were found but could not be read; the page
	// lists them.
	Problems []string
}

type curatedRun struct {
	Rel   string
	Dir   string
	Man   *manifest.Manifest // nil when only stats.json exists
	Stats *executor.Stats
}

type shardSet struct {
	Rel string
	Dir string
	Man *shard.Manifest
}

type trainRun struct {
	Rel     string
	Dir     string
	Metrics []Metric
	Skipped int // metrics lines that did not parse
}

// skipDirs are never descended into: bulk data and run internals.
var skipDirs = map[string]bool{"docs": true, "rejected": true, "checkpoints": true, "samples": true, plotDir: true}

// discover walks root (maxDepth levels) for curated runs (stats.json or
// a curated manifest.json), shard sets (shards.json) and training runs
// (metrics.jsonl), in sorted path order.
func discover(root string, maxDepth int) (*found, error) {
	f := &found{}
	root = filepath.Clean(root)
	base := strings.Count(root, string(filepath.Separator))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			f.Problems = append(f.Problems, err.Error())
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if p != root && (strings.HasPrefix(d.Name(), ".") || skipDirs[d.Name()]) {
			return fs.SkipDir
		}
		if strings.Count(p, string(filepath.Separator))-base > maxDepth {
			return fs.SkipDir
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if exists(filepath.Join(p, "stats.json")) || exists(filepath.Join(p, manifest.FileName)) {
			if c := loadCurated(p, rel, f); c != nil {
				f.Curated = append(f.Curated, c)
			}
		}
		if exists(filepath.Join(p, shard.ManifestFile)) {
			m, err := shard.ReadManifest(p)
			if err != nil {
				f.Problems = append(f.Problems, err.Error())
			} else {
				f.Shards = append(f.Shards, &shardSet{Rel: rel, Dir: p, Man: m})
			}
		}
		if exists(filepath.Join(p, "metrics.jsonl")) {
			tr := &trainRun{Rel: rel, Dir: p}
			file, err := os.Open(filepath.Join(p, "metrics.jsonl"))
			if err != nil {
				f.Problems = append(f.Problems, err.Error())
			} else {
				tr.Metrics, tr.Skipped, err = ParseMetrics(file)
				file.Close()
				if err != nil {
					f.Problems = append(f.Problems, fmt.Sprintf("%s/metrics.jsonl: %v", p, err))
				}
				f.Train = append(f.Train, tr)
			}
		}
		return nil
	})
	return f, err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func loadCurated(dir, rel string, f *found) *curatedRun {
	c := &curatedRun{Rel: rel, Dir: dir}
	if exists(filepath.Join(dir, manifest.FileName)) {
		m, err := manifest.Read(dir)
		if err != nil {
			// Some other tool's manifest.json: not a curated run.
			if !exists(filepath.Join(dir, "stats.json")) {
				return nil
			}
			f.Problems = append(f.Problems, err.Error())
		} else {
			c.Man = m
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "stats.json"))
	if err != nil {
		if c.Man == nil {
			return nil
		}
		f.Problems = append(f.Problems, fmt.Sprintf("%s: curated run without stats.json: %v", dir, err))
		return c
	}
	var st executor.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		f.Problems = append(f.Problems, fmt.Sprintf("%s/stats.json: %v", dir, err))
		return c
	}
	c.Stats = &st
	return c
}

// Name is the run's display name: the recipe name, else its folder.
func (c *curatedRun) Name() string {
	if c.Man != nil && c.Man.Name != "" {
		return c.Man.Name
	}
	if c.Stats != nil && c.Stats.Name != "" {
		return c.Stats.Name
	}
	return c.Rel
}

// Metric is one line of a training run's metrics.jsonl. Floats accept
// JSON numbers, null and the strings "NaN", "Inf", "-Inf" (so a run that
// logs a non-finite loss still parses and raises an alarm).
type Metric struct {
	Step       int
	Loss       float64
	SourceLoss map[string]float64
	LR         float64
	GradNorm   float64
	Tokens     float64
	TokensPerS float64
	MFU        float64
	DataWait   float64
	StepS      float64
	SpikeZ     float64
	Event      string
	EvalLoss   map[string]float64
	Line       int
}

// flexFloat decodes a number, null (NaN) or a non-finite string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = flexFloat(math.NaN())
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("number %q: %w", s, err)
		}
		*f = flexFloat(v)
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("number %s: %w", b, err)
	}
	*f = flexFloat(v)
	return nil
}

type metricJSON struct {
	Step       *int                 `json:"step"`
	Loss       *flexFloat           `json:"loss"`
	SourceLoss map[string]flexFloat `json:"source_loss"`
	LR         flexFloat            `json:"lr"`
	GradNorm   flexFloat            `json:"grad_norm"`
	Tokens     flexFloat            `json:"tokens"`
	TokensPerS flexFloat            `json:"tokens_per_s"`
	MFU        flexFloat            `json:"mfu"`
	DataWait   flexFloat            `json:"data_wait_frac"`
	StepS      flexFloat            `json:"step_s"`
	SpikeZ     flexFloat            `json:"spike_z"`
	Event      string               `json:"event"`
	EvalLoss   map[string]flexFloat `json:"eval_loss"`
}

func flexMap(m map[string]flexFloat) map[string]float64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

// maxMetricLine bounds one metrics line (a line is a few hundred bytes).
const maxMetricLine = 1 << 20

// ParseMetrics reads a metrics.jsonl stream. Lines that are not a JSON
// object with a step are counted in skipped (a run killed mid-write leaves
// a partial last line); an I/O error or an over-long line is returned
// naming the line.
func ParseMetrics(r io.Reader) (ms []Metric, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxMetricLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var j metricJSON
		if err := json.Unmarshal(b, &j); err != nil || j.Step == nil {
			skipped++
			continue
		}
		m := Metric{Step: *j.Step, Loss: math.NaN(), SourceLoss: flexMap(j.SourceLoss), LR: float64(j.LR), GradNorm: float64(j.GradNorm),
			Tokens: float64(j.Tokens), TokensPerS: float64(j.TokensPerS), MFU: float64(j.MFU), DataWait: float64(j.DataWait),
			StepS: float64(j.StepS), SpikeZ: float64(j.SpikeZ), Event: j.Event, EvalLoss: flexMap(j.EvalLoss), Line: line}
		if j.Loss != nil {
			m.Loss = float64(*j.Loss)
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return ms, skipped, fmt.Errorf("line %d: %w", line+1, err)
	}
	return ms, skipped, nil
}

// Sample is one vibe-test continuation (trainer's samples/*.jsonl).
type Sample struct {
	Step   int    `json:"step"`
	Prompt string `json:"prompt"`
	Mode   string `json:"mode"`
	Text   string `json:"text"`
}

// ParseSamples reads one samples/step-N.jsonl stream; bad lines are
// counted in skipped.
func ParseSamples(r io.Reader) (ss []Sample, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxMetricLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var s Sample
		if err := json.Unmarshal(b, &s); err != nil {
			skipped++
			continue
		}
		ss = append(ss, s)
	}
	if err := sc.Err(); err != nil {
		return ss, skipped, fmt.Errorf("line %d: %w", line+1, err)
	}
	return ss, skipped, nil
}

// loadSamples reads every samples/step-*.jsonl of a run, in step order.
func loadSamples(runDir string) (map[int][]Sample, []int, []string) {
	files, _ := filepath.Glob(filepath.Join(runDir, "samples", "*.jsonl"))
	sort.Strings(files)
	out := map[int][]Sample{}
	var problems []string
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		ss, skipped, err := ParseSamples(f)
		f.Close()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p, err))
		}
		if skipped > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d unreadable lines skipped", p, skipped))
		}
		for _, s := range ss {
			out[s.Step] = append(out[s.Step], s)
		}
	}
	steps := make([]int, 0, len(out))
	for s := range out {
		steps = append(steps, s)
	}
	sort.Ints(steps)
	return out, steps, problems
}

// clusterSizes counts dedup clusters by size from the kept documents of a
// curated run: dedup stages mark each kept representative of a cluster
// larger than one with metadata <method>_cluster_size. At most maxDocs
// documents are read (0: no limit); truncated reports whether the limit
// cut the scan short. Parquet outputs are not scanned.
func clusterSizes(dir string, maxDocs int64) (bySize map[string]map[int]int64, docs int64, truncated bool, err error) {
	bySize = map[string]map[int]int64{}
	files, _ := filepath.Glob(filepath.Join(dir, "docs", "*"))
	sort.Strings(files)
	key := []byte("_cluster_size")
	for _, p := range files {
		n := strings.ToLower(p)
		if !strings.HasSuffix(n, ".jsonl") && !strings.HasSuffix(n, ".jsonl.zst") {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return bySize, docs, truncated, err
		}
		var r io.Reader = f
		var dec *zstd.Decoder
		if strings.HasSuffix(n, ".zst") {
			dec, err = zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
			if err != nil {
				f.Close()
				return bySize, docs, truncated, fmt.Errorf("%s: %w", p, err)
			}
			r = dec
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		line := 0
		for sc.Scan() {
			line++
			docs++
			if maxDocs > 0 && docs > maxDocs {
				truncated = true
				break
			}
			b := sc.Bytes()
			if !bytes.Contains(b, key) {
				continue
			}
			var d struct {
				Metadata map[string]json.RawMessage `json:"metadata"`
			}
			if err := json.Unmarshal(b, &d); err != nil {
				continue // the writer's own output; a bad line is not ours to judge here
			}
			for k, v := range d.Metadata {
				if method, ok := strings.CutSuffix(k, "_cluster_size"); ok {
					size, err := strconv.Atoi(string(bytes.TrimSpace(v)))
					if err != nil || size < 2 {
						continue
					}
					if bySize[method] == nil {
						bySize[method] = map[int]int64{}
					}
					bySize[method][size]++
				}
			}
		}
		serr := sc.Err()
		if dec != nil {
			dec.Close()
		}
		f.Close()
		if serr != nil {
			return bySize, docs, truncated, fmt.Errorf("%s line %d: %w", p, line+1, serr)
		}
		if truncated {
			break
		}
	}
	return bySize, docs, truncated, nil
}
