package writers

import (
	"fmt"
	"io"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/kilnlm/kiln/pipeline"
)

// DropReasonKey is the metadata key under which the executor puts a
// dropped document's reason before handing it to the rejected writer.
const DropReasonKey = "drop_reason"

// Rejected writes dropped documents as zstd JSONL, each line Kiln's
// document JSON with a "reason" key added before "metadata":
//
//	{"id":..,"text":..,"source":..,"reason":..,"metadata":{..},"provenance":{..}}
//
// The reason comes from d.Meta["drop_reason"] (set by the executor; the key
// itself is left out of the written metadata). A sample below 1 keeps a
// deterministic subset: a document is written when the xxhash of its id,
// as a fraction of 2^64, is below sample, so the same ids are kept in
// every run and whatever the worker count.
type Rejected struct {
	j         *JSONL
	threshold uint64 // keep when hash < threshold; all when sample >= 1
	all       bool
	buf       []byte
	seen      int64
}

// NewRejected returns a rejected-documents writer on w keeping a
// deterministic sample (1.0 = all, 0 = none) of what it is given. Close
// ends the zstd stream; it does not close w.
func NewRejected(w io.Writer, sample float64) (*Rejected, error) {
	if math.IsNaN(sample) || sample < 0 || sample > 1 {
		return nil, fmt.Errorf("rejected sample %v: want a fraction in [0, 1]", sample)
	}
	j, err := NewJSONLZstd(w)
	if err != nil {
		return nil, err
	}
	r := &Rejected{j: j, all: sample >= 1}
	if !r.all {
		r.threshold = uint64(sample * math.MaxUint64)
	}
	return r, nil
}

// Keep reports whether the sample includes a document id.
func (r *Rejected) Keep(id string) bool {
	return r.all || xxhash.Sum64String(id) < r.threshold
}

// Write records one dropped document if the sample includes it.
func (r *Rejected) Write(d *pipeline.Document) error {
	r.seen++
	if !r.Keep(d.ID) {
		return nil
	}
	reason, _ := d.Meta[DropReasonKey].(string)
	meta := d.Meta
	if _, ok := meta[DropReasonKey]; ok {
		meta = make(map[string]any, len(d.Meta)-1)
		for k, v := range d.Meta {
			if k != DropReasonKey {
				meta[k] = v
			}
		}
	}
	b := append(r.buf[:0], `{"id":`...)
	b = pipeline.AppendJSONString(b, d.ID)
	b = append(b, `,"text":`...)
	b = pipeline.AppendJSONString(b, d.Text)
	b = append(b, `,"source":`...)
	b = pipeline.AppendJSONString(b, d.Source)
	b = append(b, `,"reason":`...)
	b = pipeline.AppendJSONString(b, reason)
	b = append(b, `,"metadata":`...)
	b, err := pipeline.AppendMetaJSON(b, meta)
	if err != nil {
		return fmt.Errorf("rejected document %q: %w", d.ID, err)
	}
	b = fmt.Appendf(b, `,"provenance":{"file":%s,"record":%d,"offset":%d}}`+"\n",
		pipeline.AppendJSONString(nil, d.Prov.File), d.Prov.Record, d.Prov.Offset)
	r.buf = b
	if _, err := r.j.bw.Write(b); err != nil {
		return fmt.Errorf("write rejected %q: %w", d.ID, err)
	}
	r.j.n++
	return nil
}

// Written returns how many documents were written (after sampling).
func (r *Rejected) Written() int64 { return r.j.n }

// Close flushes and ends the zstd stream.
func (r *Rejected) Close() error { return r.j.Close() }
