package main

import (
	"errors"
	"fmt"
	"strings"
)

// curateRunner returns the --runner of a kiln curate command line, "local"
// when none is given. kiln curate hands every other runner to
// cmdCurateBeam.
func curateRunner(args []string) string {
	for i := 0; i < len(args); i++ {
		name, val, has := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || name != "runner" {
			continue
		}
		if !has && i+1 < len(args) {
			val = args[i+1]
		}
		return val
	}
	return "local"
}

// curateBeamArgs is a kiln curate command line split for a Beam run.
type curateBeamArgs struct {
	recipe string
	out    string
	runner string
	sets   []string
	beam   []string // everything else, for Beam's flag set
}

// splitCurateBeamArgs takes kiln's own curate flags (-o, --set, --runner;
// --workers and --progress are accepted and ignored, the runner decides
// parallelism) and passes every other flag through to Beam.
func splitCurateBeamArgs(args []string) (curateBeamArgs, error) {
	var ca curateBeamArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if ca.recipe != "" {
				return ca, fmt.Errorf("want exactly one RECIPE, got %q and %q", ca.recipe, a)
			}
			ca.recipe = a
			continue
		}
		name, val, has := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "o", "set", "runner", "workers", "progress":
			if !has {
				if i+1 >= len(args) {
					return ca, fmt.Errorf("flag %s needs a value", a)
				}
				i++
				val = args[i]
			}
			switch name {
			case "o":
				ca.out = val
			case "set":
				ca.sets = append(ca.sets, val)
			case "runner":
				ca.runner = val
			}
		default:
			ca.beam = append(ca.beam, a)
		}
	}
	if ca.recipe == "" {
		return ca, errors.New("want exactly one RECIPE")
	}
	return ca, nil
}
