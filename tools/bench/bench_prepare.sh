#!/usr/bin/env bash
# Rows per second of `t5zero prepare` on the 1,400-row CNN/DailyMail sample, beside the same
# tokenization by transformers' fast tokenizer (batched) and by python sentencepiece at the same
# thread count (bench_prepare.py), with the ratios. t5zero's figure is the whole command (read,
# tokenize, write, fsync); the Python figures are tokenization alone. Best of --repeats runs,
# each side warmed up first. A tool, not a test.
#
# Usage: tools/bench/bench_prepare.sh [--threads N] [--repeats R] [--t5zero PATH]
#                                     [--python PATH] [--shared DIR]
# Needs a built t5zero (default build/tools/t5zero) and a Python with transformers 4.26,
# tokenizers 0.13.3 and sentencepiece (tools/reference/requirements.txt; default
# python3, or $PYTHON).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
threads="$(nproc)"
repeats=3
t5zero="$repo/build/tools/t5zero"
python="${PYTHON:-python3}"
shared="$repo/../shared"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --t5zero) t5zero="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --shared) shared="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -x "$t5zero" ]] || { echo "no t5zero binary at $t5zero (build it or pass --t5zero)" >&2; exit 2; }
tokenizer_dir="$shared/data/t5-tokenizer"
sample="$shared/data/cnn_dm_sample/cnn_dm_sample.jsonl"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# t5zero: whole-command wall time, best of the runs after a warm-up one.
best_whole=""
best_tokenize=""
for ((i = 0; i <= repeats; i++)); do
  start=$(date +%s.%N)
  "$t5zero" prepare --dataset_path "$sample" --tokenizer "$tokenizer_dir" \
    --output_dir "$work/data" --eval_split validation --num_threads "$threads" --overwrite \
    >"$work/prepare.txt"
  end=$(date +%s.%N)
  ((i == 0)) && continue
  whole=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')
  tokenize=$(sed -n 's/^Tokenized [0-9]* rows in \([0-9.]*\) s.*/\1/p' "$work/prepare.txt")
  if [[ -z "$best_whole" ]] || awk -v a="$whole" -v b="$best_whole" 'BEGIN { exit !(a < b) }'; then
    best_whole="$whole"
  fi
  if [[ -z "$best_tokenize" ]] || awk -v a="$tokenize" -v b="$best_tokenize" 'BEGIN { exit !(a < b) }'; then
    best_tokenize="$tokenize"
  fi
done
rows=$(sed -n 's/^Tokenized \([0-9]*\) rows.*/\1/p' "$work/prepare.txt")

python_out="$(RAYON_NUM_THREADS="$threads" RAYON_RS_NUM_CPUS="$threads" TOKENIZERS_PARALLELISM=true \
  "$python" "$repo/tools/bench/bench_prepare.py" --jsonl "$sample" --tokenizer "$tokenizer_dir" \
  --threads "$threads" --repeats "$repeats")"
hf=$(awk '$1 == "hf_fast" { print $2 }' <<<"$python_out")
sp=$(awk '$1 == "sentencepiece" { print $2 }' <<<"$python_out")

awk -v rows="$rows" -v threads="$threads" -v repeats="$repeats" -v whole="$best_whole" \
  -v tok="$best_tokenize" -v hf="$hf" -v sp="$sp" 'BEGIN {
  printf "%d rows (CNN/DailyMail sample), %d thread(s), best of %d\n", rows, threads, repeats
  printf "  t5zero prepare, whole command           %9.0f rows/s  (%.3f s)\n", rows / whole, whole
  printf "  t5zero prepare, tokenization            %9.0f rows/s  (%.3f s)\n", rows / tok, tok
  printf "  HF T5TokenizerFast, batched (recipe)    %9.0f rows/s  (%.3f s)\n", rows / hf, hf
  printf "  python sentencepiece (same encodes)     %9.0f rows/s  (%.3f s)\n", rows / sp, sp
  printf "  ratio t5zero whole command / HF fast:      %.2fx\n", hf / whole
  printf "  ratio t5zero whole command / sentencepiece: %.2fx\n", sp / whole
}'
