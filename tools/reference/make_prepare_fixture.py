#!/usr/bin/env python3
"""Writes tests/fixtures/prepare/expected.txt: what the reference recipe's preprocessing computes on
the CNN/DailyMail sample, with transformers' tokenizer (see requirements.txt).

The recipe is philschmid/deep-learning-pytorch-huggingface
training/preprocessing/create_flan_t5_cnn_dataset.py (and the notebook's copy): it prints the
prompt length, the max input length (model_max_length - prompt length), the max source length
(min(longest tokenized article over train+test, max input length)) and the max target length
(int(np.percentile(tokenized highlight lengths over train+test, 95)), both tokenized with
truncation=True), then tokenizes each row with padding="max_length": the templated article
truncated and padded to tokenizer.model_max_length, the highlights truncated and padded to the max
target length with the label pads replaced by -100. The `datasets` library only concatenates and
maps here, so plain lists do the same.

Three configurations of the same rows:
  jsonl    cnn_dm_sample.jsonl, train = rows whose split is "train" (400), eval = "validation" (1000)
  csv      train = cnn_dailymail_subset.csv (300 rows), eval = cnn_dailymail_validation_subset.csv
           (1000 rows); these are JSONL lines 1-300 and 401-1400 (checked below)
  swapped  the jsonl rows with the columns' roles swapped (text = highlights, summary = article), so
           the longest source is below the max input length; its ids are checked through one hash
           over all rows (inputs, then labels, each row's ids in order, unpadded)

Per JSONL row the fixture holds lengths and FNV-1a-64 hashes (over the ids as little-endian int32)
of the unpadded input ids and label ids, and of the recipe's padded ones (jsonl configuration).

Usage: python tools/reference/make_prepare_fixture.py [--shared ../shared] [--out tests/fixtures/prepare]
"""

import argparse
import csv
import json
import os
import struct
import sys

import numpy as np
from transformers import AutoTokenizer

PROMPT_TEMPLATE = "Summarize the following news article:\n{input}\nSummary:\n"


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for byte in struct.pack("<%di" % len(ids), *ids):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def recipe_numbers(tokenizer, train, evaluation):
    """The recipe's printed numbers for train + eval rows of (article, highlights)."""
    rows = train + evaluation  # concatenate_datasets([train, test])
    prompt_length = len(tokenizer(PROMPT_TEMPLATE.format(input=""))["input_ids"])
    max_sample_length = tokenizer.model_max_length - prompt_length
    sources = tokenizer([a for a, _ in rows], truncation=True)["input_ids"]
    max_source_length = min(max(len(x) for x in sources), max_sample_length)
    targets = tokenizer([h for _, h in rows], truncation=True)["input_ids"]
    target_lengths = [len(x) for x in targets]
    max_target_length = int(np.percentile(target_lengths, 95))
    return {
        "train_size": len(train),
        "eval_size": len(evaluation),
        "prompt_length": prompt_length,
        "max_input_length": max_sample_length,
        "max_source_length": max_source_length,
        "max_target_length": max_target_length,
    }


def preprocess(tokenizer, rows, max_target_length, padding):
    """The recipe's preprocess_function on (article, highlights) rows."""
    inputs = [PROMPT_TEMPLATE.format(input=a) for a, _ in rows]
    model_inputs = tokenizer(inputs, max_length=tokenizer.model_max_length, padding=padding,
                             truncation=True)
    labels = tokenizer(text_target=[h for _, h in rows], max_length=max_target_length,
                       padding=padding, truncation=True)
    label_ids = labels["input_ids"]
    if padding == "max_length":
        label_ids = [[(l if l != tokenizer.pad_token_id else -100) for l in label]
                     for label in label_ids]
    return model_inputs["input_ids"], label_ids


def read_csv(path):
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["article"], r["highlights"]) for r in csv.DictReader(f)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "..", "shared"))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "fixtures", "prepare"))
    args = parser.parse_args()
    sample = os.path.join(args.shared, "data", "cnn_dm_sample")
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(args.shared, "data", "t5-tokenizer"))
    assert type(tokenizer).__name__ == "T5TokenizerFast", type(tokenizer).__name__

    with open(os.path.join(sample, "cnn_dm_sample.jsonl"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    splits = [r["split"] for r in records]
    rows = [(r["article"], r["highlights"]) for r in records]
    train = [row for row, s in zip(rows, splits) if s == "train"]
    evaluation = [row for row, s in zip(rows, splits) if s == "validation"]
    jsonl = recipe_numbers(tokenizer, train, evaluation)

    csv_train = read_csv(os.path.join(sample, "cnn_dailymail_subset.csv"))
    csv_eval = read_csv(os.path.join(sample, "cnn_dailymail_validation_subset.csv"))
    assert csv_train == rows[0:300] and csv_eval == rows[400:1400], "CSV rows differ from JSONL"
    csv_numbers = recipe_numbers(tokenizer, csv_train, csv_eval)

    swapped_rows = [(h, a) for a, h in rows]
    swapped = recipe_numbers(tokenizer, [(h, a) for a, h in train], [(h, a) for a, h in evaluation])
    swapped_inputs, swapped_labels = preprocess(tokenizer, swapped_rows,
                                                swapped["max_target_length"], padding=False)
    swapped["all_ids_fnv"] = fnv1a64([i for ids in swapped_inputs + swapped_labels for i in ids])

    inputs, labels = preprocess(tokenizer, rows, jsonl["max_target_length"], padding=False)
    padded_inputs, padded_labels = preprocess(tokenizer, rows, jsonl["max_target_length"],
                                              padding="max_length")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "expected.txt"), "w", encoding="utf-8", newline="\n") as out:
        out.write("# made by tools/reference/make_prepare_fixture.py (transformers %s, numpy %s)\n"
                  % (sys.modules["transformers"].__version__, np.__version__))
        out.write("model_max_length %d\n" % tokenizer.model_max_length)
        for name, numbers in (("jsonl", jsonl), ("csv", csv_numbers), ("swapped", swapped)):
            for key, value in numbers.items():
                out.write("%s.%s %s\n" % (name, key, value))
        out.write("csv.rows 0-299,400-1399\n")
        out.write("# row split input_len input_fnv padded_input_fnv label_len label_fnv "
                  "padded_label_fnv\n")
        for i in range(len(rows)):
            out.write("%d %s %d %s %s %d %s %s\n" % (
                i, splits[i], len(inputs[i]), fnv1a64(inputs[i]), fnv1a64(padded_inputs[i]),
                len(labels[i]), fnv1a64(labels[i]), fnv1a64(padded_labels[i])))
    print(json.dumps({"jsonl": jsonl, "csv": csv_numbers, "swapped": swapped}))


if __name__ == "__main__":
    main()
