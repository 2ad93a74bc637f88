// Package report writes a run's report: one self-contained report.html
// (inline CSS, no JavaScript) and PNG plots beside it, drawn with
// gonum/plot. It discovers what a run folder holds — curated runs
// (stats.json, manifest.json), shard sets (shards.json) and training runs
// (metrics.jsonl, checkpoints/, samples/) — anywhere below the folder, and
// renders a section for each kind it finds; a kind it does not find gets a
// section that says so. The demo layout is TOP/curate/<source>,
// TOP/shards/<source>, TOP/train, but any nesting works.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/kilnlm/kiln/internal/lineage"
	"github.com/kilnlm/kiln/mixer"
	"github.com/kilnlm/kiln/pipeline/manifest"
	"github.com/kilnlm/kiln/trainer"
)

// FileName is the report page's name inside the run folder; the plots go
// into the PlotDir folder beside it.
const (
	FileName = "report.html"
	PlotDir  = "report-plots"
	plotDir  = PlotDir
)

// Options controls Write.
type Options struct {
	// Title heads the page (default: "Kiln run report: <folder name>").
	Title string
	// MaxDepth bounds discovery below the run folder (default 4).
	MaxDepth int
	// MaxClusterDocs bounds the documents read per curated run to count
	// dedup clusters (default 1,000,000; negative: do not scan).
	MaxClusterDocs int64
	// Log receives one line per section written (nil: none).
	Log io.Writer
}

// Result says what Write produced.
type Result struct {
	Page  string   // path of report.html
	Plots []string // paths of the PNGs
	// Sections maps a section id to whether its data was found.
	Sections map[string]bool
	// Problems are files found but not readable (also listed on the page).
	Problems []string
}

// Section ids, in page order.
const (
	SecInventory = "inventory"
	SecCuration  = "curation"
	SecDedup     = "dedup"
	SecTokens    = "tokens"
	SecMixture   = "mixture"
	SecTraining  = "training"
	SecAlarms    = "alarms"
	SecSamples   = "samples"
	SecLineage   = "lineage"
)

type section struct {
	ID, Title string
	Missing   string // non-empty: the data was not found; says what was looked for
	Blocks    []block
}

type block struct {
	Heading string
	Note    string
	Img     string
	Alt     string
	Table   *table
	Pre     string
}

type table struct {
	Head []string
	Rows [][]cell
}

type cell struct {
	Text string
	Num  bool
}

func (t *table) add(cells ...any) {
	row := make([]cell, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case string:
			row[i] = cell{Text: v}
		case int:
			row[i] = cell{Text: commas(int64(v)), Num: true}
		case int64:
			row[i] = cell{Text: commas(v), Num: true}
		case float64:
			row[i] = cell{Text: fmtFloat(v), Num: true}
		default:
			row[i] = cell{Text: fmt.Sprint(v)}
		}
	}
	t.Rows = append(t.Rows, row)
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v != 0 && math.Abs(v) < 1e-3:
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func pct(a, b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

func fileKey(parts ...string) string {
	s := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(strings.Join(parts, "-")), "-"), "-")
	if s == "" {
		s = "run"
	}
	return s
}

