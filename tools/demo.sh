#!/usr/bin/env bash
# The main job, end to end on the CPU: prepare the shared CNN/DailyMail sample as the recipe
# does, fine-tune a small T5 on it with ZeRO-3 over 2 ranks under mpirun (the recipe's DeepSpeed
# config), evaluate with ROUGE each epoch, then print three article -> summary examples and the
# run summary with its memory and communication report. Sets itself up first.
#   MODEL=<HF folder>  fine-tune this checkpoint (e.g. a local google/flan-t5-small) instead of
#                      the built-in t5-tiny from random init
#   RANKS=<n>          processes (ZeRO-3 ranks) under mpirun; default 2
#   EPOCHS, LR, MAX_SOURCE_LENGTH, EVAL_SAMPLES, WORK_DIR  override the defaults below
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
t5zero=${BUILD_DIR:-$root/build}/tools/t5zero
shared=$root/../shared/data

work=${WORK_DIR:-${BUILD_DIR:-$root/build}/demo}
model=${MODEL:-t5-tiny}
# A random init needs a high learning rate to get anywhere in minutes; a pretrained model wants
# the recipe's small one.
if [[ -n "${MODEL:-}" ]]; then lr=${LR:-1e-4}; else lr=${LR:-1e-2}; fi
epochs=${EPOCHS:-4}
max_source_length=${MAX_SOURCE_LENGTH:-256}  # the recipe's is 500; shorter keeps the demo quick
eval_samples=${EVAL_SAMPLES:-32}
ranks=${RANKS:-2}
mkdir -p "$work"
# mpirun refuses root unless told; each rank gets its share of the cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(nproc)
export OMP_NUM_THREADS=$(( cores / ranks > 0 ? cores / ranks : 1 ))

echo "== t5zero commands"
"$t5zero" --help

echo
echo "== prepare: the CNN/DailyMail sample (400 train, 1000 validation rows), tokenized as the"
echo "   recipe's preprocessing does; the validation rows are the eval split"
"$t5zero" prepare --dataset_path "$shared/cnn_dm_sample/cnn_dm_sample.jsonl" \
  --tokenizer "$shared/t5-tokenizer" --eval_split validation \
  --max_source_length "$max_source_length" --output_dir "$work/data" --overwrite

echo
echo "== train: $model, $epochs epochs at lr $lr, ZeRO-3 over $ranks CPU ranks (mpirun -np $ranks,"
echo "   configs/ds_flan_t5_z3_config.json); eval loss and ROUGE each epoch on the first"
echo "   $eval_samples validation rows (beam search); checkpoints, logs and the model in $work/run"
rm -rf "$work/run"
mpirun -np "$ranks" --oversubscribe --bind-to none \
  "$t5zero" train --model_id "$model" --dataset_path "$work/data" --output_dir "$work/run" \
  --deepspeed "$root/configs/ds_flan_t5_z3_config.json" \
  --epochs "$epochs" --lr "$lr" --warmup_steps 10 --per_device_train_batch_size $(( 8 / ranks > 0 ? 8 / ranks : 1 )) \
  --per_device_eval_batch_size 8 --max_eval_samples "$eval_samples" \
  --generation_max_length 64 --generation_num_beams 2 --gradient_checkpointing false \
  --logging_steps 10 --print_examples 3 --zero_trace "$work/run/zero_trace.jsonl"

echo
echo "== ZeRO-3 at work: rank 0's first events of step 1 ($work/run/zero_trace.jsonl, docs/zero3.md)"
head -n 6 "$work/run/zero_trace.jsonl"
for event in gather release reduce_scatter refresh; do
  printf '  %-15s %s events in step 1\n' "$event" "$(grep -c "\"event\": \"$event\"" "$work/run/zero_trace.jsonl")"
done

echo
echo "== ROUGE of the last evaluation, recomputed by t5zero rouge from the texts it wrote"
"$t5zero" rouge --predictions "$work/run/eval_predictions.jsonl" \
  --references "$work/run/eval_references.jsonl"

echo
last_checkpoint=$(ls -d "$work"/run/checkpoint-* | sort -t- -k2 -n | tail -n 1)
echo "== consolidate: $last_checkpoint (one optimizer shard per rank) -> a Hugging Face folder"
rm -rf "$work/consolidated"
"$t5zero" consolidate --checkpoint "$last_checkpoint" --output_dir "$work/consolidated"

echo
echo "== run summary ($work/run/run_summary.json): \"zero\" is rank 0's share of the parameters"
echo "   and the bytes it sent in each collective; \"peak_memory_bytes\" what it held"
cat "$work/run/run_summary.json"
