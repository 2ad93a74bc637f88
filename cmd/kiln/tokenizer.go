package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kilnlm/kiln/tokenize"
	"github.com/kilnlm/kiln/tokenize/shard"
)

const tokenizerHelp = `usage: kiln tokenizer encode|decode|train|info [flags]

encode  reads JSONL on stdin (one object per line with a "text" field) and
        writes one JSON array of ids per line, in order. Added tokens in the
        text are recognised as Hugging Face does; template tokens (a BOS...)
        are added only with --special.
decode  reads one JSON array of ids (or an object with "ids") per line and
        writes {"text": ...} per line. Byte sequences that are not UTF-8
        become U+FFFD, as in Hugging Face's decoder.
train   learns a byte-level BPE tokenizer from a curated corpus and writes a
        tokenizer.json that Hugging Face tokenizers loads.
info    prints a tokenizer's vocabulary size, special tokens and hash.

Examples:
  echo '{"text":"Hello world"}' | kiln tokenizer encode --tokenizer smollm2/tokenizer.json
  kiln tokenizer encode --tokenizer tok.json < docs.jsonl | kiln tokenizer decode --tokenizer tok.json
  kiln tokenizer train --vocab-size 32000 --pre-tokenizer llama3 \
      --special '<|endoftext|>,<|im_start|>,<|im_end|>' -o tokenizer.json out/curated
`

func cmdTokenizer(ctx context.Context, args []string) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(os.Stderr, tokenizerHelp)
		return nil
	}
	switch args[0] {
	case "encode":
		return tokEncode(ctx, args[1:], os.Stdin, os.Stdout)
	case "decode":
		return tokDecode(args[1:], os.Stdin, os.Stdout)
	case "train":
		return tokTrain(ctx, args[1:], os.Stderr)
	case "info":
		return tokInfo(args[1:], os.Stdout)
	}
	return fmt.Errorf("unknown subcommand %q (want encode, decode, train or info; kiln tokenizer --help)", args[0])
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "help" }

func loadTokenizerFlag(path string) (*tokenize.Tokenizer, error) {
	if path == "" {
		return nil, errors.New("--tokenizer FILE (a Hugging Face tokenizer.json) is required")
	}
	return tokenize.Load(path)
}

func tokEncode(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tokenizer encode", flag.ContinueOnError)
	tokPath := fs.String("tokenizer", "", "tokenizer.json to use")
	special := fs.Bool("special", false, "add the tokenizer's template tokens (post-processor), as HF add_special_tokens=true")
	field := fs.String("field", "text", "JSON field holding the text")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "encoding goroutines")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	tok, err := loadTokenizerFlag(*tokPath)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(in, 1<<20)
	bw := bufio.NewWriterSize(out, 1<<20)
	defer bw.Flush()
	const batch = 1024
	texts := make([]string, 0, batch)
	line := 0
	var buf []byte
	flush := func() error {
		ids, err := tok.EncodeBatch(ctx, texts, *workers)
		if err != nil {
			return err
		}
		for _, l := range ids {
			buf = buf[:0]
			if *special {
				pre, suf := tok.Template()
				buf = appendIDs(buf, append(append(append([]int32(nil), pre...), l...), suf...))
			} else {
				buf = appendIDs(buf, l)
			}
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
		texts = texts[:0]
		return nil
	}
	for {
		b, rerr := br.ReadBytes('\n')
		if len(strings.TrimSpace(string(b))) > 0 {
			line++
			var rec map[string]json.RawMessage
			if err := json.Unmarshal(b, &rec); err != nil {
				return fmt.Errorf("stdin line %d: %w", line, err)
			}
			var s string
			raw, ok := rec[*field]
			if !ok {
				return fmt.Errorf("stdin line %d: no %q field", line, *field)
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("stdin line %d: field %q: %w", line, *field, err)
			}
			texts = append(texts, s)
			if len(texts) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		} else if len(b) > 0 {
			line++
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("stdin line %d: %w", line+1, rerr)
		}
	}
	return flush()
}

func appendIDs(b []byte, ids []int32) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return append(b, ']')
}

func tokDecode(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("tokenizer decode", flag.ContinueOnError)
	tokPath := fs.String("tokenizer", "", "tokenizer.json to use")
	skip := fs.Bool("skip-special", false, "leave special tokens out of the text")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	tok, err := loadTokenizerFlag(*tokPath)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(in, 1<<20)
	bw := bufio.NewWriterSize(out, 1<<20)
	defer bw.Flush()
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for line := 1; ; line++ {
		b, rerr := br.ReadBytes('\n')
		if t := strings.TrimSpace(string(b)); t != "" {
			var ids []int32
			if strings.HasPrefix(t, "{") {
				var rec struct {
					IDs []int32 `json:"ids"`
				}
				err = json.Unmarshal(b, &rec)
				ids = rec.IDs
			} else {
				err = json.Unmarshal(b, &ids)
			}
			if err != nil {
				return fmt.Errorf("stdin line %d: want a JSON array of ids or {\"ids\": [...]}: %w", line, err)
			}
			text, err := tok.DecodeString(ids, *skip)
			if err != nil {
				return fmt.Errorf("stdin line %d: %w", line, err)
			}
			if err := enc.Encode(map[string]string{"text": text}); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("stdin line %d: %w", line, rerr)
		}
	}
}

