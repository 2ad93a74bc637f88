//go:build !beam

package main

import (
	"context"
	"errors"
)

// errNoBeam is what a --runner other than local gets from a kiln built
// without Beam.
var errNoBeam = errors.New("this kiln was built without Beam; build with `make build-beam` (go build -tags beam)")

// cmdCurateBeam is kiln curate on a Beam runner; this build has none.
func cmdCurateBeam(ctx context.Context, args []string) error {
	if _, err := splitCurateBeamArgs(args); err != nil {
		return err
	}
	return errNoBeam
}

// beamWorkerMain reports false: without Beam this binary is never a worker.
func beamWorkerMain() bool { return false }
