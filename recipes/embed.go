// Package recipes embeds Kiln's shipped recipes and mixtures, so `kiln demo`
// runs on a fresh clone with nothing but the binary.
package recipes

import "embed"

// FS holds curate/*.yaml, mixtures/*.yaml and demo/*.yaml.
//
//go:embed curate/*.yaml mixtures/*.yaml demo/*.yaml
var FS embed.FS
