package readers

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/kilnlm/kiln/pipeline"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// openParquet opens a Parquet file's footer; column data is read later,
// page by page.
func openParquet(path string) (*parquet.File, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := checkParquetFooter(f, st.Size()); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	return pf, f, nil
}

// checkParquetFooter validates the trailer before the library trusts it:
// a corrupt footer length would otherwise make it allocate up to 4 GiB.
func checkParquetFooter(f *os.File, size int64) error {
	if size < 12 {
		return fmt.Errorf("file of %d bytes is too short for Parquet", size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("no PAR1 magic at the end (truncated file?)")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return fmt.Errorf("footer length %d exceeds the file (%d bytes; truncated or corrupt)", n, size)
	}
	return nil
}

// planParquet makes one task per file, or, with TaskBytes, tasks of
// consecutive row groups of about TaskBytes compressed bytes each. Start
// and End index row groups.
func (r *reader) planParquet(path string) (_ []pipeline.Task, err error) {
	defer recoverParquet(path, &err)
	pf, f, err := openParquet(path)
	if err != nil {
		return nil, fmt.Errorf("plan %w", err)
	}
	defer f.Close()
	groups := pf.Metadata().RowGroups
	if r.opt.TaskBytes <= 0 || len(groups) <= 1 {
		return []pipeline.Task{{Path: path, Start: 0, End: -1}}, nil
	}
	var tasks []pipeline.Task
	start, size := 0, int64(0)
	for i, g := range groups {
		sz := g.TotalCompressedSize
		if sz <= 0 {
			sz = g.TotalByteSize
		}
		size += sz
		if size >= r.opt.TaskBytes || i == len(groups)-1 {
			tasks = append(tasks, pipeline.Task{Path: path, Start: int64(start), End: int64(i + 1)})
			start, size = i+1, 0
		}
	}
	return tasks, nil
}

// recoverParquet turns a panic inside the Parquet library (seen on
// corrupt pages and footers) into an error naming the file, so one bad
// file fails its task instead of the whole process.
func recoverParquet(path string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("parquet %s: corrupt file: %v", path, p)
	}
}

// pqColumn describes how one leaf column maps into a document.
type pqColumn struct {
	key      string // metadata key; "" = not copied
	role     int    // roleMeta, roleText, roleID
	repeated bool
	maxDef   int
	stringy  bool // BYTE_ARRAY with a string/JSON/enum annotation
}

const (
	roleMeta = iota
	roleText
	roleID
	roleIgnore
)

// parquetColumns maps the schema's leaf columns. A top-level field with a
// single leaf (a primitive, or a list of primitives) is keyed by its own
// name; leaves of structs get dotted paths. The text column must exist and
// hold strings or binary.
func (r *reader) parquetColumns(schema *parquet.Schema) ([]pqColumn, error) {
	paths := schema.Columns()
	leavesPerTop := map[string]int{}
	for _, p := range paths {
		leavesPerTop[p[0]]++
	}
	var want map[string]bool
	if r.opt.MetaFields != nil {
		want = map[string]bool{}
		for _, k := range r.opt.MetaFields {
			want[k] = true
		}
	}
	cols := make([]pqColumn, len(paths))
	textFound := false
	for i, p := range paths {
		leaf, ok := schema.Lookup(p...)
		if !ok {
			return nil, fmt.Errorf("column %s not found in schema", strings.Join(p, "."))
		}
		t := leaf.Node.Type()
		c := pqColumn{repeated: leaf.MaxRepetitionLevel > 0, maxDef: leaf.MaxDefinitionLevel}
		if lt := t.LogicalType(); lt != nil {
			switch lt.Value.(type) {
			case *format.StringType, *format.JsonType, *format.EnumType:
				c.stringy = true
			}
		}
		key := strings.Join(p, ".")
		if leavesPerTop[p[0]] == 1 {
			key = p[0]
		}
		isByteArray := t.Kind() == parquet.ByteArray
		switch {
		case key == r.opt.TextField || strings.Join(p, ".") == r.opt.TextField:
			if !isByteArray || c.repeated {
				return nil, fmt.Errorf("text column %q has type %s, want a string or binary column", r.opt.TextField, leaf.Node.Type())
			}
			c.role, c.key = roleText, key
			textFound = true
		case key == r.opt.IDField && !c.repeated:
			c.role, c.key = roleID, key
		case want != nil && !want[key]:
			c.role = roleIgnore
		default:
			c.role, c.key = roleMeta, key
		}
		cols[i] = c
	}
	if !textFound {
		return nil, fmt.Errorf("no text column %q (columns: %s)", r.opt.TextField, joinPaths(paths))
	}
	return cols, nil
}

