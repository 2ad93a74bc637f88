//go:build unix

package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive advisory lock on DIR/.kiln.lock for the
// process's lifetime (the kernel drops it if the process dies, so a kill -9
// never leaves a stale lock behind).
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, ".kiln.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another kiln curate (%v)", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		// The file stays: removing it would let a waiting process lock a
		// deleted inode while a third creates and locks a new one.
		f.Close()
	}, nil
}
