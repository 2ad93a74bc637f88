//go:build !(cgo && linux)

package cuda

import (
	"errors"
	"fmt"

	"github.com/kilnlm/kiln/kernels"
)

// ErrNoDriver wraps every failure to load the CUDA driver library.
var ErrNoDriver = errors.New("CUDA driver unavailable")

var errNoCgo = fmt.Errorf("%w: CUDA driver libcuda.so.1 not loaded: this kiln was built without cgo on linux", ErrNoDriver)

// Device is unavailable in builds without cgo on Linux.
type Device struct{}

// Options tunes Open.
type Options struct {
	Ordinal  int
	CacheDir string
}

// Open always fails: the CUDA backend needs cgo (for dlopen) on Linux.
func Open(Options) (*Device, error) { return nil, errNoCgo }

// Close does nothing.
func (d *Device) Close() error { return nil }

// Backend is unavailable in builds without cgo on Linux; New always fails.
type Backend struct{ kernels.Backend }

// New always fails in builds without cgo.
func New() (*Backend, error) { return nil, errNoCgo }

// NewWith always fails in builds without cgo.
func NewWith(Options) (*Backend, error) { return nil, errNoCgo }

// Close does nothing.
func (b *Backend) Close() error { return nil }
