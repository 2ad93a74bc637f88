// Package pipeline holds Kiln's document model and the contracts every
// curation step plugs into: readers yield documents, stages keep or drop
// them, global stages (deduplication) see the whole corpus before deciding,
// and outputs write what was kept. The local executor and the Beam runner
// drive the same stages; stages never depend on the executor.
package pipeline