// Write discovers what runDir holds and writes runDir/report.html and its
// plots under runDir/report-plots/ (PNG files from an earlier report are
// removed first, so none goes stale).
func Write(ctx context.Context, runDir string, opt Options) (*Result, error) {
	st, err := os.Stat(runDir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("report: %s is not a folder", runDir)
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = 4
	}
	if opt.MaxClusterDocs == 0 {
		opt.MaxClusterDocs = 1_000_000
	}
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if opt.Title == "" {
		opt.Title = "Kiln run report: " + filepath.Base(abs)
	}
	f, err := discover(runDir, opt.MaxDepth)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	pw := &plotWriter{dir: filepath.Join(runDir, PlotDir), rel: PlotDir}
	if err := os.MkdirAll(pw.dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(pw.dir, "*.png"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("report: remove stale plot: %w", err)
		}
	}
	b := &builder{f: f, pw: pw, opt: opt, root: runDir}
	steps := []func(context.Context) (section, error){
		b.inventory, b.curation, b.dedup, b.tokens, b.mixture, b.training, b.alarms, b.samples, b.lineage,
	}
	res := &Result{Page: filepath.Join(runDir, FileName), Sections: map[string]bool{}}
	var secs []section
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := step(ctx)
		if err != nil {
			return nil, fmt.Errorf("report: section %s: %w", s.ID, err)
		}
		res.Sections[s.ID] = s.Missing == ""
		if opt.Log != nil {
			state := "ok"
			if s.Missing != "" {
				state = "missing"
			}
			fmt.Fprintf(opt.Log, "report: %-10s %s\n", s.ID, state)
		}
		secs = append(secs, s)
	}
	res.Problems = f.Problems
	pg := struct {
		Title, Root string
		Sections    []section
		Problems    []string
	}{opt.Title, abs, secs, f.Problems}
	var buf strings.Builder
	if err := pageTmpl.Execute(&buf, pg); err != nil {
		return nil, fmt.Errorf("report: render: %w", err)
	}
	if err := manifest.WriteFileAtomic(res.Page, []byte(buf.String())); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, p := range pw.files {
		res.Plots = append(res.Plots, filepath.Join(pw.dir, p))
	}
	return res, nil
}

type builder struct {
	f    *found
	pw   *plotWriter
	opt  Options
	root string
	// per training run: its latest checkpoint's state, loaded once.
	ckpts map[string]*runState
}

type runState struct {
	Ckpt    string
	State   *trainer.CheckpointState
	Data    *mixer.State
	Mixes   map[string]*mixer.Mixture // by mixture name
	Bounds  []boundary
	Problem string
}

func (b *builder) inventory(context.Context) (section, error) {
	s := section{ID: SecInventory, Title: "What this run folder holds"}
	t := &table{Head: []string{"kind", "folder", "identity"}}
	for _, c := range b.f.Curated {
		id := ""
		if c.Man != nil {
			id = c.Man.VersionID
		}
		t.add("curated dataset "+c.Name(), c.Rel, id)
	}
	for _, sh := range b.f.Shards {
		t.add("shard set", sh.Rel, sh.Man.VersionID)
	}
	for _, tr := range b.f.Train {
		t.add("training run", tr.Rel, fmt.Sprintf("%d metric lines", len(tr.Metrics)))
	}
	if len(t.Rows) == 0 {
		s.Missing = "Nothing found: no stats.json / manifest.json (curation), shards.json (shard sets) or metrics.jsonl (training) below this folder."
		return s, nil
	}
	s.Blocks = append(s.Blocks, block{Table: t})
	return s, nil
}

