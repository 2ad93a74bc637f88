package trainer

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at a 0-based optimizer step.
type Schedule struct {
	// Kind is "wsd" (warmup-stable-decay: linear warmup, constant, then a
	// linear decay over the last DecayFrac of the steps, as SmolLM3) or
	// "cosine" (linear warmup, cosine to MinLR).
	Kind      string  `json:"kind"`
	LR        float64 `json:"lr"`
	MinLR     float64 `json:"min_lr"`
	Warmup    int     `json:"warmup_steps"`
	Total     int     `json:"total_steps"`
	DecayFrac float64 `json:"decay_frac"`
}

// Validate checks the schedule's fields.
func (s Schedule) Validate() error {
	if s.Kind != "wsd" && s.Kind != "cosine" {
		return fmt.Errorf("schedule %q: want wsd or cosine", s.Kind)
	}
	if s.LR <= 0 || s.Total <= 0 || s.Warmup < 0 || s.DecayFrac < 0 || s.DecayFrac > 1 {
		return fmt.Errorf("schedule: lr %g, total %d, warmup %d, decay_frac %g out of range", s.LR, s.Total, s.Warmup, s.DecayFrac)
	}
	return nil
}

// At returns the learning rate for step (0-based).
func (s Schedule) At(step int) float64 {
	if step < s.Warmup {
		return s.LR * float64(step+1) / float64(s.Warmup)
	}
	switch s.Kind {
	case "cosine":
		span := max(1, s.Total-s.Warmup)
		p := math.Min(1, float64(step-s.Warmup)/float64(span))
		return s.MinLR + 0.5*(s.LR-s.MinLR)*(1+math.Cos(math.Pi*p))
	default: // wsd
		decay := int(math.Round(float64(s.Total) * s.DecayFrac))
		start := s.Total - decay
		if step < start || decay == 0 {
			return s.LR
		}
		p := math.Min(1, float64(step-start+1)/float64(decay))
		return s.LR + (s.MinLR-s.LR)*p
	}
}
