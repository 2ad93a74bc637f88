package dedup

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// genCorpus writes about size bytes of JSONL documents made of words from a
// synthetic Zipf-distributed vocabulary; a fraction dupFrac of them are
// near-copies (2% of words replaced, 5-gram Jaccard about 0.8) of an earlier
// document. It returns the number of documents and of planted copies.
func genCorpus(w io.Writer, size int64, dupFrac float64, seed uint64) (docs, copies int, err error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	const nVocab = 50000
	vocab := make([]string, nVocab)
	for i := range vocab {
		n := 2 + rng.IntN(8)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = string(b)
	}
	zipf := rand.NewZipf(rng, 1.1, 2, nVocab-1)
	bw := bufio.NewWriterSize(w, 1<<16)
	// A ring of recent originals to copy from keeps memory bounded.
	var recent []string
	var written int64
	var sb strings.Builder
	for written < size {
		var text string
		if len(recent) > 0 && rng.Float64() < dupFrac {
			words := strings.Fields(recent[rng.IntN(len(recent))])
			for i := range words {
				if rng.Float64() < 0.02 {
					words[i] = vocab[zipf.Uint64()]
				}
			}
			text = strings.Join(words, " ")
			copies++
		} else {
			sb.Reset()
			n := 300 + rng.IntN(700)
			for i := 0; i < n; i++ {
				if i > 0 {
					if i%80 == 0 {
						sb.WriteString(".\n")
					} else {
						sb.WriteByte(' ')
					}
				}
				sb.WriteString(vocab[zipf.Uint64()])
			}
			text = sb.String()
			if len(recent) < 1000 {
				recent = append(recent, text)
			} else {
				recent[rng.IntN(len(recent))] = text
			}
		}
		b, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("g%08d", docs), "text": text})
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return docs, copies, err
		}
		written += int64(len(b))
		docs++
	}
	return docs, copies, bw.Flush()
}