func (b *builder) curation(context.Context) (section, error) {
	s := section{ID: SecCuration, Title: "Curation funnel per source"}
	var runs []*curatedRun
	for _, c := range b.f.Curated {
		if c.Stats != nil {
			runs = append(runs, c)
		}
	}
	if len(runs) == 0 {
		s.Missing = "No curation run with a stats.json was found (kiln curate writes DIR/stats.json)."
		return s, nil
	}
	sum := &table{Head: []string{"run", "folder", "records", "skipped", "documents", "dropped", "kept", "kept / documents"}}
	reasons := map[string]bool{}
	for _, c := range runs {
		st := c.Stats
		sum.add(c.Name(), c.Rel, st.Records, st.Skipped, st.Docs, st.Dropped, st.Kept, pct(st.Kept, st.Docs))
		for r := range st.DroppedBy {
			reasons[r] = true
		}
		for r := range st.SkippedBy {
			reasons["skipped: "+r] = true
		}
	}
	s.Blocks = append(s.Blocks, block{Heading: "Totals", Note: "records = skipped + documents; documents = dropped + kept.", Table: sum})
	// Dropped per reason, one column per run.
	rs := sortedSet(reasons)
	if len(rs) > 0 {
		t := &table{Head: []string{"reason"}}
		for _, c := range runs {
			t.Head = append(t.Head, c.Name())
		}
		for _, r := range rs {
			row := []any{r}
			for _, c := range runs {
				if name, ok := strings.CutPrefix(r, "skipped: "); ok {
					row = append(row, c.Stats.SkippedBy[name])
				} else {
					row = append(row, c.Stats.DroppedBy[r])
				}
			}
			t.add(row...)
		}
		s.Blocks = append(s.Blocks, block{Heading: "Dropped and skipped documents per reason", Table: t})
	}
	for _, c := range runs {
		st := c.Stats
		cats := []string{"documents"}
		vals := []float64{float64(st.Docs)}
		t := &table{Head: []string{"stage", "kind", "in", "out", "dropped", "reasons", "seconds"}}
		for _, sg := range st.Stages {
			cats = append(cats, sg.Name)
			vals = append(vals, float64(sg.Out))
			var parts []string
			var dropped int64
			for _, r := range sortedKeys(sg.Dropped) {
				parts = append(parts, fmt.Sprintf("%s %s", r, commas(sg.Dropped[r])))
				dropped += sg.Dropped[r]
			}
			t.add(sg.Name, sg.Kind, sg.In, sg.Out, dropped, strings.Join(parts, ", "), sg.Seconds)
		}
		img, err := b.pw.bars(fileKey("funnel", c.Rel), "Curation funnel: "+c.Name(), "documents remaining", cats,
			[]struct {
				Name   string
				Values []float64
			}{{"documents", vals}})
		if err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, block{Heading: c.Name() + " (" + c.Rel + ")", Img: img, Alt: "curation funnel of " + c.Name(), Table: t})
	}
	return s, nil
}

func (b *builder) dedup(context.Context) (section, error) {
	s := section{ID: SecDedup, Title: "Deduplication clusters"}
	any := false
	for _, c := range b.f.Curated {
		if c.Stats == nil {
			continue
		}
		dups := &table{Head: []string{"reason", "documents dropped"}}
		for _, r := range sortedKeys(c.Stats.DroppedBy) {
			if strings.Contains(r, "dup") {
				dups.add(r, c.Stats.DroppedBy[r])
			}
		}
		var bySize map[string]map[int]int64
		var docs int64
		var truncated bool
		if b.opt.MaxClusterDocs > 0 {
			var err error
			bySize, docs, truncated, err = clusterSizes(c.Dir, b.opt.MaxClusterDocs)
			if err != nil {
				b.f.Problems = append(b.f.Problems, fmt.Sprintf("dedup clusters of %s: %v", c.Rel, err))
			}
		}
		if len(dups.Rows) == 0 && len(bySize) == 0 {
			continue
		}
		any = true
		blk := block{Heading: c.Name() + " (" + c.Rel + ")", Table: dups}
		if len(bySize) > 0 {
			methods := sortedKeys(bySize)
			sizes := map[string]bool{}
			bucket := func(n int) string {
				switch {
				case n <= 5:
					return strconv.Itoa(n)
				case n <= 10:
					return "6-10"
				case n <= 100:
					return "11-100"
				}
				return ">100"
			}
			order := []string{"2", "3", "4", "5", "6-10", "11-100", ">100"}
			counts := map[string]map[string]int64{}
			ct := &table{Head: []string{"method", "clusters", "documents in clusters", "largest cluster"}}
			for _, m := range methods {
				counts[m] = map[string]int64{}
				var clusters, members int64
				largest := 0
				for size, n := range bySize[m] {
					counts[m][bucket(size)] += n
					sizes[bucket(size)] = true
					clusters += n
					members += n * int64(size)
					largest = max(largest, size)
				}
				ct.add(m, clusters, members, largest)
			}
			var cats []string
			for _, o := range order {
				if sizes[o] {
					cats = append(cats, o)
				}
			}
			var ss []struct {
				Name   string
				Values []float64
			}
			for _, m := range methods {
				v := make([]float64, len(cats))
				for i, cat := range cats {
					v[i] = float64(counts[m][cat])
				}
				ss = append(ss, struct {
					Name   string
					Values []float64
				}{m, v})
			}
			img, err := b.pw.bars(fileKey("clusters", c.Rel), "Duplicate clusters by size: "+c.Name(), "clusters", cats, ss)
			if err != nil {
				return s, err
			}
			blk.Img, blk.Alt = img, "dedup cluster sizes of "+c.Name()
			note := fmt.Sprintf("Cluster sizes from the <method>_cluster_size metadata of %s kept documents.", commas(docs))
			if truncated {
				note += " The scan stopped at the document limit: counts are a lower bound."
			}
			blk.Note = note
			s.Blocks = append(s.Blocks, blk, block{Table: ct})
			continue
		}
		s.Blocks = append(s.Blocks, blk)
	}
	if !any {
		s.Missing = "No curated run dropped duplicates or recorded dedup clusters (exact_dedup / minhash_dedup stages)."
	}
	return s, nil
}

