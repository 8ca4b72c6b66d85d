#!/usr/bin/env python3
"""Checks `t5zero grads` against transformers on tiny random T5 configs and batches.

For each seed: draw a random architecture (FFN kind, tied or untied head, layer counts, heads·d_kv
vs d_model, bucket settings) and a padded batch, save the model folder with transformers, run
`t5zero grads`, and compare the loss (1e-5 relative) and every parameter's gradient (1e-4
relative: max |ours − theirs| / max |theirs| per tensor) in fp32.

Usage: python tools/reference/check_grads.py --t5zero build/tools/t5zero [--seeds 1 2 3]
       python tools/reference/check_grads.py --t5zero ... --config cfg.json --batch batch.json
Exit status 0 when every check passes.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

from t5_reference import compute_reference, make_model, random_batch, save_model_folder

LOSS_TOLERANCE = 1e-5
GRAD_TOLERANCE = 1e-4


def random_config(rng):
    num_heads = rng.randint(1, 4)
    num_buckets = rng.choice([4, 8, 16, 32])
    return dict(
        vocab_size=rng.randint(40, 120),
        d_model=rng.choice([8, 12, 16, 20, 24, 32]),
        d_kv=rng.choice([2, 4, 6, 8]),
        num_heads=num_heads,
        d_ff=rng.choice([8, 16, 24, 40]),
        num_layers=rng.randint(1, 3),
        num_decoder_layers=rng.randint(1, 3),
        feed_forward_proj=rng.choice(["relu", "gated-gelu", "gated-relu", "gelu_new"]),
        tie_word_embeddings=rng.choice([True, False]),
        relative_attention_num_buckets=num_buckets,
        relative_attention_max_distance=rng.randint(num_buckets // 2 + 1, 3 * num_buckets),
    )


def relative_error(ours, theirs):
    scale = theirs.abs().max().item()
    diff = (ours - theirs).abs().max().item()
    return diff / scale if scale > 0 else diff


def check(t5zero, config, batch, seed, workdir, embedding_name):
    folder = os.path.join(workdir, "model")
    model = make_model(config, seed)
    save_model_folder(model, folder, embedding_names=[embedding_name])
    batch_path = os.path.join(workdir, "batch.json")
    with open(batch_path, "w") as f:
        json.dump(batch, f)
    out_path = os.path.join(workdir, "grads.safetensors")
    subprocess.run([t5zero, "grads", "--model_id", folder, "--batch", batch_path, "--out", out_path],
                   check=True)
    ours = load_file(out_path)
    expected = compute_reference(model, batch)

    failures = []
    loss_error = relative_error(ours["loss"], expected["loss"])
    if loss_error > LOSS_TOLERANCE:
        failures.append(f"loss {ours['loss'].item()} vs {expected['loss'].item()}")
    worst_name, worst_error = "", 0.0
    for key, value in expected.items():
        if not key.startswith("grad/"):
            continue
        name = key[len("grad/"):]
        if name not in ours:
            failures.append(f"{name}: missing from t5zero's output")
            continue
        if ours[name].shape != value.shape:
            failures.append(f"{name}: shape {list(ours[name].shape)} vs {list(value.shape)}")
            continue
        error = relative_error(ours[name], value)
        if error > worst_error:
            worst_name, worst_error = name, error
        if error > GRAD_TOLERANCE:
            failures.append(f"{name}: relative error {error:.3g}")
    expected_names = {k[len("grad/"):] for k in expected if k.startswith("grad/")}
    for name in sorted(set(ours) - expected_names - {"loss"}):
        failures.append(f"{name}: in t5zero's output but not a parameter of transformers' model")
    return loss_error, worst_name, worst_error, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--t5zero", required=True, help="path to the t5zero binary")
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--config", help="a JSON object of T5Config fields (instead of random)")
    parser.add_argument("--batch", help="a batch JSON file (instead of random)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    all_ok = True
    for seed in args.seeds:
        rng = random.Random(seed)
        if args.config:
            with open(args.config) as f:
                config = json.load(f)
        else:
            config = random_config(rng)
        if args.batch:
            with open(args.batch) as f:
                batch = json.load(f)
        else:
            batch = random_batch(config["vocab_size"], batch_size=rng.randint(1, 3),
                                 enc_len=rng.randint(4, 40), dec_len=rng.randint(3, 24),
                                 label_pad=rng.randint(0, 3), seed=seed)
        embedding_name = rng.choice(["shared.weight", "encoder.embed_tokens.weight",
                                     "decoder.embed_tokens.weight"])
        with tempfile.TemporaryDirectory() as workdir:
            loss_error, worst_name, worst_error, failures = check(args.t5zero, config, batch, seed,
                                                                  workdir, embedding_name)
        shape = f"B={len(batch['input_ids'])} S={len(batch['input_ids'][0])} T={len(batch['labels'][0])}"
        print(f"seed {seed}: {json.dumps(config)} {shape}")
        print(f"  loss rel err {loss_error:.2e}; worst grad rel err {worst_error:.2e} ({worst_name})"
              f" -> {'FAIL' if failures else 'ok'}")
        for failure in failures:
            print("  " + failure)
        all_ok = all_ok and not failures
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
