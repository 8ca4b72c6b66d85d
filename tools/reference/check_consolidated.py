#!/usr/bin/env python3
"""Checks a folder written by `t5zero consolidate` in transformers:

- it loads in T5ForConditionalGeneration with no missing, unexpected or mis-shaped weights (a
  tied head aside), every stored tensor has the dtype config.json's torch_dtype names, and the
  tokenizer files (when present) load in AutoTokenizer;
- a forward pass with labels gives a finite loss;
- with the checkpoint it came from (optional second argument): the checkpoint's own weights
  (bf16 in bf16 runs) equal the consolidated fp32 weights rounded to their dtype, bit for bit,
  since the run's bf16 model is the rounding of its fp32 masters; and the two models' losses on
  the same batch are printed side by side.

Usage: python tools/reference/check_consolidated.py CONSOLIDATED_DIR [CHECKPOINT_DIR]
Exit status 0 when all pass.
"""

import json
import os
import sys

import torch
from safetensors import safe_open
from transformers import AutoTokenizer, T5ForConditionalGeneration

TIED_NAMES = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
TEXT = "summarize: The quick brown fox jumps over the lazy dog near the river bank."
SUMMARY = "A fox jumps over a dog."


def stored_tensors(folder):
    """name -> tensor of every weight file in the folder (single file or shards)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(os.path.join(folder, "model.safetensors")):
        files = ["model.safetensors"]
    else:
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    tensors = {}
    for name in files:
        with safe_open(os.path.join(folder, name), framework="pt") as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    return tensors


def load(folder, problems):
    model, info = T5ForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    model.eval()
    allowed = TIED_NAMES | ({"lm_head.weight"} if model.config.tie_word_embeddings else set())
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        bad = set(map(str, info[kind])) - allowed
        if bad:
            problems.append(f"{folder}: {kind} {sorted(bad)}")
    return model


def batch(folder, vocab_size):
    if os.path.exists(os.path.join(folder, "spiece.model")) or os.path.exists(
            os.path.join(folder, "tokenizer.json")):
        tokenizer = AutoTokenizer.from_pretrained(folder)
        inputs = tokenizer([TEXT], return_tensors="pt")
        labels = tokenizer([SUMMARY], return_tensors="pt").input_ids
        return inputs.input_ids, inputs.attention_mask, labels, "tokenizer"
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(2, vocab_size, (2, 12), generator=generator)
    labels = torch.randint(2, vocab_size, (2, 6), generator=generator)
    return input_ids, torch.ones_like(input_ids), labels, "random ids"


def loss_of(model, input_ids, attention_mask, labels):
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
    return out.loss.item(), tuple(out.logits.shape)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    folder = sys.argv[1]
    problems = []
    model = load(folder, problems)
    with open(os.path.join(folder, "config.json")) as f:
        torch_dtype = json.load(f).get("torch_dtype", "float32")
    ours = stored_tensors(folder)
    wrong = sorted(k for k, t in ours.items() if t.dtype != TORCH_DTYPES[torch_dtype])
    if wrong:
        problems.append(f"tensors not {torch_dtype}: {wrong[:5]} ({len(wrong)} in all)")
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{folder}: loads in transformers, {len(ours)} tensors ({torch_dtype}), "
          f"{parameters} parameters")

    input_ids, attention_mask, labels, source = batch(folder, model.config.vocab_size)
    loss, logits_shape = loss_of(model, input_ids, attention_mask, labels)
    print(f"forward ({source}): loss {loss:.6f}, logits {list(logits_shape)}")
    if not torch.isfinite(torch.tensor(loss)):
        problems.append(f"non-finite loss {loss}")

    if len(sys.argv) == 3:
        checkpoint = sys.argv[2]
        theirs = stored_tensors(checkpoint)
        differing = 0
        for name, t in theirs.items():
            if name not in ours:
                problems.append(f"{checkpoint}: tensor {name} absent from {folder}")
                continue
            rounded = ours[name].to(t.dtype)
            if not torch.equal(rounded, t):
                differing += 1
                problems.append(f"{name}: consolidated weights rounded to {t.dtype} differ from "
                                f"the checkpoint's, max |diff| "
                                f"{(rounded.float() - t.float()).abs().max().item():.3g}")
        dtypes = sorted({str(t.dtype).replace("torch.", "") for t in theirs.values()})
        print(f"checkpoint {checkpoint}: {len(theirs)} tensors ({', '.join(dtypes)}), "
              f"{len(theirs) - differing} equal to the consolidated weights rounded to them")
        checkpoint_model = load(checkpoint, problems)
        checkpoint_loss, _ = loss_of(checkpoint_model, input_ids, attention_mask, labels)
        print(f"loss: consolidated {loss:.6f}, checkpoint's own weights {checkpoint_loss:.6f}")

    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
