package filters

import "strings"

// DetectLicense returns the SPDX identifier of a licence header in the
// first 4 KB of a source file, or "". An explicit SPDX-License-Identifier
// wins; otherwise the canonical opening sentences of common licences are
// recognised.
func DetectLicense(s string) string {
	head := s[:min(len(s), 4096)]
	if i := strings.Index(head, "SPDX-License-Identifier:"); i >= 0 {
		rest := strings.TrimSpace(head[i+len("SPDX-License-Identifier:"):])
		if j := strings.IndexAny(rest, "\n\r*"); j >= 0 {
			rest = rest[:j]
		}
		rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "-->"))
		if rest != "" {
			return rest
		}
	}
	lower := strings.ToLower(head)
	// Normalise comment prefixes and line breaks so phrases split over lines match.
	lower = strings.Join(strings.FieldsFunc(lower, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '*' || r == '#' || r == '/'
	}), " ")
	switch {
	case strings.Contains(lower, "apache license") && strings.Contains(lower, "version 2.0"):
		return "Apache-2.0"
	case strings.Contains(lower, "permission is hereby granted, free of charge"):
		return "MIT"
	case strings.Contains(lower, "gnu lesser general public license"):
		return "LGPL"
	case strings.Contains(lower, "gnu affero general public license"):
		return "AGPL-3.0"
	case strings.Contains(lower, "gnu general public license"):
		if strings.Contains(lower, "version 3") {
			return "GPL-3.0"
		}
		if strings.Contains(lower, "version 2") {
			return "GPL-2.0"
		}
		return "GPL"
	case strings.Contains(lower, "mozilla public license"):
		return "MPL-2.0"
	case strings.Contains(lower, "governed by a bsd-style license"):
		return "BSD-3-Clause"
	case strings.Contains(lower, "redistribution and use in source and binary forms"):
		if strings.Contains(lower, "neither the name") {
			return "BSD-3-Clause"
		}
		return "BSD-2-Clause"
	case strings.Contains(lower, "this is free and unencumbered software released into the public domain"):
		return "Unlicense"
	}
	return ""
}
