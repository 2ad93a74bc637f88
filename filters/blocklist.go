package filters

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseList reads a plain list: one entry a line, surrounding space trimmed,
// entries lowercased, blank lines and lines starting with '#' skipped. name
// labels errors. A NUL byte is rejected (a binary file given by mistake).
func ParseList(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []string
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("%s line %d: NUL byte: not a text list", name, line)
		}
		out = append(out, strings.ToLower(s))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", name, line+1, err)
	}
	return out, nil
}

// loadLists reads and concatenates list files.
func loadLists(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open list: %w", err)
		}
		items, err := ParseList(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}
