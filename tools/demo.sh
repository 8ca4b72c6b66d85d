#!/usr/bin/env bash
# The main job, end to end, on what t5zero can do so far. Sets itself up first.
#   MODEL=<HF folder>  use a real checkpoint instead of the built-in default (later stages)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
t5zero=${BUILD_DIR:-$root/build}/tools/t5zero
shared=$root/../shared/data

echo "== t5zero commands"
"$t5zero" --help

echo
echo "== matmul micro-benchmark (ours vs BLAS called directly)"
"$t5zero" bench --ops

if "$t5zero" --help | grep -q '^  tokenize'; then
  echo
  echo "== the recipe's prompt template and a CNN/DailyMail highlight, tokenized as FLAN-T5 does"
  "$t5zero" tokenize --tokenizer "$shared/t5-tokenizer" \
    --text $'Summarize the following news article:\n\nSummary:\n'
  "$t5zero" tokenize --tokenizer "$shared/t5-tokenizer" \
    --text "Harry Potter star Daniel Radcliffe gets £20M fortune as he turns 18 Monday."
fi