func (b *builder) tokens(context.Context) (section, error) {
	s := section{ID: SecTokens, Title: "Tokens per source"}
	if len(b.f.Shards) == 0 {
		s.Missing = "No shard set (shards.json) was found."
		return s, nil
	}
	perSrc := map[string][2]int64{}
	t := &table{Head: []string{"shard set", "version", "source", "documents", "tokens", "tokens / doc", "shards", "vocab", "dataset"}}
	for _, sh := range b.f.Shards {
		for _, src := range sh.Man.SourceNames() {
			c := sh.Man.Sources[src]
			p := perSrc[src]
			perSrc[src] = [2]int64{p[0] + c.Docs, p[1] + c.Tokens}
			per := "-"
			if c.Docs > 0 {
				per = fmt.Sprintf("%.1f", float64(c.Tokens)/float64(c.Docs))
			}
			t.add(sh.Rel, sh.Man.VersionID, src, c.Docs, c.Tokens, per, len(sh.Man.Shards), sh.Man.VocabSize, manifest.ShortID(sh.Man.Dataset))
		}
	}
	srcs := sortedKeys(perSrc)
	vals := make([]float64, len(srcs))
	for i, src := range srcs {
		vals[i] = float64(perSrc[src][1])
	}
	img, err := b.pw.bars("tokens-per-source", "Tokens per source (all shard sets)", "tokens", srcs, []struct {
		Name   string
		Values []float64
	}{{"tokens", vals}})
	if err != nil {
		return s, err
	}
	s.Blocks = append(s.Blocks, block{Img: img, Alt: "tokens per source", Table: t})
	return s, nil
}

