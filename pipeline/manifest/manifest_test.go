package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionIDAndVerify(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "docs"), 0o755)
	os.WriteFile(filepath.Join(dir, "docs", "a"), []byte("hello"), 0o644)
	size, sum, err := HashFile(filepath.Join(dir, "docs", "a"))
	if err != nil || size != 5 || sum != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("hash %d %s %v", size, sum, err)
	}
	m := &Manifest{Kind: Kind, FormatVersion: FormatVersion, KilnVersion: "v1",
		Recipe:  RecipeRef{File: "recipe.yaml", SHA256: "ab"},
		Inputs:  []InputFile{{Input: "x", Path: "/somewhere/f", Size: 3, SHA256: "cd"}},
		Outputs: []OutputFile{{Path: "docs/a", Size: size, SHA256: sum}}}
	m.VersionID = m.IdentityOf().VersionID()
	// The id ignores paths: the same data elsewhere is the same dataset.
	m2 := *m
	m2.Inputs = []InputFile{{Input: "x", Path: "/elsewhere/f", Size: 3, SHA256: "cd"}}
	if m2.IdentityOf().VersionID() != m.VersionID {
		t.Fatal("version id depends on the input path")
	}
	m2.Inputs = []InputFile{{Input: "x", Path: "/somewhere/f", Size: 3, SHA256: "ce"}}
	if m2.IdentityOf().VersionID() == m.VersionID {
		t.Fatal("version id ignores input content")
	}
	if !strings.HasPrefix(m.VersionID, "sha256:") || len(ShortID(m.VersionID)) != 12 {
		t.Fatalf("id %q", m.VersionID)
	}
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "docs", "a"), []byte("hellO"), 0o644)
	if err := got.Verify(dir); err == nil || !strings.Contains(err.Error(), "docs/a") {
		t.Fatalf("corruption not found: %v", err)
	}
	got.KilnVersion = "v2"
	if err := got.Verify(dir); err == nil || !strings.Contains(err.Error(), "identity") {
		t.Fatalf("tampered identity not found: %v", err)
	}
}

func TestHashDir(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		os.MkdirAll(filepath.Join(d, "sub"), 0o755)
		os.WriteFile(filepath.Join(d, "sub", "x.go"), []byte("package x"), 0o644)
		os.WriteFile(filepath.Join(d, "y.txt"), []byte("y"), 0o644)
	}
	sa, ha, err := HashDir(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, hb, _ := HashDir(b)
	if sa != sb || ha != hb || sa != 10 {
		t.Fatalf("%d %s vs %d %s", sa, ha, sb, hb)
	}
	os.Rename(filepath.Join(b, "y.txt"), filepath.Join(b, "z.txt"))
	if _, hb, _ = HashDir(b); hb == ha {
		t.Fatal("a renamed file does not change the folder hash")
	}
}

func TestReadRejectsOtherKinds(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte(`{"kind":"kiln.shards"}`), 0o644)
	if _, err := Read(dir); err == nil {
		t.Fatal("read a manifest of another kind")
	}
}

func TestRunVersionID(t *testing.T) {
	dir := t.TempDir()
	if _, err := RunVersionID(dir); err == nil {
		t.Fatal("no run, no id")
	}
	os.MkdirAll(filepath.Join(dir, WorkDir), 0o755)
	os.WriteFile(filepath.Join(dir, WorkDir, IdentityFile), []byte("sha256:ab\n"), 0o644)
	if id, err := RunVersionID(dir); err != nil || id != "sha256:ab" {
		t.Fatalf("running: %q %v", id, err)
	}
	m := &Manifest{Kind: Kind, VersionID: "sha256:cd"}
	m.Write(dir)
	if id, err := RunVersionID(dir); err != nil || id != "sha256:cd" {
		t.Fatalf("finished: %q %v", id, err)
	}
}

func TestWriteFileAtomicAndSync(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, data := range []string{"first\n", "second, longer\n", ""} {
		if err := WriteFileAtomic(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != data {
			t.Fatalf("read back %q, %v; want %q", b, err, data)
		}
		if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
			t.Fatalf("temporary file left behind: %v", err)
		}
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
	if err := SyncFS(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing folder succeeded")
	}
}
