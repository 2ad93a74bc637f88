// Package filters holds Kiln's quality filters, formatters and
// decontamination, each a pipeline.Stage with the anchors' defaults.
package filters

import "github.com/kilnlm/kiln/pipeline"

// Register adds every filter of this package to r.
func Register(r *pipeline.Registry) {}