// state loads (once) a training run's latest checkpoint and mixtures.
func (b *builder) state(tr *trainRun) *runState {
	if b.ckpts == nil {
		b.ckpts = map[string]*runState{}
	}
	if rs, ok := b.ckpts[tr.Dir]; ok {
		return rs
	}
	rs := &runState{Mixes: map[string]*mixer.Mixture{}}
	b.ckpts[tr.Dir] = rs
	ck, err := trainer.LatestCheckpoint(tr.Dir)
	if err == nil {
		rs.Ckpt = ck
		rs.State, err = trainer.ReadCheckpointState(ck)
	}
	if err != nil {
		rs.Problem = err.Error()
	}
	if rs.State != nil && len(rs.State.Data) > 0 && string(rs.State.Data) != "null" {
		var ds mixer.State
		if err := json.Unmarshal(rs.State.Data, &ds); err != nil {
			rs.Problem = fmt.Sprintf("%s/state.json data_state: %v", ck, err)
		} else {
			rs.Data = &ds
		}
	}
	// Mixtures: the copies in specs/ and the file the checkpoint recorded.
	cands, _ := filepath.Glob(filepath.Join(tr.Dir, "specs", "*.y*ml"))
	if rs.State != nil && rs.State.Lineage.MixtureFile != "" {
		cands = append(cands, rs.State.Lineage.MixtureFile)
	}
	var vars map[string]string
	if rs.State != nil {
		vars = rs.State.Lineage.MixtureVars
	}
	for _, p := range cands {
		if m, err := mixer.LoadMixture(p, mixer.LoadOptions{Vars: vars}); err == nil {
			if _, dup := rs.Mixes[m.Name]; !dup {
				rs.Mixes[m.Name] = m
			}
		}
	}
	// Stage boundaries: where each blend segment began (the loader's
	// lineage), else the step starts of the mixture's stages.
	if rs.Data != nil {
		first := map[int]boundary{}
		for _, e := range rs.Data.Lineage {
			bd, ok := first[e.Segment]
			if !ok || float64(e.FirstStep) < bd.X {
				first[e.Segment] = boundary{X: float64(e.FirstStep), Name: e.Stage}
			}
		}
		for _, seg := range sortedInts(first) {
			if seg == 0 && first[seg].X == 0 {
				continue // the run's start is not a boundary
			}
			rs.Bounds = append(rs.Bounds, first[seg])
		}
	} else {
		for _, m := range rs.Mixes {
			for i, st := range m.Stages {
				if i > 0 && st.Start.Unit == "step" {
					rs.Bounds = append(rs.Bounds, boundary{X: float64(st.Start.Value), Name: st.Name})
				}
			}
			break
		}
	}
	return rs
}

func (b *builder) mixture(context.Context) (section, error) {
	s := section{ID: SecMixture, Title: "Realised mixture per stage against targets"}
	any := false
	for _, tr := range b.f.Train {
		rs := b.state(tr)
		if rs.Data == nil || len(rs.Data.Lineage) == 0 {
			continue
		}
		any = true
		type key struct {
			Seg            int
			Mixture, Stage string
		}
		groups := map[key]map[string]int64{}
		steps := map[key][2]int64{}
		var keys []key
		for _, e := range rs.Data.Lineage {
			k := key{e.Segment, e.Mixture, e.Stage}
			if groups[k] == nil {
				groups[k] = map[string]int64{}
				keys = append(keys, k)
				steps[k] = [2]int64{e.FirstStep, e.EndStep}
			}
			groups[k][e.Source] += e.Tokens
			st := steps[k]
			steps[k] = [2]int64{min(st[0], e.FirstStep), max(st[1], e.EndStep)}
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].Seg < keys[j].Seg })
		for _, k := range keys {
			var total int64
			for _, n := range groups[k] {
				total += n
			}
			target := map[string]float64{}
			hasTarget := false
			if m := rs.Mixes[k.Mixture]; m != nil {
				for _, st := range m.Stages {
					if st.Name != k.Stage {
						continue
					}
					var w float64
					for _, x := range st.Weights {
						w += x
					}
					for i, src := range m.Sources {
						if i < len(st.Weights) && w > 0 {
							target[src.Name] = st.Weights[i] / w
						}
					}
					hasTarget = true
				}
			}
			srcSet := map[string]bool{}
			for src := range groups[k] {
				srcSet[src] = true
			}
			for src, w := range target {
				if w > 0 {
					srcSet[src] = true
				}
			}
			srcs := sortedSet(srcSet)
			t := &table{Head: []string{"source", "tokens", "realised", "target", "realised - target"}}
			real := make([]float64, len(srcs))
			tgt := make([]float64, len(srcs))
			for i, src := range srcs {
				if total > 0 {
					real[i] = float64(groups[k][src]) / float64(total)
				}
				tgt[i] = target[src]
				tt, diff := "?", "?"
				if hasTarget {
					tt, diff = fmt.Sprintf("%.4f", tgt[i]), fmt.Sprintf("%+.4f", real[i]-tgt[i])
				}
				t.add(src, groups[k][src], fmt.Sprintf("%.4f", real[i]), tt, diff)
			}
			ss := []struct {
				Name   string
				Values []float64
			}{{"realised", real}}
			if hasTarget {
				ss = append(ss, struct {
					Name   string
					Values []float64
				}{"target", tgt})
			}
			title := fmt.Sprintf("%s / %s (segment %d, steps %d-%d)", k.Mixture, k.Stage, k.Seg, steps[k][0], steps[k][1])
			img, err := b.pw.bars(fileKey("mixture", tr.Rel, strconv.Itoa(k.Seg), k.Stage), "Token share: "+title, "share of tokens", srcs, ss)
			if err != nil {
				return s, err
			}
			note := ""
			if !hasTarget {
				note = fmt.Sprintf("Target weights unknown: mixture %q not found in %s/specs/ or at the checkpoint's recorded path.", k.Mixture, tr.Rel)
			}
			s.Blocks = append(s.Blocks, block{Heading: tr.Rel + ": " + title, Note: note, Img: img, Alt: "realised mixture " + title, Table: t})
		}
	}
	if !any {
		s.Missing = "No training run with a checkpoint holding loader state (checkpoints/latest -> state.json data_state) was found."
	}
	return s, nil
}

