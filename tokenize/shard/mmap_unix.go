//go:build unix

package shard

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile memory-maps path read-only. Empty files map to an empty slice.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	n := st.Size()
	if n == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(n)) != n {
		return nil, nil, fmt.Errorf("%s: too large to map (%d bytes)", path, n)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
