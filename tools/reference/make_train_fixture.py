#!/usr/bin/env python3
"""Writes tests/fixtures/train/: the first 10 optimizer steps of transformers + torch on a tiny T5,
what t5zero train must reproduce (versions in requirements.txt).

The run is what the Hugging Face Trainer (4.26, optim="adamw_torch", no DeepSpeed) does with
these settings, written out as its loop so every step can be recorded:

- rows: 22 train rows of random token ids (ending in </s>, lengths varying), in dataset order
  (no shuffling); micro-batches of 2 rows padded by DataCollatorForSeq2Seq(pad_to_multiple_of=8)
  with the real T5 tokenizer; 2 micro-batches per optimizer step, each loss divided by the
  number of micro-batches of its step. An epoch is 11 micro-batches, so its 6th step has one
  micro-batch (t5zero never mixes epochs in a step) and steps 7-10 run the second epoch.
- optimizer: torch.optim.AdamW(foreach=False) with HF's two groups (weight decay 0.01, and 0 for
  biases and T5LayerNorm weights), lr 2e-3, betas (0.9, 0.999), eps 1e-8;
  get_linear_schedule_with_warmup(2 warmup steps, 10 total); clip_grad_norm_(1.0); fp32;
  dropout_rate 0.

Files:
- model/: config.json, generation_config.json, model.safetensors: the initial weights
  (transformers' _init_weights from seed 0; layer norms moved away from 1).
- rows.json: {"train": {"input_ids": [[...]], "labels": [[...]]}, "eval": {...}} (unpadded).
- expected.json: {"settings": {...}, "losses": [10], "lrs": [10], "grad_norms": [10]}: per step,
  the mean micro-batch loss, the lr it ran at, the gradient norm before clipping.
- final.safetensors: every parameter after step 10 (F32, Hugging Face names).

Usage: python tools/reference/make_train_fixture.py [--out tests/fixtures/train]
       [--tokenizer ../shared/data/t5-tokenizer]
"""

import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import (AutoTokenizer, DataCollatorForSeq2Seq, T5Config,
                          T5ForConditionalGeneration, get_linear_schedule_with_warmup)

from t5_reference import save_model_folder

SETTINGS = {
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 2,
    "max_steps": 10,
    "lr": 2e-3,
    "warmup_steps": 2,
    "weight_decay": 0.01,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "max_grad_norm": 1.0,
    "shuffle": False,
    "pad_to_multiple_of": 8,
}
CONFIG = dict(vocab_size=256, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2,
              num_decoder_layers=2, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
              dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)


def random_rows(count, vocab, input_range, label_range, gen):
    input_ids, labels = [], []
    for _ in range(count):
        n = int(torch.randint(input_range[0], input_range[1] + 1, (1,), generator=gen))
        m = int(torch.randint(label_range[0], label_range[1] + 1, (1,), generator=gen))
        input_ids.append(torch.randint(2, vocab, (n - 1,), generator=gen).tolist() + [1])
        labels.append(torch.randint(2, vocab, (m - 1,), generator=gen).tolist() + [1])
    return {"input_ids": input_ids, "labels": labels}


def make_model():
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(**CONFIG))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("layer_norm.weight"):
                param.add_(0.1 * torch.randn_like(param))
    return model


def optimizer_groups(model, weight_decay):
    """HF Trainer.create_optimizer: no decay for biases and layer norms (T5LayerNorm is in
    ALL_LAYERNORM_LAYERS)."""
    exempt = [n for n, _ in model.named_parameters() if "bias" in n or "layer_norm" in n]
    return [
        {"params": [p for n, p in model.named_parameters() if n not in exempt],
         "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if n in exempt], "weight_decay": 0.0},
    ]


def step_batches(rows, micro, accumulation):
    """Micro-batches of each optimizer step, epoch after epoch, never mixing epochs."""
    count = len(rows["input_ids"])
    micro_batches = [list(range(i, min(i + micro, count))) for i in range(0, count, micro)]
    while True:
        for first in range(0, len(micro_batches), accumulation):
            yield micro_batches[first:first + accumulation]


def train(model, rows, collator):
    s = SETTINGS
    optimizer = torch.optim.AdamW(optimizer_groups(model, s["weight_decay"]), lr=s["lr"],
                                  betas=(s["adam_beta1"], s["adam_beta2"]), eps=s["adam_epsilon"],
                                  foreach=False)
    scheduler = get_linear_schedule_with_warmup(optimizer, s["warmup_steps"], s["max_steps"])
    model.train()  # dropout_rate is 0: train mode changes nothing else in T5
    losses, lrs, norms = [], [], []
    batches = step_batches(rows, s["per_device_train_batch_size"],
                           s["gradient_accumulation_steps"])
    for _ in range(s["max_steps"]):
        group = next(batches)
        step_loss = torch.zeros(())
        for indices in group:
            features = [{"input_ids": rows["input_ids"][i], "labels": rows["labels"][i]}
                        for i in indices]
            batch = collator(features)
            loss = model(**batch).loss / len(group)
            loss.backward()
            step_loss += loss.detach()
        lrs.append(scheduler.get_last_lr()[0])
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), s["max_grad_norm"])))
        optimizer.step()
        scheduler.step()
        model.zero_grad()
        losses.append(float(step_loss))
    return losses, lrs, norms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/fixtures/train")
    parser.add_argument("--tokenizer", default="../shared/data/t5-tokenizer")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    gen = torch.Generator().manual_seed(7)
    rows = {
        "train": random_rows(22, CONFIG["vocab_size"], (4, 30), (3, 14), gen),
        "eval": random_rows(6, CONFIG["vocab_size"], (4, 30), (3, 14), gen),
    }
    with open(os.path.join(args.out, "rows.json"), "w") as f:
        json.dump(rows, f)

    model = make_model()
    save_model_folder(model, os.path.join(args.out, "model"))

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    collator = DataCollatorForSeq2Seq(tokenizer, model=None, label_pad_token_id=-100,
                                      pad_to_multiple_of=SETTINGS["pad_to_multiple_of"],
                                      return_tensors="pt")
    losses, lrs, norms = train(model, rows["train"], collator)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump({"settings": SETTINGS, "losses": losses, "lrs": lrs, "grad_norms": norms}, f,
                  indent=1)
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters()},
              os.path.join(args.out, "final.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(f"Generated by tools/reference/make_train_fixture.py (transformers "
                f"{transformers.__version__}, torch {torch.__version__}); do not edit by hand.\n"
                "See the script's docstring for the layout.\n")
    print("losses", losses)


if __name__ == "__main__":
    main()
