package executor

import (
	"fmt"
	"io"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/kilnlm/kiln/pipeline/readers"
	"github.com/kilnlm/kiln/pipeline/recipe"
	"github.com/kilnlm/kiln/pipeline/writers"
)

// ReaderOptions maps a recipe input onto the readers package's options.
func ReaderOptions(in recipe.Input) readers.Options {
	return readers.Options{
		Format: in.Format, Source: in.Source, TextField: in.TextField, IDField: in.IDField,
		MetaFields: in.MetaFields, Paragraphs: in.Paragraphs, MaxFileBytes: in.MaxFileBytes, TaskBytes: in.TaskBytes,
	}
}

// CheckInput validates a recipe input's reader options without reading.
func CheckInput(in recipe.Input) error {
	_, err := readers.New(ReaderOptions(in))
	return err
}

// DefaultDeps wires Kiln's own readers and writers into the executor.
func DefaultDeps() Deps {
	return Deps{
		NewReader: func(in recipe.Input) (pipeline.Reader, error) { return readers.New(ReaderOptions(in)) },
		NewDocsOutput: func(format string) (pipeline.Output, error) {
			switch format {
			case recipe.FormatJSONLZstd:
				return writers.JSONLOutput(), nil
			case recipe.FormatParquet:
				return writers.ParquetOutput(), nil
			}
			return nil, fmt.Errorf("unknown docs format %q", format)
		},
		NewRejected: func(w io.Writer, sample float64) (DocWriter, error) {
			return writers.NewRejected(w, sample)
		},
	}
}