func (b *builder) training(context.Context) (section, error) {
	s := section{ID: SecTraining, Title: "Training curves"}
	if len(b.f.Train) == 0 {
		s.Missing = "No training run (metrics.jsonl) was found."
		return s, nil
	}
	for _, tr := range b.f.Train {
		rs := b.state(tr)
		head := tr.Rel
		if len(tr.Metrics) == 0 {
			s.Blocks = append(s.Blocks, block{Heading: head, Note: "metrics.jsonl holds no step yet."})
			continue
		}
		xy := func(f func(m Metric) float64) plotter.XYs {
			out := make(plotter.XYs, 0, len(tr.Metrics))
			for _, m := range tr.Metrics {
				out = append(out, plotter.XY{X: float64(m.Step), Y: f(m)})
			}
			return out
		}
		add := func(name, title, ylabel string, ss []series, points bool, alt string) error {
			img, err := b.pw.lines(fileKey(name, tr.Rel), title, "step", ylabel, ss, rs.Bounds, points)
			if err != nil {
				return err
			}
			if img == "" {
				s.Blocks = append(s.Blocks, block{Heading: title, Note: "No finite values recorded."})
				return nil
			}
			s.Blocks = append(s.Blocks, block{Heading: title, Img: img, Alt: alt})
			return nil
		}
		if err := add("loss", head+": training loss", "loss", []series{{"loss", xy(func(m Metric) float64 { return m.Loss })}}, false, "training loss"); err != nil {
			return s, err
		}
		// Per-source losses: eval (held-out, at checkpoints) and train.
		evalSrc, trainSrc := map[string]bool{}, map[string]bool{}
		for _, m := range tr.Metrics {
			for k := range m.EvalLoss {
				evalSrc[k] = true
			}
			for k := range m.SourceLoss {
				trainSrc[k] = true
			}
		}
		perSource := func(srcs map[string]bool, get func(m Metric) map[string]float64) []series {
			var ss []series
			for _, src := range sortedSet(srcs) {
				var pts plotter.XYs
				for _, m := range tr.Metrics {
					if v, ok := get(m)[src]; ok {
						pts = append(pts, plotter.XY{X: float64(m.Step), Y: v})
					}
				}
				ss = append(ss, series{src, pts})
			}
			return ss
		}
		if len(evalSrc) > 0 {
			if err := add("eval", head+": held-out loss per source", "eval loss", perSource(evalSrc, func(m Metric) map[string]float64 { return m.EvalLoss }), true, "per-source eval loss"); err != nil {
				return s, err
			}
			t := &table{Head: append([]string{"step"}, sortedSet(evalSrc)...)}
			for _, m := range tr.Metrics {
				if len(m.EvalLoss) == 0 {
					continue
				}
				row := []any{m.Step}
				for _, src := range sortedSet(evalSrc) {
					if v, ok := m.EvalLoss[src]; ok {
						row = append(row, v)
					} else {
						row = append(row, "")
					}
				}
				t.add(row...)
			}
			s.Blocks = append(s.Blocks, block{Table: t})
		} else {
			s.Blocks = append(s.Blocks, block{Heading: head + ": held-out loss per source", Note: "No eval_loss recorded in metrics.jsonl (written at checkpoints)."})
		}
		if len(trainSrc) > 0 {
			if err := add("source-loss", head+": training loss per source", "loss", perSource(trainSrc, func(m Metric) map[string]float64 { return m.SourceLoss }), false, "per-source training loss"); err != nil {
				return s, err
			}
		}
		if err := add("tokens-per-s", head+": throughput", "tokens/s", []series{{"tokens/s", xy(func(m Metric) float64 { return m.TokensPerS })}}, false, "tokens per second"); err != nil {
			return s, err
		}
		if err := add("mfu", head+": model FLOPs utilisation", "MFU (%)", []series{{"MFU", xy(func(m Metric) float64 { return 100 * m.MFU })}}, false, "MFU"); err != nil {
			return s, err
		}
		if err := add("data-wait", head+": time waiting for data", "data wait (% of step)", []series{{"data wait", xy(func(m Metric) float64 { return 100 * m.DataWait })}}, false, "data wait"); err != nil {
			return s, err
		}
		last := tr.Metrics[len(tr.Metrics)-1]
		t := &table{Head: []string{"steps", "first loss", "last loss", "last lr", "mean tokens/s", "mean MFU", "mean data wait"}}
		var tps, mfu, dw float64
		for _, m := range tr.Metrics {
			tps += m.TokensPerS
			mfu += m.MFU
			dw += m.DataWait
		}
		n := float64(len(tr.Metrics))
		t.add(last.Step, tr.Metrics[0].Loss, last.Loss, last.LR, tps/n, fmt.Sprintf("%.2f%%", 100*mfu/n), fmt.Sprintf("%.2f%%", 100*dw/n))
		s.Blocks = append(s.Blocks, block{Heading: head + ": summary", Table: t})
		if len(rs.Bounds) > 0 {
			bt := &table{Head: []string{"stage", "starts at step"}}
			for _, bd := range rs.Bounds {
				bt.add(bd.Name, int64(bd.X))
			}
			s.Blocks = append(s.Blocks, block{Heading: head + ": stage boundaries (dashed lines)", Table: bt})
		}
	}
	return s, nil
}

