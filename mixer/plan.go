package mixer

import (
	"fmt"
	"math"
)

// PlanOptions controls Inspect.
type PlanOptions struct {
	// Tokens is how many tokens of each stage to simulate for the realised
	// proportions (0: 10M).
	Tokens int64
	// GlobalBatchTokens overrides the mixture's (0: keep).
	GlobalBatchTokens int64
	// MaxRepeat overrides the mixture's max_repeat warning threshold.
	MaxRepeat float64
	// Sources holds opened shard sets by name; sources missing here are
	// planned from their declared sizes.
	Sources map[string]DocSource
}

// Plan is what `kiln mix inspect` prints.
type Plan struct {
	Mixture           string       `json:"mixture"`
	Hash              string       `json:"hash"`
	GlobalBatchTokens int64        `json:"global_batch_tokens"`
	Stages            []StagePlan  `json:"stages"`
	Sources           []SourcePlan `json:"sources"`
	// Declared lists the sources planned from declared sizes because no
	// shard set was open for them.
	Declared []string `json:"declared,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// StagePlan is one stage's budget and blend check.
type StagePlan struct {
	Name        string `json:"name"`
	SeqLen      int    `json:"seq_len"`
	StartTokens int64  `json:"start_tokens"` // -1: unknown (steps without global_batch_tokens)
	StartStep   int64  `json:"start_step"`   // -1: unknown
	// BudgetTokens is the stage's token budget: declared, or up to the next
	// stage's start; -1 when open-ended.
	BudgetTokens int64 `json:"budget_tokens"`
	// SimTokens were simulated; Realised[d] is source d's share of them,
	// Target[d] its normalised weight (both parallel to Plan.Sources).
	SimTokens int64     `json:"sim_tokens"`
	Target    []float64 `json:"target"`
	Realised  []float64 `json:"realised"`
	// MaxDeviation is the largest |realised-target| over sources.
	MaxDeviation float64 `json:"max_deviation"`
	// Exhausted is set when every source hit its epoch limit in the
	// simulation.
	Exhausted bool `json:"exhausted,omitempty"`
}

// SourcePlan is one source's size and expected repetition.
type SourcePlan struct {
	Name     string `json:"name"`
	Tokens   int64  `json:"tokens"`
	Docs     int64  `json:"docs"`
	Declared bool   `json:"declared"`
	// StageTokens[s] is the tokens the source is expected to give in stage
	// s (budget x weight; -1 when the stage is open-ended and uses it);
	// Epochs the passes over the source this implies, over all stages
	// with a budget.
	StageTokens []int64 `json:"stage_tokens"`
	Epochs      float64 `json:"epochs"`
}

// declaredSource is a DocSource that has document lengths but no tokens:
// it plans from a source's declared token count. Lengths follow an
// exponential distribution around the declared mean (web documents are
// heavy-tailed), deterministically from the index.
type declaredSource struct {
	n    int64
	mean float64
	seed uint64
}

func (s *declaredSource) NumDocs() int { return int(s.n) }
func (s *declaredSource) DocLen(i int) int {
	u := (float64(splitmix(s.seed+uint64(i))>>11) + 0.5) / (1 << 53)
	return 1 + int(math.Min(-math.Log(u)*s.mean, 64*s.mean))
}
func (s *declaredSource) Doc(int, []int32) []int32 { panic("mixer: declared source has no tokens") }

// defaultAvgDocTokens is the mean document length assumed when a source
// declares tokens but neither docs nor avg_doc_tokens.
const defaultAvgDocTokens = 1000

func newDeclared(s Source, seed uint64) *declaredSource {
	mean := float64(defaultAvgDocTokens)
	n := int64(0)
	switch {
	case s.Docs > 0:
		n = s.Docs
		mean = float64(s.Tokens) / float64(s.Docs)
	case s.AvgDocTokens > 0:
		mean = float64(s.AvgDocTokens)
	}
	if n == 0 {
		n = max(1, int64(float64(s.Tokens)/mean))
	}
	return &declaredSource{n: n, mean: max(1, mean-1), seed: seed ^ hashString(s.Name)}
}

// Inspect plans a mixture: per stage the token budget and the target
// versus realised proportions over the first opts.Tokens tokens (packing
// simulated with real document lengths when a shard set is open, else
// with declared sizes), and per source the expected number of epochs.
func Inspect(m *Mixture, opts PlanOptions) (*Plan, error) {
	gbt := opts.GlobalBatchTokens
	if gbt == 0 {
		gbt = m.GlobalBatchTokens
	}
	maxRep := opts.MaxRepeat
	if maxRep == 0 {
		maxRep = m.MaxRepeat
	}
	simN := opts.Tokens
	if simN <= 0 {
		simN = 10_000_000
	}
	p := &Plan{Mixture: m.Name, Hash: m.Hash(), GlobalBatchTokens: gbt}
	p.Warnings = append(p.Warnings, m.Warnings...)
	srcs := map[string]DocSource{}
	for _, s := range m.Sources {
		sp := SourcePlan{Name: s.Name}
		if ds, ok := opts.Sources[s.Name]; ok && ds != nil {
			srcs[s.Name] = ds
			sp.Docs = int64(ds.NumDocs())
			if c, ok := ds.(interface{ NumTokens() int64 }); ok {
				sp.Tokens = c.NumTokens()
			} else {
				for i := 0; i < ds.NumDocs(); i++ {
					sp.Tokens += int64(ds.DocLen(i))
				}
			}
		} else {
			if s.Tokens == 0 {
				return nil, fmt.Errorf("%s:%d: sources.%s: shard set not open and no declared tokens to plan from", orStdin(m.File), s.Line, s.Name)
			}
			ds := newDeclared(s, m.Seed)
			srcs[s.Name] = ds
			sp.Tokens, sp.Docs, sp.Declared = s.Tokens, ds.n, true
			p.Declared = append(p.Declared, s.Name)
		}
		p.Sources = append(p.Sources, sp)
	}
	starts := make([]int64, len(m.Stages))
	for i, st := range m.Stages {
		starts[i] = -1
		if st.Start.Unit == "tokens" {
			starts[i] = st.Start.Value
		} else if gbt > 0 || st.Start.Value == 0 {
			starts[i] = st.Start.Value * gbt
		}
	}
	for i, st := range m.Stages {
		sp := StagePlan{Name: st.Name, SeqLen: st.SeqLen, StartTokens: starts[i], StartStep: -1, BudgetTokens: -1,
			Target: append([]float64(nil), st.Weights...)}
		if st.Start.Unit == "step" {
			sp.StartStep = st.Start.Value
		} else if gbt > 0 {
			sp.StartStep = (st.Start.Value + gbt - 1) / gbt
		}
		switch {
		case st.Tokens > 0:
			sp.BudgetTokens = st.Tokens
		case i+1 < len(m.Stages) && starts[i+1] >= 0 && starts[i] >= 0:
			sp.BudgetTokens = starts[i+1] - starts[i]
		}
		if st.Tokens > 0 && i+1 < len(m.Stages) && starts[i+1] >= 0 && starts[i] >= 0 && starts[i+1]-starts[i] != st.Tokens {
			p.Warnings = append(p.Warnings, fmt.Sprintf("stage %s: declared tokens %s, but the next stage starts %s later",
				st.Name, FormatCount(st.Tokens), FormatCount(starts[i+1]-starts[i])))
		}
		if sp.BudgetTokens < 0 && i+1 < len(m.Stages) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("stage %s: budget unknown (stage starts in steps; set global_batch_tokens)", st.Name))
		}
		if err := simulate(m, i, srcs, simN, &sp); err != nil {
			return nil, err
		}
		if sp.Exhausted {
			p.Warnings = append(p.Warnings, fmt.Sprintf("stage %s: every source reached its epoch limit after %s tokens", st.Name, FormatCount(sp.SimTokens)))
		}
		p.Stages = append(p.Stages, sp)
	}
	for d := range p.Sources {
		sp := &p.Sources[d]
		var used int64
		open := false
		for i, st := range m.Stages {
			w := st.Weights[d]
			b := p.Stages[i].BudgetTokens
			switch {
			case w == 0:
				sp.StageTokens = append(sp.StageTokens, 0)
			case b < 0:
				sp.StageTokens = append(sp.StageTokens, -1)
				open = true
			default:
				t := int64(math.Round(w * float64(b)))
				sp.StageTokens = append(sp.StageTokens, t)
				used += t
			}
			if lim := st.MaxEpochs[d]; lim > 0 && w > 0 && b >= 0 && sp.Tokens > 0 {
				if e := float64(used) / float64(sp.Tokens); e > lim {
					p.Warnings = append(p.Warnings, fmt.Sprintf("source %s: needs %.2f epochs by the end of stage %s but max_epochs is %g: it will be dropped and the others renormalised",
						sp.Name, e, st.Name, lim))
				}
			}
		}
		if sp.Tokens > 0 {
			sp.Epochs = float64(used) / float64(sp.Tokens)
		}
		if sp.Epochs > maxRep {
			p.Warnings = append(p.Warnings, fmt.Sprintf("source %s: expected %.2f epochs (more than %g repeats)", sp.Name, sp.Epochs, maxRep))
		}
		if open {
			p.Warnings = append(p.Warnings, fmt.Sprintf("source %s: used by an open-ended stage; epochs count the budgeted stages only", sp.Name))
		}
	}
	return p, nil
}

// simulate packs the first n tokens of stage si (blend and cursors only, no
// token reads) and records the realised proportions.
func simulate(m *Mixture, si int, srcs map[string]DocSource, n int64, sp *StagePlan) error {
	st := m.Stages[si]
	st.Start = Start{Unit: "step"}
	one := *m
	one.Stages = []Stage{st}
	T := int64(st.SeqLen)
	e, err := newEngine(&one, srcs, LoaderOptions{GlobalBatchTokens: T})
	if err != nil {
		return err
	}
	e.enterSegment(0)
	for d := range e.cur {
		e.active[d] = e.srcs[d] != nil && !one.exhausted(0, e.cur[d].state())
	}
	for e.st.SegmentTokens < n {
		if err := e.fillRow(&one.Stages[0], 0, nil, 0); err != nil {
			sp.Exhausted = true
			break
		}
	}
	sp.SimTokens = e.st.SegmentTokens
	sp.Realised = make([]float64, len(m.Sources))
	for d := range e.cur {
		if sp.SimTokens > 0 {
			sp.Realised[d] = float64(e.cur[d].segTok) / float64(sp.SimTokens)
		}
		sp.MaxDeviation = math.Max(sp.MaxDeviation, math.Abs(sp.Realised[d]-sp.Target[d]))
	}
	return nil
}

// FormatCount prints a token count with a K/M/B/T suffix.
func FormatCount(n int64) string {
	f := float64(n)
	switch {
	case n < 0:
		return "?"
	case f >= 1e12:
		return fmt.Sprintf("%.3gT", f/1e12)
	case f >= 1e9:
		return fmt.Sprintf("%.3gB", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.3gM", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.3gK", f/1e3)
	}
	return fmt.Sprint(n)
}
