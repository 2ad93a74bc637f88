//go:build unix && !linux

package manifest

import "syscall"

// SyncFS is syncfs(2) on Linux; other Unix systems have only sync(2),
// which flushes every file system: the same guarantee at a wider cost.
func SyncFS(dir string) error {
	syscall.Sync()
	return nil
}
