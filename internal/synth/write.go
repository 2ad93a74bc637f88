package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSONL writes documents one JSON object per line; kind and dup_of stay
// in the record so tests can audit curation against what was planted.
func WriteJSONL(w io.Writer, docs []Doc) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range docs {
		if err := enc.Encode(&docs[i]); err != nil {
			return fmt.Errorf("synth: write document %s: %w", docs[i].ID, err)
		}
	}
	return bw.Flush()
}