func (b *builder) alarms(context.Context) (section, error) {
	s := section{ID: SecAlarms, Title: "Health alarms"}
	if len(b.f.Train) == 0 {
		s.Missing = "No training run (metrics.jsonl) was found."
		return s, nil
	}
	for _, tr := range b.f.Train {
		t := &table{Head: []string{"step", "alarm", "loss", "spike z", "grad norm", "metrics line"}}
		for _, m := range tr.Metrics {
			var what []string
			if m.Event != "" {
				what = append(what, m.Event)
			}
			for name, v := range map[string]float64{"loss": m.Loss, "grad norm": m.GradNorm} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					what = append(what, "non-finite "+name)
				}
			}
			if len(what) == 0 {
				continue
			}
			sort.Strings(what)
			t.add(m.Step, strings.Join(what, "; "), m.Loss, m.SpikeZ, m.GradNorm, m.Line)
		}
		note := ""
		if tr.Skipped > 0 {
			note = fmt.Sprintf("%d metrics lines could not be read (a run killed mid-write leaves a partial last line).", tr.Skipped)
		}
		if len(t.Rows) == 0 {
			s.Blocks = append(s.Blocks, block{Heading: tr.Rel, Note: strings.TrimSpace("No alarms: no loss spike, skipped update, rollback or non-finite value in metrics.jsonl. " + note)})
			continue
		}
		s.Blocks = append(s.Blocks, block{Heading: tr.Rel, Note: note, Table: t})
	}
	return s, nil
}

