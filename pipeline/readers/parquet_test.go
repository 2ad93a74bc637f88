package readers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// Layouts seen in the wild: FineWeb (text + string/float/int metadata),
// The Stack (content + lists of licences), and variations: binary text,
// nullable text, unannotated binary ids.
type fineWebRow struct {
	Text          string  `parquet:"text"`
	ID            string  `parquet:"id"`
	Dump          string  `parquet:"dump,dict"`
	URL           string  `parquet:"url"`
	Date          string  `parquet:"date"`
	Language      string  `parquet:"language,dict"`
	LanguageScore float64 `parquet:"language_score"`
	TokenCount    int64   `parquet:"token_count"`
}

type stackRow struct {
	Hexsha   string   `parquet:"hexsha"`
	Size     int64    `parquet:"size"`
	Path     string   `parquet:"max_stars_repo_path"`
	Licenses []string `parquet:"max_stars_repo_licenses,list"`
	Stars    *int32   `parquet:"max_stars_count,optional"`
	Content  string   `parquet:"content"`
	Lang     string   `parquet:"lang"`
}

type binaryTextRow struct {
	ID   []byte  `parquet:"id"`
	Text *[]byte `parquet:"text,optional"`
	Flag bool    `parquet:"flag"`
	F32  float32 `parquet:"f32"`
}

func writeRows[T any](t testing.TB, path string, rows []T, perGroup int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	for i := 0; i < len(rows); i += perGroup {
		if _, err := w.Write(rows[i:min(i+perGroup, len(rows))]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestParquetLayouts(t *testing.T) {
	dir := t.TempDir()
	var fw []fineWebRow
	for i := range 250 {
		fw = append(fw, fineWebRow{Text: fmt.Sprintf("web text %d", i), ID: fmt.Sprintf("<urn:uuid:%d>", i), Dump: "CC-MAIN-2024-10",
			URL: fmt.Sprintf("https://e.com/%d", i), Language: "en", LanguageScore: 0.5 + float64(i)/1000, TokenCount: int64(i)})
	}
	fwPath := filepath.Join(dir, "fineweb.parquet")
	writeRows(t, fwPath, fw, 100)

	var st []stackRow
	for i := range 30 {
		r := stackRow{Hexsha: fmt.Sprintf("%040x", i), Size: int64(i * 10), Path: fmt.Sprintf("src/f%d.py", i),
			Content: fmt.Sprintf("def f%d():\n    return %d\n", i, i), Lang: "Python"}
		if i%3 == 0 {
			r.Licenses = []string{"MIT", "Apache-2.0"}
			s := int32(i)
			r.Stars = &s
		}
		st = append(st, r)
	}
	stPath := filepath.Join(dir, "stack.parquet")
	writeRows(t, stPath, st, 1000)

	var bt []binaryTextRow
	for i := range 10 {
		r := binaryTextRow{ID: []byte(fmt.Sprintf("b%d", i)), Flag: i%2 == 0, F32: 1.5}
		switch i {
		case 3: // null text
		case 4:
			b := []byte("bad\xff utf8")
			r.Text = &b
		default:
			b := []byte(fmt.Sprintf("binary text %d", i))
			r.Text = &b
		}
		bt = append(bt, r)
	}
	btPath := filepath.Join(dir, "binary.parquet")
	writeRows(t, btPath, bt, 4)

	t.Run("fineweb", func(t *testing.T) {
		got, err := readAll(t, Options{Source: "web", TaskBytes: 1}, true, fwPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.docs) != 250 || got.skipped() != 0 {
			t.Fatalf("%d docs %v", len(got.docs), got.skips)
		}
		d := got.docs[123]
		if d.ID != "<urn:uuid:123>" || d.Text != "web text 123" || d.Prov.Record != 124 || d.Meta["token_count"] != int64(123) ||
			d.Meta["language_score"] != 0.623 || d.MetaString("url") != "https://e.com/123" || d.MetaString("dump") != "CC-MAIN-2024-10" {
			t.Errorf("doc: %+v", d)
		}
		r, _ := New(Options{TaskBytes: 1})
		if tasks, _ := r.Plan([]string{fwPath}); len(tasks) != 3 {
			t.Errorf("%d tasks for 3 row groups", len(tasks))
		}
	})
	t.Run("stack", func(t *testing.T) {
		got, err := readAll(t, Options{Source: "code", TextField: "content", IDField: "hexsha", MetaFields: []string{"max_stars_repo_path", "max_stars_repo_licenses", "max_stars_count", "lang"}}, true, stPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.docs) != 30 {
			t.Fatalf("%d docs %v", len(got.docs), got.skips)
		}
		d0, d1 := got.docs[0], got.docs[1]
		if fmt.Sprint(d0.Meta["max_stars_repo_licenses"]) != "[MIT Apache-2.0]" || d0.Meta["max_stars_count"] != int64(0) ||
			d1.Meta["max_stars_count"] != nil || fmt.Sprint(d1.Meta["max_stars_repo_licenses"]) != "[]" || len(d0.Meta) != 4 || d0.ID != st[0].Hexsha {
			t.Errorf("meta: %v / %v", d0.Meta, d1.Meta)
		}
		if _, err := readAll(t, Options{}, true, stPath); err == nil || !strings.Contains(err.Error(), `no text column "text"`) {
			t.Errorf("missing text column: %v", err)
		}
		if _, err := readAll(t, Options{TextField: "size"}, true, stPath); err == nil || !strings.Contains(err.Error(), "want a string") {
			t.Errorf("int text column: %v", err)
		}
	})
	t.Run("binary", func(t *testing.T) {
		got, err := readAll(t, Options{}, true, btPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.docs) != 8 || got.skips["missing_text"] != 1 || got.skips["invalid_utf8"] != 1 {
			t.Fatalf("%d docs %v", len(got.docs), got.skips)
		}
		if got.docs[0].ID != "b0" || got.docs[0].Text != "binary text 0" || got.docs[0].Meta["flag"] != true || got.docs[0].Meta["f32"] != 1.5 {
			t.Errorf("doc %+v", got.docs[0])
		}
		if got.first["missing_text"].Record != 4 {
			t.Errorf("null text at record %d", got.first["missing_text"].Record)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		b, _ := os.ReadFile(fwPath)
		for name, data := range map[string][]byte{
			"truncated": b[:len(b)/2], "no_footer": b[:len(b)-8], "zeroed": append(append([]byte{}, b[:4]...), append(make([]byte, len(b)-12), b[len(b)-8:]...)...),
		} {
			p := filepath.Join(dir, name+".parquet")
			os.WriteFile(p, data, 0o644)
			_, err := readAll(t, Options{}, false, p)
			if err == nil {
				t.Errorf("%s: no error", name)
			} else if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error does not name file: %v", name, err)
			}
		}
	})
}

// parquetSeed is a small valid file for the fuzz corpus.
func parquetSeed(tb testing.TB) []byte {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[fineWebRow](&buf)
	w.Write([]fineWebRow{{Text: "a", ID: "1", LanguageScore: 1}, {Text: "b", URL: "u"}})
	w.Close()
	return buf.Bytes()
}

func FuzzParquet(f *testing.F) {
	seed := parquetSeed(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.parquet")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, _ := New(Options{Format: "parquet", TaskBytes: 1})
		tasks, err := r.Plan([]string{p})
		if err != nil {
			return
		}
		c := newCollector(false)
		for _, task := range tasks {
			if r.Read(context.Background(), task, c) != nil {
				return
			}
		}
	})
}
