package pipeline

// Source kinds Kiln knows by name; any other non-empty string is a user
// source name.
const (
	SourceWeb  = "web"
	SourceCode = "code"
	SourceMath = "math"
)

// Document is one unit of text flowing through a pipeline. It is small and
// explicit: stages receive a *Document and may rewrite Text or add Meta.
type Document struct {
	// ID is unique within a run; readers take it from the input or derive
	// it deterministically from provenance.
	ID string
	// Text is the document's content as UTF-8.
	Text string
	// Source is the source kind: web, code, math, or a user name.
	Source string
	// Meta carries whatever a reader or stage finds: url, path, language,
	// licence, scores, cluster ids. Values are JSON-compatible.
	Meta map[string]any
	// Prov records where the document came from.
	Prov Provenance
}

// Provenance locates a document in its input.
type Provenance struct {
	File   string `json:"file"`
	Record int64  `json:"record"` // 1-based line or record number within File
	Offset int64  `json:"offset"` // byte offset of the record, -1 when unknown
}

// SetMeta sets a metadata value, allocating the map on first use.
func (d *Document) SetMeta(key string, v any) {
	if d.Meta == nil {
		d.Meta = make(map[string]any)
	}
	d.Meta[key] = v
}

// MetaString returns a metadata value as a string, or "" when absent or
// not a string.
func (d *Document) MetaString(key string) string {
	s, _ := d.Meta[key].(string)
	return s
}
