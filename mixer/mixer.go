// Package mixer turns shard sets into training batches: staged curriculum
// mixtures, deterministic on-the-fly blending, packing with document
// boundaries, and a loader whose small state resumes exactly.
//
// The pieces, in the order data flows through them:
//
//   - Mixture (spec.go): a YAML recipe of sources and stages, each stage with
//     a start, a sequence length and per-source weights.
//   - perm (perm.go): within a source, a keyed Feistel permutation of the
//     document indices, new for every epoch, O(1) memory.
//   - blend (blend.go): which source fills the next piece of a row, by the
//     largest-error rule over stage-local token counts, O(#sources) state.
//   - packer (pack.go): rows of T+1 tokens cut from documents, positions
//     restarting at every piece, loss mask 0 across boundaries.
//   - Loader (loader.go): global batch, micro-batches, data-parallel ranks,
//     background prefetch, and a small JSON State that resumes exactly.
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

	// Step is the global optimizer step this micro-batch belongs to (0-based),
	// Micro its index among the Micros micro-batches this rank gets per step.
	Step   int64
	Micro  int
	Micros int
	// Stage is the name of the mixture stage that produced the batch.
	Stage string
	// Pieces lists the document spans packed into the rows, in row order:
	// which document of which source, and from which token offset. They let
	// the trainer build cu_seqlens and let tests and lineage tools check that
	// no document is repeated or skipped.
	Pieces []Piece
}

// Piece is one contiguous span of one document inside a packed row.
type Piece struct {
	Row    int32 // row within the micro-batch
	Start  int32 // first input position in the row
	Len    int32 // input positions covered
	Source uint8 // index into Batch.Sources
	Epoch  int64 // the source's epoch when the document was drawn
	Doc    int64 // document index inside the source's shard set
	Offset int64 // token offset of the span's first token inside the document
}

// CuSeqlens returns the cumulative sequence boundaries of row r, in the form
// varlen attention kernels take: 0, end of first piece, ..., T. Every
// position restart in Positions starts a new sequence.
func (b *Batch) CuSeqlens(r int, dst []int32) []int32 {
	dst = dst[:0]
	T := b.SeqLen
	pos := b.Positions[r*T : (r+1)*T]
	dst = append(dst, 0)
	for t := 1; t < T; t++ {
		if pos[t] == 0 {
			dst = append(dst, int32(t))
		}
	}
	return append(dst, int32(T))
}
