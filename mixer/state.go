package mixer

// StateVersion is the version of the State layout written by this package.
const StateVersion = 1

// State is everything the loader needs to continue exactly where it
// stopped. Its size depends on the number of sources and lineage entries
// (stages and remixes), never on the number of steps: there is no index.
type State struct {
	Version     int    `json:"version"`
	Mixture     string `json:"mixture"`
	MixtureHash string `json:"mixture_hash"`
	// Step counts completed global steps; Tokens the tokens they held (all
	// ranks). Micro is how many micro-batches of step Step this rank has
	// already consumed (restore skips them).
	Step   int64 `json:"step"`
	Tokens int64 `json:"tokens"`
	Micro  int   `json:"micro,omitempty"`
	// Stage is the index (and name) of the stage of the last packed step,
	// -1 before the first step.
	Stage     int    `json:"stage"`
	StageName string `json:"stage_name,omitempty"`
	// Segment numbers the blend segments: one starts at every stage switch
	// and every remix. SegmentTokens counts its tokens; the blend state is
	// SegmentTokens plus each source's SegmentTokens.
	Segment       int   `json:"segment"`
	SegmentTokens int64 `json:"segment_tokens"`
	// NewSegment is set on a remixed state: the next step starts a segment.
	NewSegment bool          `json:"new_segment,omitempty"`
	Sources    []SourceState `json:"sources"`
	// Lineage records, per blend segment and source, which span of the
	// source was read under which mixture and stage.
	Lineage []LineageEntry `json:"lineage"`
}

// SourceState is one source's cursor. Sources dropped by a remix keep their
// entry, so re-adding them later resumes where they stopped.
type SourceState struct {
	Name string `json:"name"`
	// Version is the data's version id (shard manifest), checked on restore.
	Version string `json:"version,omitempty"`
	// NumDocs is checked on restore: a permutation over a different number
	// of documents would repeat or skip some.
	NumDocs int64 `json:"num_docs"`
	// Seed keys this source's permutations; it stays with the source across
	// remixes even if the new mixture has another seed.
	Seed uint64 `json:"seed"`
	// Epoch is the number of completed passes; Index the position in the
	// current epoch's permutation; Offset the tokens of that document
	// already emitted (a document split across rows).
	Epoch  int64 `json:"epoch"`
	Index  int64 `json:"index"`
	Offset int64 `json:"offset"`
	// Tokens counts tokens emitted over the run; SegmentTokens within the
	// current blend segment.
	Tokens        int64 `json:"tokens"`
	SegmentTokens int64 `json:"segment_tokens"`
}

// Cursor is a position inside a source's document stream.
type Cursor struct {
	Epoch  int64 `json:"epoch"`
	Index  int64 `json:"index"`
	Offset int64 `json:"offset"`
}

// LineageEntry says that source Source was read from From to To (cursor
// positions, To exclusive) while stage Stage of mixture Mixture was active,
// in steps [FirstStep, EndStep), contributing Tokens tokens.
type LineageEntry struct {
	Segment     int    `json:"segment"`
	Mixture     string `json:"mixture"`
	MixtureHash string `json:"mixture_hash"`
	Stage       string `json:"stage"`
	Source      string `json:"source"`
	FirstStep   int64  `json:"first_step"`
	EndStep     int64  `json:"end_step"`
	Tokens      int64  `json:"tokens"`
	From        Cursor `json:"from"`
	To          Cursor `json:"to"`
}

func (s State) clone() State {
	c := s
	c.Sources = append([]SourceState(nil), s.Sources...)
	c.Lineage = append([]LineageEntry(nil), s.Lineage...)
	return c
}

// exhausted says whether src has reached its epoch limit in stage.
func (m *Mixture) exhausted(stage int, src SourceState) bool {
	if stage < 0 || stage >= len(m.Stages) {
		return false
	}
	d := m.SourceIndex(src.Name)
	if d < 0 {
		return false
	}
	lim := m.Stages[stage].MaxEpochs[d]
	return lim > 0 && src.Offset == 0 && float64(src.Epoch*src.NumDocs+src.Index) >= lim*float64(src.NumDocs)
}
