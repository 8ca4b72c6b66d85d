#!/usr/bin/env bash
# ZeRO-3 on the CPU: the same optimizer steps trained by one process (gradient accumulation over
# W micro-batches, all cores) and by W ranks under mpirun (one micro-batch each, cores split),
# on the shared CNN/DailyMail sample. Prints, from each run's run_summary.json, the step time,
# tokens/s, and what one rank held (parameters, fp32 gradients, optimizer state) and sent, then
# the ratios. The baseline runs in the same script, first. A tool, not a test.
#
# Usage: tools/bench/bench_zero_cpu.sh [--model_id NAME] [--ranks W] [--micro_batch B]
#          [--source_length S] [--steps N] [--bf16 true|false] [--t5zero PATH]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
model_id=flan-t5-small
ranks=2
micro=2
source_length=256
steps=6
bf16=false
t5zero="$repo/build/tools/t5zero"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model_id) model_id="$2"; shift 2 ;;
    --ranks) ranks="$2"; shift 2 ;;
    --micro_batch) micro="$2"; shift 2 ;;
    --source_length) source_length="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --bf16) bf16="$2"; shift 2 ;;
    --t5zero) t5zero="$2"; shift 2 ;;
    *) echo "bench_zero_cpu.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -x "$t5zero" ]] || { echo "bench_zero_cpu.sh: no t5zero at $t5zero (build it first)" >&2; exit 1; }

work=$(mktemp -d /tmp/t5zero_bench_zero.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(nproc)
config="$repo/configs/ds_flan_t5_z3_config.json"
[[ "$bf16" == true ]] && config="$repo/configs/ds_flan_t5_z3_config_bf16.json"

"$t5zero" prepare --dataset_path "$repo/../shared/data/cnn_dm_sample/cnn_dm_sample.jsonl" \
  --tokenizer "$repo/../shared/data/t5-tokenizer" --eval_split validation \
  --max_source_length "$source_length" --output_dir "$work/data" >/dev/null

common=(train --model_id "$model_id" --dataset_path "$work/data" --deepspeed "$config"
        --bf16 "$bf16" --per_device_train_batch_size "$micro" --max_steps "$steps" --lr 1e-4
        --eval_strategy no --save_strategy no --load_best_model_at_end false
        --gradient_checkpointing false --logging_steps "$steps" --device cpu)

echo "== baseline: 1 process, $cores threads, $ranks micro-batches of $micro accumulated per step"
OMP_NUM_THREADS=$cores "$t5zero" "${common[@]}" --gradient_accumulation_steps "$ranks" \
  --output_dir "$work/one" | grep -E "^step|^model"
echo "== ZeRO-3: mpirun -np $ranks, $(( cores / ranks > 0 ? cores / ranks : 1 )) threads per rank"
OMP_NUM_THREADS=$(( cores / ranks > 0 ? cores / ranks : 1 )) \
  mpirun -np "$ranks" --oversubscribe --bind-to none \
  "$t5zero" "${common[@]}" --gradient_accumulation_steps 1 --output_dir "$work/zero" |
  grep -E "^step|^ZeRO"

python3 - "$work/one/run_summary.json" "$work/zero/run_summary.json" <<'EOF'
import json, sys
one, zero = (json.load(open(p)) for p in sys.argv[1:3])
def row(name, a, b, unit=""):
    ratio = f"{b / a:.3f}" if a else "n/a"
    print(f"{name:34s} {a:>16,.0f} {b:>16,.0f} {unit:6s} zero/one {ratio}")
print(f"{'':34s} {'one process':>16s} {'ZeRO-3 rank 0':>16s}")
step = lambda s: s["train_runtime_s"] / s["train_steps"]
print(f"{'seconds per optimizer step':34s} {step(one):>16.3f} {step(zero):>16.3f}        "
      f"zero/one {step(zero) / step(one):.3f}")
row("tokens/s", one["train_tokens_per_s"], zero["train_tokens_per_s"])
m1, m2 = one["peak_memory_bytes"], zero["peak_memory_bytes"]
row("parameter bytes (shard + gathered)", m1["parameters"], m2["parameters"], "B")
row("gradient bytes", m1["gradients"], m2["gradients"], "B")
row("optimizer state bytes", m1["optimizer_state"], m2["optimizer_state"], "B")
row("process peak RSS", m1["process_peak_rss"], m2["process_peak_rss"], "B")
z = zero["zero"]
print(f"ZeRO rank 0: shard {z['shard_bytes']:,} B of {z['full_parameter_bytes']:,} B, "
      f"largest gathered {z['peak_gathered_bytes']:,} B")
c = z["communication"]
steps = zero["train_steps"]
print(f"sent per step: all-gather {c['all_gather_bytes'] / steps:,.0f} B in "
      f"{c['all_gather_calls'] / steps:.0f} calls, reduce-scatter "
      f"{c['reduce_scatter_bytes'] / steps:,.0f} B in {c['reduce_scatter_calls'] / steps:.0f} calls "
      f"(the final model save included)")
EOF
