// Package mixer turns shard sets into training batches: staged curriculum
// mixtures, deterministic on-the-fly blending, packing with document
// boundaries, and a loader whose small state resumes exactly.
package mixer

// Batch is one micro-batch of packed training sequences, as the trainer
// consumes it. Every slice is row-major [Rows][SeqLen].
type Batch struct {
	Rows   int
	SeqLen int // T: each row predicts T tokens from T inputs
	// Inputs[r*T+t] is the token at position t; Targets[r*T+t] the token
	// that follows it (the packed row holds T+1 tokens).
	Inputs  []int32
	Targets []int32
	// Positions restart at 0 at every document start, so attention and RoPE
	// can see where documents begin (intra-document masking).
	Positions []int32
	// LossMask is 1 where the target belongs to the same document as the
	// input (and is not masked by a per-token loss mask), else 0.
	LossMask []float32
	// SourceOf[r*T+t] indexes Sources: which source the input token came from.
	SourceOf []uint8
	Sources  []string
}
