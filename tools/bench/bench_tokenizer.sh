#!/usr/bin/env bash
# Speed of T5Tokenizer::encode_batch against transformers' T5TokenizerFast (batched, same thread
# count) on the 1,400 articles of the CNN/DailyMail sample: the median encode time of each over
# --repeats runs and the ratios, against the transformers call and against the Rust tokenizer
# under it alone; checks that both give the same ids. Ours is timed inside `t5zero tokenize
# --time` (encode_batch only: no file reading or printing). A tool, not a test.
#
# Usage: tools/bench/bench_tokenizer.sh [--threads N] [--repeats R] [--t5zero PATH]
#                                       [--python PATH] [--shared DIR]
# Needs a built t5zero (default build/tools/t5zero) and a Python with transformers 4.26 and
# tokenizers 0.13.3 (tools/reference/requirements.txt; default python3, or $PYTHON).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
threads=1
repeats=5
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

# The articles as one JSON string per line (t5zero tokenize --format jsonl).
"$python" -c '
import json, sys
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in f:
        out.write(json.dumps(json.loads(line)["article"], ensure_ascii=False) + "\n")
' "$sample" "$work/articles.jsonl"

ours=()
for ((i = 0; i <= repeats; i++)); do
  "$t5zero" tokenize --tokenizer "$tokenizer_dir" --input_file "$work/articles.jsonl" \
    --format jsonl --threads "$threads" --time >"$work/ours.txt" 2>"$work/time.txt"
  seconds="$(sed -n 's/.* ids in \([0-9.]*\) s .*/\1/p' "$work/time.txt")"
  ((i > 0)) && ours+=("$seconds")  # the first run warms the page cache
done

RAYON_NUM_THREADS="$threads" TOKENIZERS_PARALLELISM=true "$python" - "$tokenizer_dir" \
  "$work/articles.jsonl" "$work/ours.txt" "$repeats" "$threads" "${ours[@]}" <<'PY'
import json, statistics, sys, time
import transformers
from transformers import AutoTokenizer

tokenizer_dir, articles_path, ours_path, repeats, threads = sys.argv[1:6]
ours = [float(s) for s in sys.argv[6:]]
transformers.logging.set_verbosity_error()
tok = AutoTokenizer.from_pretrained(tokenizer_dir)
with open(articles_path, encoding="utf-8") as f:
    articles = [json.loads(line) for line in f]
ids = tok(articles).input_ids  # warm-up, and the ids to compare
# transformers' call, and the Rust tokenizer under it alone (no Python lists of ids built).
theirs, rust = [], []
backend = tok.backend_tokenizer
backend.encode_batch(articles)
for _ in range(int(repeats)):
    start = time.perf_counter()
    tok(articles)
    theirs.append(time.perf_counter() - start)
    start = time.perf_counter()
    backend.encode_batch(articles)
    rust.append(time.perf_counter() - start)
with open(ours_path) as f:
    our_ids = [json.loads(line) for line in f]
mb = sum(len(a.encode("utf-8")) for a in articles) / 1e6
t_ours, t_theirs, t_rust = statistics.median(ours), statistics.median(theirs), statistics.median(rust)
print(f"{len(articles)} articles, {mb:.2f} MB, {sum(map(len, ids))} ids, {threads} thread(s), "
      f"median of {repeats}")
print(f"  t5zero encode_batch                {t_ours:8.4f} s  {mb / t_ours:7.2f} MB/s")
print(f"  T5TokenizerFast(articles)          {t_theirs:8.4f} s  {mb / t_theirs:7.2f} MB/s")
print(f"  tokenizers Tokenizer.encode_batch  {t_rust:8.4f} s  {mb / t_rust:7.2f} MB/s")
print(f"  speed ratio (HF time / ours): {t_theirs / t_ours:.2f}x; "
      f"(Rust encode_batch / ours): {t_rust / t_ours:.2f}x")
print(f"  same ids: {'yes' if our_ids == ids else 'NO'}")
PY
