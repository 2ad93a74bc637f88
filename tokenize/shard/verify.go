package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Verify re-checks a shard set: the manifest's consistency, every file's
// sha256, every index header and offset table, and file sizes. It returns
// the first problem found, naming the shard and file.
func Verify(dir string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, info := range s.man.Shards {
		base := filepath.Join(dir, filepath.FromSlash(info.Name))
		check := func(suffix, want string) error {
			got, err := fileSHA256(base + suffix)
			if err != nil {
				return fmt.Errorf("verify shard %s: %w", info.Name, err)
			}
			if got != want {
				return fmt.Errorf("verify shard %s: %s sha256 %s, manifest says %s", info.Name, info.Name+suffix, got, want)
			}
			return nil
		}
		if err := check(DataSuffix, info.DataSHA256); err != nil {
			return err
		}
		if err := check(IndexSuffix, info.IndexSHA256); err != nil {
			return err
		}
		if s.man.HasLossMask {
			if err := check(MaskSuffix, info.MaskSHA256); err != nil {
				return err
			}
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
