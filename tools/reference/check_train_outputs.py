#!/usr/bin/env python3
"""Checks what `t5zero train` wrote in an output folder against the reference tools:

- the final model folder (and every checkpoint-<step> folder) loads in transformers with no
  missing, unexpected or mis-shaped weights, and its tokenizer files load in AutoTokenizer;
- the TensorBoard event files under logs/ load in the tensorboard package (EventAccumulator),
  and every scalar equals the metrics.jsonl value of the same step as float32
  ("train/loss" = loss, "train/learning_rate" = lr, "eval/<name>" = eval_<name>, ...);
- run_summary.json holds the contract's fields.

Usage: python tools/reference/check_train_outputs.py OUTPUT_DIR
(needs `tensorboard` next to requirements.txt's packages, e.g. pip install --target DIR
tensorboard==2.21.0 and PYTHONPATH=DIR). Exit status 0 when all pass.
"""

import glob
import json
import os
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import AutoTokenizer, T5ForConditionalGeneration

TRAIN_TAGS = {"loss": "train/loss", "lr": "train/learning_rate", "grad_norm": "train/grad_norm",
              "epoch": "train/epoch", "tokens_per_s": "train/tokens_per_s",
              "samples_per_s": "train/samples_per_s"}
EVAL_NAMES = ["loss", "rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len"]
SUMMARY_KEYS = ["status", "global_step", "train_runtime_s", "train_samples_per_s",
                "train_tokens_per_s", "peak_memory_bytes", "world_size", "resolved_config"]


def check_model_folder(folder, problems):
    model, info = T5ForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    tied = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    if model.config.tie_word_embeddings:
        tied.add("lm_head.weight")
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        bad = set(map(str, info[kind])) - tied
        if bad:
            problems.append(f"{folder}: {kind} {sorted(bad)}")
    if os.path.exists(os.path.join(folder, "spiece.model")):
        AutoTokenizer.from_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def check_tensorboard(output_dir, problems):
    expected = {}
    with open(os.path.join(output_dir, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            step = record["step"]
            if "loss" in record:
                for key, tag in TRAIN_TAGS.items():
                    expected[(tag, step)] = record[key]
            else:
                for name in EVAL_NAMES:
                    if f"eval_{name}" in record:
                        expected[(f"eval/{name}", step)] = record[f"eval_{name}"]
    found = {}
    files = sorted(glob.glob(os.path.join(output_dir, "logs", "events.out.tfevents.*")))
    if not files:
        problems.append("no event files in logs/")
    for path in files:
        accumulator = EventAccumulator(path, size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            for event in accumulator.Scalars(tag):
                found[(tag, event.step)] = event.value
    for key, value in expected.items():
        if key not in found:
            problems.append(f"TensorBoard lacks {key}")
        elif np.float32(value) != np.float32(found[key]):
            problems.append(f"TensorBoard {key} = {found[key]}, metrics.jsonl {value}")
    extra = set(found) - set(expected)
    if extra:
        problems.append(f"TensorBoard scalars not in metrics.jsonl: {sorted(extra)[:5]}")
    return len(found)


def main():
    output_dir = sys.argv[1]
    problems = []
    folders = [output_dir] + sorted(glob.glob(os.path.join(output_dir, "checkpoint-*")))
    for folder in folders:
        if os.path.exists(os.path.join(folder, "config.json")):
            print(f"{folder}: loads in transformers, {check_model_folder(folder, problems)} "
                  "parameters")
    print(f"TensorBoard: {check_tensorboard(output_dir, problems)} scalars read")
    with open(os.path.join(output_dir, "run_summary.json")) as f:
        summary = json.load(f)
    for key in SUMMARY_KEYS:
        if key not in summary:
            problems.append(f"run_summary.json lacks {key}")
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
