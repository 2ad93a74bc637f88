#!/usr/bin/env bash
# gpu-train-check.sh: the CLI path on a GPU in one short run. Trains a tiny
# model on demo shards with `kiln train --device cuda`, times the
# SmolLM2-135M and GPT-2-124M shapes with `kiln bench train --device cuda`,
# and packs the GPU run directory so the checkpoint can be resumed on CPU
# elsewhere (cross-device checkpoints).
#
#   scripts/gpu-train-check.sh BIN_DIR DEMO_DIR
#
# BIN_DIR holds a kiln binary built with cgo; DEMO_DIR holds shards/,
# mixtures/ and tokenizer.json from `kiln demo --size small`. Output goes to
# $OUT (default /tmp/kiln-gpu-train).
set -u
BIN=${1:-gpubin}
DEMO=${2:-gpubin/demo}
OUT=${OUT:-/tmp/kiln-gpu-train}
mkdir -p "$OUT"
libdirs=$(find /usr/local/cuda*/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
  \( -name 'libnvrtc.so*' -o -name 'libcublasLt.so*' \) -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:-}"
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/kiln-cache}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$OUT/card.txt"
demo=$(cd "$DEMO" && pwd)

echo "== kiln train --device cuda (tiny, demo shards)"
timeout 60 "$BIN/kiln" train "$demo/mixtures/demo.yaml" --var "shards=$demo/shards" --device cuda \
  --model tiny --steps 12 --checkpoint-every 6 --micro-rows 8 --held-out 16 \
  --tokenizer "$demo/tokenizer.json" -o "$OUT/run" 2>&1 | tee "$OUT/train.txt" | grep -vE '^  sample'
train_rc=${PIPESTATUS[0]}
tar -C "$OUT" -czf "$OUT/run.tgz" run && rm -rf "$OUT/run"

echo "== kiln bench train --device cuda"
for shape in "smollm2-135m 8 2048" "gpt2-124m 16 1024"; do
  set -- $shape
  timeout 30 "$BIN/kiln" bench train --device cuda --model "$1" --batch "$2" --seq "$3" --steps 3 2>&1 | tee -a "$OUT/bench.txt"
done
echo "train rc=$train_rc"
exit "$train_rc"
