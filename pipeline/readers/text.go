package readers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/kilnlm/kiln/pipeline"
)

// readText reads a plain text file as one document, or, with Paragraphs,
// one document per blank-line-separated paragraph.
func (r *reader) readText(ctx context.Context, t pipeline.Task, out pipeline.Emitter) error {
	if !r.opt.Paragraphs {
		return r.readWholeText(t, out)
	}
	rr, _, closeFn, err := r.openRecords(t)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Path, err)
	}
	defer closeFn()
	// A paragraph is a run of non-blank lines; its record number counts
	// paragraphs in the file (text files are never split into ranges) and
	// its id is the file plus the paragraph's byte offset.
	var para []byte
	var paraOff int64 = -1
	var paraTooLarge bool
	var n int64
	flush := func() error {
		if paraOff < 0 {
			return nil
		}
		n++
		defer func() { para, paraOff, paraTooLarge = para[:0], -1, false }()
		switch {
		case paraTooLarge:
			out.Skip(pipeline.Skip{Reason: "too_large", File: t.Path, Record: n, Err: fmt.Errorf("paragraph over %d bytes", r.opt.MaxRecordBytes)})
			return nil
		case !utf8.Valid(para):
			out.Skip(pipeline.Skip{Reason: "invalid_utf8", File: t.Path, Record: n})
			return nil
		}
		d := &pipeline.Document{
			ID:     fmt.Sprintf("%s@%d", t.Path, paraOff),
			Text:   string(para),
			Source: r.opt.Source,
			Prov:   pipeline.Provenance{File: t.Path, Record: n, Offset: paraOff},
		}
		return out.Doc(d)
	}
	for {
		if err := checkCtx(ctx, n); err != nil {
			return err
		}
		line, off, tooLarge, err := rr.next()
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return fmt.Errorf("read %s paragraph %d: %w", t.Path, n+1, wrapTruncated(err))
		}
		if !tooLarge && isBlank(line) {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if paraOff < 0 {
			paraOff = off
		}
		if tooLarge || int64(len(para)+len(line)+1) > r.opt.MaxRecordBytes {
			paraTooLarge = true
			para = para[:0]
			continue
		}
		if !paraTooLarge {
			if len(para) > 0 {
				para = append(para, '\n')
			}
			para = append(para, line...)
		}
	}
}

// readWholeText emits a whole (possibly compressed) file as one document.
func (r *reader) readWholeText(t pipeline.Task, out pipeline.Emitter) error {
	br, _, closeFn, err := openStream(t.Path)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Path, err)
	}
	defer closeFn()
	// Read one byte past the limit to tell "exactly max" from "over".
	b, err := io.ReadAll(io.LimitReader(br, r.opt.MaxRecordBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Path, wrapTruncated(err))
	}
	if int64(len(b)) > r.opt.MaxRecordBytes {
		// Drain the rest so a truncated compressed file is still an error.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return fmt.Errorf("read %s: %w", t.Path, wrapTruncated(err))
		}
		out.Skip(pipeline.Skip{Reason: "too_large", File: t.Path, Record: 1, Err: fmt.Errorf("file over %d bytes", r.opt.MaxRecordBytes)})
		return nil
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		out.Skip(pipeline.Skip{Reason: "invalid_utf8", File: t.Path, Record: 1})
		return nil
	}
	return out.Doc(&pipeline.Document{
		ID: t.Path, Text: string(b), Source: r.opt.Source,
		Prov: pipeline.Provenance{File: t.Path, Record: 1, Offset: 0},
	})
}
