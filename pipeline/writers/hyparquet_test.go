package writers

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// hyparquetScript reads a Parquet file with hyparquet (an independent,
// pure-JavaScript implementation) and prints the rows as JSON.
const hyparquetScript = `
import { parquetReadObjects, parquetMetadata } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { readFileSync } from 'node:fs'
const buf = readFileSync(process.argv[2])
const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
const meta = parquetMetadata(file)
const rows = await parquetReadObjects({ file, compressors })
console.log(JSON.stringify({ row_groups: meta.row_groups.length, rows }, (k, v) => typeof v === 'bigint' ? Number(v) : v))
`

// TestParquetHyparquet checks that another implementation reads Kiln's
// Parquet: npm installs hyparquet into a temporary folder. Without npm or
// a registry the test is skipped, except under CI=true.
func TestParquetHyparquet(t *testing.T) {
	if testing.Short() {
		t.Skip("installs an npm package")
	}
	skipOrFail := func(msg string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(msg, args...)
		}
		t.Skipf(msg, args...)
	}
	node, err1 := exec.LookPath("node")
	npm, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil {
		skipOrFail("node/npm not found: %v %v", err1, err2)
	}
	dir := t.TempDir()
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "hyparquet@1.33.0", "hyparquet-compressors@1.1.2")
	cmd.Env = append(os.Environ(), "npm_config_fetch_timeout=20000", "npm_config_fetch_retries=1")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		err = os.ErrDeadlineExceeded
	}
	if err != nil {
		skipOrFail("npm install hyparquet failed (registry unreachable?): %v\n%s", err, out)
	}
	script := filepath.Join(dir, "read.mjs")
	if err := os.WriteFile(script, []byte(hyparquetScript), 0o644); err != nil {
		t.Fatal(err)
	}
	docs := sampleDocs(500)
	for _, comp := range []string{"zstd", "snappy"} {
		p := filepath.Join(dir, comp+".parquet")
		writeParquet(t, p, docs, ParquetOptions{Compression: comp, RowGroupBytes: 16 << 10})
		run := exec.Command(node, script, p)
		run.Dir = dir
		res, err := run.Output()
		if err != nil {
			t.Fatalf("%s: node: %v", comp, err)
		}
		var got struct {
			RowGroups int `json:"row_groups"`
			Rows      []struct {
				ID, Text, Source, Metadata, File string
				Record                           int64
			} `json:"rows"`
		}
		if err := json.Unmarshal(res, &got); err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		if len(got.Rows) != len(docs) || got.RowGroups < 2 {
			t.Fatalf("%s: hyparquet read %d rows in %d row groups", comp, len(got.Rows), got.RowGroups)
		}
		for i, r := range got.Rows {
			d := docs[i]
			var meta map[string]any
			if err := json.Unmarshal([]byte(r.Metadata), &meta); err != nil {
				t.Fatalf("%s row %d metadata %q: %v", comp, i, r.Metadata, err)
			}
			if r.ID != d.ID || r.Text != d.Text || r.Source != d.Source || r.File != d.Prov.File || r.Record != d.Prov.Record || len(meta) != len(d.Meta) {
				t.Fatalf("%s row %d: got %+v want %+v", comp, i, r, d)
			}
		}
	}
}