func tokTrain(ctx context.Context, args []string, log io.Writer) error {
	fs := flag.NewFlagSet("tokenizer train", flag.ContinueOnError)
	vocab := fs.Int("vocab-size", 32000, "vocabulary size, special tokens and the 256 bytes included")
	special := fs.String("special", "<|endoftext|>", "comma-separated special tokens (ids 0, 1, ...)")
	pre := fs.String("pre-tokenizer", tokenize.PreLlama3, "pre-tokenizer: "+strings.Join(tokenize.PreTokenizers, ", "))
	minFreq := fs.Int64("min-frequency", 2, "stop merging when the best pair occurs fewer times")
	outPath := fs.String("o", "tokenizer.json", "output tokenizer.json")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines for the counting pass")
	inputs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return errors.New("give the corpus: curated run folders, JSONL/Parquet files or .txt files")
	}
	var sp []string
	for _, s := range strings.Split(*special, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sp = append(sp, s)
		}
	}
	start := time.Now()
	res, tr, err := tokenize.TrainFiles(ctx, inputs, tokenize.TrainOptions{VocabSize: *vocab, SpecialTokens: sp, PreTokenizer: *pre, MinFrequency: *minFreq}, *workers)
	if err != nil {
		return err
	}
	if err := res.WriteFile(*outPath); err != nil {
		return err
	}
	docs, nbytes, words := tr.Stats()
	fmt.Fprintf(log, "trained %s: %d tokens (%d merges) from %d documents, %d bytes, %d distinct pre-tokens in %s\n",
		*outPath, len(res.Tokens), len(res.Merges), docs, nbytes, words, time.Since(start).Round(time.Millisecond))
	if len(tr.Skipped) > 0 {
		fmt.Fprintf(log, "skipped input records: %v\n", tr.Skipped)
	}
	if len(res.Tokens) < *vocab {
		fmt.Fprintf(log, "note: stopped at %d tokens: no pair occurs %d times any more\n", len(res.Tokens), *minFreq)
	}
	return nil
}

func tokInfo(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tokenizer info", flag.ContinueOnError)
	tokPath := fs.String("tokenizer", "", "tokenizer.json to describe")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	tok, err := loadTokenizerFlag(*tokPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tokenizer   %s\nhash        %s\nvocab size  %d\nbos / eos   %d / %d\nadded       %s\n",
		*tokPath, tok.Hash(), tok.VocabSize(), tok.BOS(), tok.EOS(), strings.Join(tok.AddedTokens(), " "))
	return nil
}

const tokenizeHelp = `usage: kiln tokenize --tokenizer FILE --input CURATED_DIR -o SHARD_DIR [flags]

Tokenizes every document of a curated dataset (a kiln curate run folder, or
any folder or file of JSONL/Parquet documents with a "text" field) into a
shard set: packed uint16/uint32 token files with a document index, an
optional loss mask and shards.json recording the tokenizer hash, the curated
dataset's version id and counts per source (docs/shard-format.md).

Example:
  kiln tokenize --tokenizer smollm2/tokenizer.json --input out/curated -o out/shards
  kiln shards verify out/shards

Flags:
`

