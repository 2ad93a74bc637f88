package writers

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kilnlm/kiln/pipeline"
)

// JSONLOutput writes each task's kept documents to
// dir/part-%05d.jsonl.zst.
func JSONLOutput() pipeline.Output { return jsonlOutput{} }

// ParquetOutput writes each task's kept documents to
// dir/part-%05d.parquet.
func ParquetOutput() pipeline.Output { return parquetOutput{} }

// ParquetOutputWith is ParquetOutput with explicit options.
func ParquetOutputWith(o ParquetOptions) pipeline.Output { return parquetOutput{opts: o} }

type jsonlOutput struct{}

func (jsonlOutput) Name() string { return "jsonl" }

func (jsonlOutput) OpenTask(dir string, task int) (pipeline.TaskWriter, error) {
	f, err := createPart(dir, task, "jsonl.zst")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	j, err := NewJSONLZstd(bw)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileWriter{f: f, bw: bw, w: j}, nil
}

func (jsonlOutput) Finish(string, int) error { return nil }

type parquetOutput struct{ opts ParquetOptions }

func (parquetOutput) Name() string { return "parquet" }

func (o parquetOutput) OpenTask(dir string, task int) (pipeline.TaskWriter, error) {
	f, err := createPart(dir, task, "parquet")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	p, err := NewParquet(bw, o.opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileWriter{f: f, bw: bw, w: p}, nil
}

func (parquetOutput) Finish(string, int) error { return nil }

func createPart(dir string, task int, ext string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output dir: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("part-%05d.%s", task, ext))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, nil
}

// fileWriter closes a document writer, then its buffer and file, syncing
// the file so a committed task's output survives a crash.
type fileWriter struct {
	f  *os.File
	bw *bufio.Writer
	w  pipeline.TaskWriter
}

func (fw *fileWriter) Write(d *pipeline.Document) error { return fw.w.Write(d) }

func (fw *fileWriter) Close() error {
	err := fw.w.Close()
	if err == nil {
		err = fw.bw.Flush()
	}
	if err == nil {
		err = fw.f.Sync()
	}
	if cerr := fw.f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", fw.f.Name(), err)
	}
	return nil
}

// Register adds the "jsonl" and "parquet" outputs to a step registry.
func Register(r *pipeline.Registry) {
	r.Add(pipeline.StepDef{
		Name: "jsonl", Kind: pipeline.KindOutput,
		Help:     "write kept documents as zstd JSONL, one part-NNNNN.jsonl.zst per task",
		Defaults: func() any { return &struct{}{} },
		New:      func(any) (any, error) { return JSONLOutput(), nil },
	})
	r.Add(pipeline.StepDef{
		Name: "parquet", Kind: pipeline.KindOutput,
		Help:     "write kept documents as Parquet (id, text, source, metadata JSON, file, record), one part-NNNNN.parquet per task",
		Defaults: func() any { return &parquetParams{Compression: "zstd", RowGroupMB: 128} },
		New: func(c any) (any, error) {
			p := c.(*parquetParams)
			switch p.Compression {
			case "zstd", "snappy", "none":
			default:
				return nil, fmt.Errorf("compression %q: want zstd, snappy or none", p.Compression)
			}
			if p.RowGroupMB <= 0 {
				return nil, fmt.Errorf("row_group_mb %d: want > 0", p.RowGroupMB)
			}
			return ParquetOutputWith(ParquetOptions{Compression: p.Compression, RowGroupBytes: p.RowGroupMB << 20}), nil
		},
	})
}

type parquetParams struct {
	Compression string `param:"compression" help:"zstd, snappy or none"`
	RowGroupMB  int64  `param:"row_group_mb" help:"row group size bound in MiB of text"`
}
