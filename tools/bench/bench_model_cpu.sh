#!/usr/bin/env bash
# Forward + loss + backward of a T5 on the CPU: `t5zero bench --model_id ... --optimizer false`
# beside transformers + PyTorch doing the same step (bench_model_cpu.py): same model size, shapes,
# dropout and thread count. The two alternate --repeats times, so load from other processes falls
# on both alike; each run prints the median of its --steps steps. Prints every run, the best and
# the median run of each side, and the ratio PyTorch / t5zero (above 1: t5zero is faster).
# A tool, not a test.
#
# Usage: tools/bench/bench_model_cpu.sh [--model_id NAME] [--batch_size B] [--source_length S]
#          [--target_length T] [--threads N] [--steps N] [--warmup N] [--repeats R]
#          [--dtype f32|bf16] [--gradient_checkpointing] [--openblas_coretype CORE]
#          [--t5zero PATH] [--python PATH]
# --openblas_coretype sets OPENBLAS_CORETYPE for t5zero (e.g. SkylakeX where an OpenBLAS older
# than the CPU would pick its AVX2 kernels; `t5zero bench` says when). Needs a built t5zero
# (default build/tools/t5zero) and a Python with torch and transformers 4.26
# (tools/reference/requirements.txt; default python3, or $PYTHON).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
model_id=flan-t5-small
batch_size=4
source_length=512
target_length=128
threads="$(nproc)"
steps=5
warmup=1
repeats=3
dtype=f32
checkpointing=()
coretype=""
t5zero="$repo/build/tools/t5zero"
python="${PYTHON:-python3}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model_id) model_id="$2"; shift 2 ;;
    --batch_size) batch_size="$2"; shift 2 ;;
    --source_length) source_length="$2"; shift 2 ;;
    --target_length) target_length="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --dtype) dtype="$2"; shift 2 ;;
    --gradient_checkpointing) checkpointing=(--gradient_checkpointing); shift ;;
    --openblas_coretype) coretype="$2"; shift 2 ;;
    --t5zero) t5zero="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$t5zero" ]]; then
  echo "no t5zero binary at $t5zero (build it or pass --t5zero)" >&2
  exit 2
fi

common=(--model_id "$model_id" --batch_size "$batch_size" --source_length "$source_length"
        --target_length "$target_length" --threads "$threads" --steps "$steps"
        --warmup "$warmup" --dtype "$dtype" "${checkpointing[@]}")
# Both sides get the same thread count through every knob they read. t5zero's OpenMP team runs
# its BLAS calls too (single-threaded BLAS in each thread), as torch's runs MKL.
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

median_of() { sed -n 's/^step (forward + loss + backward): median \([0-9.]*\) s.*/\1/p'; }
ours=()
theirs=()
for ((i = 1; i <= repeats; i++)); do
  out="$(env ${coretype:+OPENBLAS_CORETYPE="$coretype"} "$t5zero" bench "${common[@]}" \
    --optimizer false)"
  ((i == 1)) && { echo "== t5zero"; echo "$out"; }
  ours+=("$(median_of <<<"$out")")
  out="$("$python" "$repo/tools/bench/bench_model_cpu.py" "${common[@]}")"
  ((i == 1)) && { echo "== transformers + PyTorch"; echo "$out"; }
  theirs+=("$(median_of <<<"$out")")
done

echo "== per run (median step, s): t5zero ${ours[*]} | PyTorch ${theirs[*]}"
sorted() { printf '%s\n' "$@" | sort -g | tr '\n' ' '; }
awk -v ours="$(sorted "${ours[@]}")" -v theirs="$(sorted "${theirs[@]}")" \
  -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  n = split(ours, a, " "); split(theirs, b, " ")
  mid = int((n + 1) / 2)
  printf "runs: %d each; load average at the end: %s\n", n, load
  printf "best run:   t5zero %.3f s   PyTorch %.3f s   ratio PyTorch/t5zero %.2fx\n",
         a[1], b[1], b[1] / a[1]
  printf "median run: t5zero %.3f s   PyTorch %.3f s   ratio PyTorch/t5zero %.2fx\n",
         a[mid], b[mid], b[mid] / a[mid]
}'
