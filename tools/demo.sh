#!/usr/bin/env bash
# The main job, end to end on the CPU: prepare the shared CNN/DailyMail sample as the recipe
# does, fine-tune a small T5 on it for a few minutes, evaluate with ROUGE each epoch, then print
# three article -> summary examples and the run summary. Sets itself up first.
#   MODEL=<HF folder>  fine-tune this checkpoint (e.g. a local google/flan-t5-small) instead of
#                      the built-in t5-tiny from random init
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
mkdir -p "$work"

echo "== t5zero commands"
"$t5zero" --help

echo
echo "== prepare: the CNN/DailyMail sample (400 train, 1000 validation rows), tokenized as the"
echo "   recipe's preprocessing does; the validation rows are the eval split"
"$t5zero" prepare --dataset_path "$shared/cnn_dm_sample/cnn_dm_sample.jsonl" \
  --tokenizer "$shared/t5-tokenizer" --eval_split validation \
  --max_source_length "$max_source_length" --output_dir "$work/data" --overwrite

echo
echo "== train: $model, $epochs epochs at lr $lr on the CPU; eval loss and ROUGE each epoch"
echo "   on the first $eval_samples validation rows (beam search); checkpoints, logs and the"
echo "   model in $work/run"
rm -rf "$work/run"
"$t5zero" train --model_id "$model" --dataset_path "$work/data" --output_dir "$work/run" \
  --epochs "$epochs" --lr "$lr" --warmup_steps 10 --per_device_train_batch_size 8 \
  --per_device_eval_batch_size 8 --max_eval_samples "$eval_samples" \
  --generation_max_length 64 --generation_num_beams 2 --gradient_checkpointing false \
  --logging_steps 10 --print_examples 3

echo
echo "== ROUGE of the last evaluation, recomputed by t5zero rouge from the texts it wrote"
"$t5zero" rouge --predictions "$work/run/eval_predictions.jsonl" \
  --references "$work/run/eval_references.jsonl"

echo
echo "== run summary ($work/run/run_summary.json)"
cat "$work/run/run_summary.json"
