#!/usr/bin/env python3
"""Checks that model folders saved by t5zero load in transformers and give t5zero's logits.

Each folder holds what t5zero saved plus t5zero_logits.safetensors ("logits" and the batch:
"input_ids", "attention_mask", "labels"). Write such folders with
  T5ZERO_KEEP_SAVED_MODELS=DIR build/tests/test_t5_model
then run
  python tools/reference/check_saved_folder.py DIR
Each folder must load with no missing, unexpected or mis-shaped weights (tied heads and
embedding aliases aside, as transformers ties them) and give logits within 1e-5 relative.
Exit status 0 when all pass.
"""

import os
import sys

import torch
from safetensors.torch import load_file
from transformers import T5ForConditionalGeneration

TOLERANCE = 1e-5
TIED_NAMES = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}


def check(folder):
    model, info = T5ForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    model.eval()
    problems = []
    missing = set(info["missing_keys"]) - (TIED_NAMES if model.config.tie_word_embeddings
                                             else TIED_NAMES - {"lm_head.weight"})
    if missing:
        problems.append(f"missing {sorted(missing)}")
    if info["unexpected_keys"]:
        problems.append(f"unexpected {info['unexpected_keys']}")
    if info["mismatched_keys"]:
        problems.append(f"mis-shaped {info['mismatched_keys']}")
    ours = load_file(os.path.join(folder, "t5zero_logits.safetensors"))
    with torch.no_grad():
        out = model(input_ids=ours["input_ids"], attention_mask=ours["attention_mask"],
                    labels=ours["labels"])
    theirs = out.logits
    error = ((ours["logits"] - theirs).abs().max() / theirs.abs().max()).item()
    if error > TOLERANCE:
        problems.append(f"logits relative error {error:.3g}")
    return error, problems


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    all_ok = True
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isfile(os.path.join(folder, "t5zero_logits.safetensors")):
            continue
        error, problems = check(folder)
        print(f"{name}: logits relative error {error:.2e} -> {'FAIL' if problems else 'ok'}")
        for problem in problems:
            print("  " + problem)
        all_ok = all_ok and not problems
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
