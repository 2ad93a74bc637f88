// Package dedup removes exact and near-duplicate documents (exact hash,
// MinHash LSH, corpus-level line dedup) as pipeline.GlobalStage steps that
// work in bounded memory on corpora larger than RAM.
//
// Every stage follows the same plan: Observe turns each document into
// fixed-size records (band keys, text hashes, line hashes) that are sorted
// in memory up to the budget and spilled as sorted runs under the stage's
// dir; Build merges the runs as a stream, so equal keys arrive together,
// and decides per compact integer document id; Filter replays the
// decisions in input order. Documents are numbered densely (task, seq) ->
// offsets[task]+seq, which keeps the union-find at 4 bytes per document.
package dedup

import "os"

func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