func (b *builder) samples(context.Context) (section, error) {
	s := section{ID: SecSamples, Title: "Vibe samples per checkpoint"}
	for _, tr := range b.f.Train {
		bySteps, steps, problems := loadSamples(tr.Dir)
		b.f.Problems = append(b.f.Problems, problems...)
		for _, step := range steps {
			t := &table{Head: []string{"prompt", "mode", "continuation"}}
			for _, sm := range bySteps[step] {
				t.add(sm.Prompt, sm.Mode, sm.Text)
			}
			s.Blocks = append(s.Blocks, block{Heading: fmt.Sprintf("%s: step %d", tr.Rel, step), Table: t})
		}
	}
	if len(s.Blocks) == 0 {
		s.Missing = "No vibe samples (samples/step-*.jsonl of a training run) were found."
	}
	return s, nil
}

func (b *builder) lineage(ctx context.Context) (section, error) {
	s := section{ID: SecLineage, Title: "Lineage of the latest checkpoint"}
	for _, tr := range b.f.Train {
		rs := b.state(tr)
		if rs.Ckpt == "" {
			continue
		}
		abs, _ := filepath.Abs(b.root)
		ch, err := lineage.Resolve(ctx, rs.Ckpt, lineage.Options{SearchRoots: []string{abs, filepath.Dir(abs)}})
		if err != nil {
			s.Blocks = append(s.Blocks, block{Heading: tr.Rel, Note: err.Error()})
			continue
		}
		var sb strings.Builder
		if err := ch.Print(&sb); err != nil {
			return s, err
		}
		s.Blocks = append(s.Blocks, block{Heading: tr.Rel, Note: "kiln verify " + rs.Ckpt + " re-checks every hash below.", Pre: sb.String()})
	}
	if len(s.Blocks) == 0 {
		s.Missing = "No training checkpoint (checkpoints/latest) was found."
	}
	return s, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedSet(m map[string]bool) []string { return sortedKeys(m) }

func sortedInts[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em 4em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #d0d0d7; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .4em; }
nav a { margin-right: 1em; }
.root { color: #666; font-family: ui-monospace, monospace; font-size: .9em; }
.missing { background: #fff6e5; border-left: 4px solid #f0a020; padding: .6em 1em; }
.problems { background: #fdecec; border-left: 4px solid #d33; padding: .6em 1em; }
.note { color: #555; font-size: .92em; }
img { display: block; max-width: 100%; height: auto; border: 1px solid #e3e3e8; margin: .4em 0; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: .9em; }
th, td { border: 1px solid #e0e0e6; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td { max-width: 38em; overflow-wrap: anywhere; white-space: pre-wrap; }
pre { background: #f7f7fa; border: 1px solid #e3e3e8; padding: .8em; overflow-x: auto; font-size: .82em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="root">{{.Root}}</div>
<nav>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a> {{end}}</nav>
{{if .Problems}}<div class="problems"><strong>Files found but not readable:</strong><ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{range .Sections}}
<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{if .Missing}}<p class="missing">Not found: {{.Missing}}</p>{{end}}
{{range .Blocks}}
{{if .Heading}}<h3>{{.Heading}}</h3>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
{{if .Img}}<img src="{{.Img}}" alt="{{.Alt}}" width="768" height="346">{{end}}
{{with .Table}}<table>
<tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td{{if .Num}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Pre}}<pre>{{.Pre}}</pre>{{end}}
{{end}}
</section>
{{end}}
</body>
</html>
`))
