package manifest

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS makes everything written to the filesystem holding dir durable
// (syncfs(2)): the outputs a task moved into place, its spool and its
// global-stage state, in one call, before the marker that declares the
// task done is written.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
