//go:build !unix

package cputime

import "time"

// Process has no portable source on this system and returns 0; callers
// then report wall-clock figures only.
func Process() time.Duration { return 0 }
