package lineage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/lineage/chaintest"
	"github.com/kilnlm/kiln/tokenize/shard"
)

// TestChainVerify builds a real chain (curate -> tokenize -> mix -> train),
// checks that lineage reaches every link and verify passes, then corrupts
// one byte at each level and checks that verify fails naming that file.
func TestChainVerify(t *testing.T) {
	top := t.TempDir()
	c := chaintest.Build(t, top)
	ctx := context.Background()
	ch, err := Resolve(ctx, c.Train, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Unresolved) != 0 {
		t.Fatalf("unresolved links: %v", ch.Unresolved)
	}
	if ch.Checkpoint.Step != chaintest.Steps {
		t.Errorf("resolved step %d, want the latest (%d)", ch.Checkpoint.Step, chaintest.Steps)
	}
	if len(ch.ShardSets) != 2 || len(ch.Datasets) != 2 {
		t.Fatalf("%d shard sets, %d datasets; want 2 and 2", len(ch.ShardSets), len(ch.Datasets))
	}
	for _, s := range ch.ShardSets {
		if s.Dir != c.Shards[s.Source] {
			t.Errorf("source %s: shard dir %s, want %s", s.Source, s.Dir, c.Shards[s.Source])
		}
	}
	var out bytes.Buffer
	if err := ch.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"checkpoint ", "params.bin", "mixture ", "stage first", "stage second", "shards web", "shards code",
		"dataset ", c.Raw["web"], c.Raw["code"], "recipe recipe.yaml sha256", "segment 1 chaintest/second"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lineage output lacks %q:\n%s", want, out.String())
		}
	}
	res, err := ch.Verify(ctx, VerifyOptions{Strict: true})
	if err != nil {
		t.Fatalf("verify of an intact chain: %v", err)
	}
	// 3 checkpoint files + mixture + 2 shard sets + 2 datasets + 2 recipes + 2 raw inputs.
	if len(res.Checked) != 12 {
		t.Errorf("checked %d links, want 12: %v", len(res.Checked), res.Checked)
	}

	man, err := shard.ReadManifest(c.Shards["code"])
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := filepath.Glob(filepath.Join(c.Curated["web"], "docs", "*"))
	if len(docs) == 0 {
		t.Fatal("no curated docs")
	}
	cases := []struct {
		name, file, want string
	}{
		{"checkpoint params", filepath.Join(c.Checkpoint, "params.bin"), "params.bin"},
		{"shard tokens", filepath.Join(c.Shards["code"], filepath.FromSlash(man.Shards[0].Name)+shard.DataSuffix), man.Shards[0].Name + shard.DataSuffix},
		{"curated doc", docs[0], filepath.Base(docs[0])},
		{"recipe", filepath.Join(c.Curated["code"], "recipe.yaml"), "recipe.yaml"},
		{"raw input", c.Raw["web"], c.Raw["web"]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			mod := append([]byte(nil), orig...)
			mod[len(mod)/2] ^= 0x01
			if err := os.WriteFile(tc.file, mod, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(tc.file, orig, 0o644)
			ch, err := Resolve(ctx, c.Checkpoint, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ch.Verify(ctx, VerifyOptions{})
			if err == nil {
				t.Fatalf("verify passed with one byte of %s flipped", tc.file)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %s: %v", tc.want, err)
			}
		})
	}
	// Intact again after the restores.
	if _, err := ch.Verify(ctx, VerifyOptions{Strict: true}); err != nil {
		t.Fatalf("verify after restoring: %v", err)
	}
}

// TestMovedChain checks that links are found by version id when the
// recorded paths no longer resolve (the whole tree moved), and that a
// missing raw input is reported as unreachable, not as a failure.
func TestMovedChain(t *testing.T) {
	base := t.TempDir()
	c := chaintest.Build(t, filepath.Join(base, "a"))
	moved := filepath.Join(base, "b")
	if err := os.Rename(c.Top, moved); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch, err := Resolve(ctx, filepath.Join(moved, "train"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Unresolved) != 0 {
		t.Fatalf("unresolved after a move: %v", ch.Unresolved)
	}
	res, err := ch.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unreachable) != 2 {
		t.Errorf("unreachable %v, want the 2 raw inputs (their recorded paths moved)", res.Unreachable)
	}
	if _, err := ch.Verify(ctx, VerifyOptions{Strict: true}); err == nil {
		t.Error("strict verify passed with raw inputs missing")
	}
}

func TestNotACheckpoint(t *testing.T) {
	if _, err := Resolve(context.Background(), t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "neither a checkpoint") {
		t.Fatalf("err = %v", err)
	}
}