func joinPaths(paths [][]string) string {
	s := make([]string, len(paths))
	for i, p := range paths {
		s[i] = strings.Join(p, ".")
	}
	return strings.Join(s, ", ")
}

// readParquet streams the rows of a task's row groups, a batch of rows at
// a time, so memory holds one row group's current pages, never the file.
func (r *reader) readParquet(ctx context.Context, t pipeline.Task, out pipeline.Emitter) (err error) {
	defer recoverParquet(t.Path, &err)
	pf, f, err := openParquet(t.Path)
	if err != nil {
		return fmt.Errorf("read %w", err)
	}
	defer f.Close()
	cols, err := r.parquetColumns(pf.Schema())
	if err != nil {
		return fmt.Errorf("read parquet %s: %w", t.Path, err)
	}
	groups := pf.RowGroups()
	end := int(t.End)
	if t.End < 0 || end > len(groups) {
		end = len(groups)
	}
	var record int64 // rows before this task, so records number rows in the file
	for _, g := range groups[:min(int(t.Start), len(groups))] {
		record += g.NumRows()
	}
	buf := make([]parquet.Row, 64)
	meta := pf.Metadata()
	for gi := int(t.Start); gi < end; gi++ {
		if err := checkParquetPages(f, pf.Size(), &meta.RowGroups[gi], 4*r.opt.MaxRecordBytes); err != nil {
			return fmt.Errorf("read parquet %s row group %d: %w", t.Path, gi, err)
		}
		rows := groups[gi].Rows()
		for {
			if err := ctx.Err(); err != nil {
				rows.Close()
				return err
			}
			n, err := rows.ReadRows(buf)
			for i := 0; i < n; i++ {
				record++
				d, reason, derr := r.parquetDoc(cols, buf[i], t.Path, record)
				if reason != "" {
					out.Skip(pipeline.Skip{Reason: reason, File: t.Path, Record: record, Err: derr})
					continue
				}
				if err := out.Doc(d); err != nil {
					rows.Close()
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("read parquet %s row group %d row %d: %w", t.Path, gi, record+1, err)
			}
		}
		rows.Close()
	}
	return nil
}

// parquetDoc converts one row.
func (r *reader) parquetDoc(cols []pqColumn, row parquet.Row, file string, record int64) (*pipeline.Document, string, error) {
	d := &pipeline.Document{Source: r.opt.Source, Prov: pipeline.Provenance{File: file, Record: record, Offset: -1}}
	textSeen := false
	for _, v := range row {
		ci := v.Column()
		if ci < 0 || ci >= len(cols) {
			continue
		}
		c := &cols[ci]
		switch c.role {
		case roleIgnore:
			continue
		case roleText:
			if v.IsNull() {
				return nil, "missing_text", fmt.Errorf("null %q", r.opt.TextField)
			}
			b := v.ByteArray()
			if int64(len(b)) > r.opt.MaxRecordBytes {
				return nil, "too_large", fmt.Errorf("text of %d bytes over %d", len(b), r.opt.MaxRecordBytes)
			}
			if !utf8.Valid(b) {
				return nil, "invalid_utf8", nil
			}
			d.Text = string(b)
			textSeen = true
		case roleID:
			if !v.IsNull() {
				d.ID = fmt.Sprint(pqValue(v, c))
			}
		case roleMeta:
			if c.repeated {
				list, _ := d.Meta[c.key].([]any)
				if v.IsNull() { // an empty or null list still gets its key
					if list == nil {
						d.SetMeta(c.key, []any{})
					}
					continue
				}
				d.SetMeta(c.key, append(list, pqValue(v, c)))
				continue
			}
			if v.IsNull() {
				d.SetMeta(c.key, nil)
			} else {
				d.SetMeta(c.key, pqValue(v, c))
			}
		}
	}
	if !textSeen {
		return nil, "missing_text", fmt.Errorf("no %q value", r.opt.TextField)
	}
	if d.ID == "" {
		d.ID = deriveID(file, record)
	}
	return d, "", nil
}

// pqValue converts a non-null Parquet value to a JSON-compatible Go value.
// Unannotated binary becomes a string when it is valid UTF-8 (many writers
// omit the STRING annotation), else base64.
func pqValue(v parquet.Value, c *pqColumn) any {
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return int64(v.Int32())
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := v.ByteArray()
		if c.stringy || utf8.Valid(b) {
			return string(b)
		}
		return base64.StdEncoding.EncodeToString(b)
	case parquet.Int96:
		return v.Int96().String()
	}
	return v.String()
}
