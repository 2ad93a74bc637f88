package readers

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// checkParquetPages walks the page headers of a row group's column chunks
// and rejects sizes that cannot be right before the library acts on them.
// parquet-go allocates a page's claimed sizes up front, so one corrupt
// header could otherwise ask for gigabytes. The walk reads only headers
// (a few hundred bytes per page).
func checkParquetPages(f *os.File, size int64, rg *format.RowGroup, maxPage int64) error {
	var proto thrift.CompactProtocol
	for ci := range rg.Columns {
		md := &rg.Columns[ci].MetaData
		start := md.DataPageOffset
		if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
			start = md.DictionaryPageOffset
		}
		end := start + md.TotalCompressedSize
		if start < 4 || md.TotalCompressedSize < 0 || end > size-8 || end < start {
			return fmt.Errorf("column chunk %d spans bytes [%d, %d) outside the file (%d bytes)", ci, start, end, size)
		}
		if md.TotalUncompressedSize < 0 || md.NumValues < 0 {
			return fmt.Errorf("column chunk %d has negative sizes", ci)
		}
		var values int64
		for pos := start; pos < end; {
			cr := &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(f, pos, end-pos), 4096)}
			var h format.PageHeader
			if err := thrift.NewDecoder(proto.NewReader(cr)).Decode(&h); err != nil {
				return fmt.Errorf("column chunk %d page header at byte %d: %w", ci, pos, err)
			}
			if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 {
				return fmt.Errorf("column chunk %d page at byte %d: negative size", ci, pos)
			}
			next := pos + cr.n + int64(h.CompressedPageSize)
			if next > end {
				return fmt.Errorf("column chunk %d page at byte %d runs past its chunk (%d > %d)", ci, pos, next, end)
			}
			if int64(h.UncompressedPageSize) > maxPage || int64(h.CompressedPageSize) > maxPage {
				return fmt.Errorf("column chunk %d page at byte %d: %d bytes, over the %d-byte page limit", ci, pos, h.UncompressedPageSize, maxPage)
			}
			var n int64
			switch {
			case h.DataPageHeader.Valid:
				n = int64(h.DataPageHeader.V.NumValues)
			case h.DataPageHeaderV2.Valid:
				n = int64(h.DataPageHeaderV2.V.NumValues)
			case h.DictionaryPageHeader.Valid:
				if int64(h.DictionaryPageHeader.V.NumValues) > int64(h.UncompressedPageSize)+1 && h.DictionaryPageHeader.V.NumValues > 1<<20 {
					return fmt.Errorf("column chunk %d dictionary page at byte %d: %d values in %d bytes", ci, pos, h.DictionaryPageHeader.V.NumValues, h.UncompressedPageSize)
				}
			}
			if n < 0 {
				return fmt.Errorf("column chunk %d page at byte %d: negative value count", ci, pos)
			}
			values += n
			if values > md.NumValues {
				return fmt.Errorf("column chunk %d: pages hold more values than its metadata's %d", ci, md.NumValues)
			}
			pos = next
		}
	}
	return nil
}

type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
