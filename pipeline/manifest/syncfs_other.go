//go:build !unix

package manifest

// SyncFS is syncfs(2) on Linux and sync(2) on other Unix systems. Here
// there is no whole-filesystem flush: outputs rely on the writers' own
// file syncs and WriteFileAtomic's, so a power loss may lose a task's
// spool or global-stage state (a kill is still safe).
func SyncFS(dir string) error { return nil }
