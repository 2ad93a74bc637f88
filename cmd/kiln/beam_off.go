//go:build !beam

package main

import (
	"context"
	"errors"
)

// errNoBeam is what a --runner other than local gets from a kiln built
// without Beam.
var errNoBeam = errors.New("this kiln was built without Beam; build with `make build-beam` (go build -tags beam)")

// curateBeam runs a recipe on a Beam runner; this build has none.
func curateBeam(ctx context.Context, runner, recipePath string, sets []string, out string, beamFlags []string) error {
	return errNoBeam
}

// beamWorkerMain reports false: without Beam this binary is never a worker.
func beamWorkerMain() bool { return false }