func cmdTokenize(ctx context.Context, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(os.Stderr, tokenizeHelp)
		return nil
	}
	def := tokenize.DefaultOutputConfig()
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, tokenizeHelp); fs.PrintDefaults() }
	tokPath := fs.String("tokenizer", "", "tokenizer.json to use")
	input := fs.String("input", "", "curated dataset folder or file")
	out := fs.String("o", "", "shard set folder to create")
	eos := fs.String("eos", def.EOS, "token after each document: auto, none or a token")
	bos := fs.String("bos", def.BOS, "token before each document: none, auto or a token")
	shardBytes := fs.Int64("shard-bytes", def.ShardBytes, "shard size target in bytes")
	prompt := fs.String("prompt-field", "", "metadata field with an SFT prompt to mask out of the loss")
	source := fs.String("source", "", "source name for every document (default: each document's source field)")
	special := fs.Bool("special", false, "add the tokenizer's template tokens around each document")
	dataset := fs.String("dataset", "", "curated dataset version id (default: read from INPUT/manifest.json)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel tasks")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *input == "" && len(pos) == 1 {
		*input = pos[0]
	}
	if *input == "" || *out == "" {
		fs.Usage()
		return errors.New("--input and -o are required")
	}
	cfg := tokenize.OutputConfig{Tokenizer: *tokPath, EOS: *eos, BOS: *bos, ShardBytes: *shardBytes, Dataset: *dataset, PromptField: *prompt, Special: *special}
	if cfg.Tokenizer == "" {
		return errors.New("--tokenizer FILE is required")
	}
	start := time.Now()
	res, err := tokenize.TokenizeDir(ctx, tokenize.DirOptions{Input: *input, Out: *out, Workers: *workers, Config: cfg, Source: *source})
	if err != nil {
		return err
	}
	m := res.Manifest
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "%s: %d documents, %d tokens in %d shards from %d files (dataset %s) in %s\n",
		*out, m.NumDocs, m.NumTokens, len(m.Shards), res.Files, orNone(m.Dataset), el.Round(time.Millisecond))
	for _, s := range m.SourceNames() {
		fmt.Fprintf(os.Stderr, "  %-12s %10d docs %14d tokens\n", s, m.Sources[s].Docs, m.Sources[s].Tokens)
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(os.Stderr, "skipped input records: %v\n", res.Skipped)
	}
	fmt.Fprintf(os.Stderr, "version %s\n", m.VersionID)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

const shardsHelp = `usage: kiln shards verify|export|info [flags] SHARD_DIR

verify  re-checks every file's sha256, the index files and the manifest.
export  writes the shard set for another trainer:
          --format ds        datatrove/nanotron .ds + .ds.index (+ .ds.loss, .ds.metadata)
          --format megatron  Megatron-LM tokens.bin + tokens.idx
          --format llmc      llm.c .bin files (uint16 only)
info    prints the manifest: counts per source and per shard.

Examples:
  kiln shards verify out/shards
  kiln shards export --format megatron -o out/megatron out/shards
`

func cmdShards(ctx context.Context, args []string) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(os.Stderr, shardsHelp)
		return nil
	}
	switch args[0] {
	case "verify":
		pos, err := parseFlags(flag.NewFlagSet("shards verify", flag.ContinueOnError), args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errors.New("usage: kiln shards verify SHARD_DIR")
		}
		if err := shard.Verify(pos[0]); err != nil {
			return err
		}
		m, err := shard.ReadManifest(pos[0])
		if err != nil {
			return err
		}
		fmt.Printf("%s: OK (%d shards, %d documents, %d tokens, version %s)\n", pos[0], len(m.Shards), m.NumDocs, m.NumTokens, m.VersionID)
		return nil
	case "export":
		fs := flag.NewFlagSet("shards export", flag.ContinueOnError)
		format := fs.String("format", "", "ds, megatron or llmc")
		out := fs.String("o", "", "output folder")
		pos, err := parseFlags(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || *format == "" || *out == "" {
			return errors.New("usage: kiln shards export --format ds|megatron|llmc -o OUT SHARD_DIR")
		}
		s, err := shard.Open(pos[0])
		if err != nil {
			return err
		}
		defer s.Close()
		files, err := shard.Export(s, *format, *out)
		if err != nil {
			return err
		}
		fmt.Printf("%s: wrote %d files (%s)\n", *out, len(files), strings.Join(files, " "))
		return nil
	case "info":
		pos, err := parseFlags(flag.NewFlagSet("shards info", flag.ContinueOnError), args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errors.New("usage: kiln shards info SHARD_DIR")
		}
		m, err := shard.ReadManifest(pos[0])
		if err != nil {
			return err
		}
		fmt.Printf("version    %s\ntokenizer  %s (%s)\ndataset    %s\ntokens     %d (%d-byte ids, vocab %d)\ndocuments  %d\nbos/eos    %t %d / %t %d\nloss mask  %t\n",
			m.VersionID, m.Tokenizer, m.TokenizerHash, orNone(m.Dataset), m.NumTokens, m.TokenBytes, m.VocabSize, m.NumDocs, m.AddBOS, m.BOSID, m.AddEOS, m.EOSID, m.HasLossMask)
		names := m.SourceNames()
		sort.Strings(names)
		for _, n := range names {
			fmt.Printf("source     %-12s %10d docs %14d tokens\n", n, m.Sources[n].Docs, m.Sources[n].Tokens)
		}
		for _, s := range m.Shards {
			fmt.Printf("shard      %-28s %10d docs %14d tokens\n", s.Name, s.Docs, s.Tokens)
		}
		return nil
	}
	return fmt.Errorf("unknown subcommand %q (want verify, export or info; kiln shards --help)", args[0])
}
