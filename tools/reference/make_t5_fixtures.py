#!/usr/bin/env python3
"""Writes the T5 reference fixtures under tests/fixtures/t5/ with transformers (see requirements.txt).

Each fixture is a tiny random T5ForConditionalGeneration saved as a Hugging Face model folder
(config.json, generation_config.json, model.safetensors), plus what transformers computes for one
padded batch in fp32 with dropout off:

  batch.json            {"input_ids", "attention_mask", "labels"} (labels hold -100), the format of
                        `t5zero grads --batch`
  expected.safetensors  "logits" [B, T, V], "loss" [1], "encoder_last_hidden_state" [B, S, d], and
                        "grad/<name>" for every parameter under its Hugging Face name
  generation.json       greedy and beam-search outputs of model.generate for the same inputs

The configurations cover what the loader and the model must handle:
  flan_gated     FLAN-like: gated-gelu, untied lm_head, embedding stored as shared.weight
  t5v1_relu_tied t5 v1.0-like: relu, tied lm_head (d_model^-0.5 rescale), embedding stored as
                 decoder.embed_tokens.weight (what safetensors' convert.py keeps), plus the stray
                 decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight of old
                 checkpoints, which loaders must ignore
  uneven_layers  num_decoder_layers != num_layers, embedding stored as encoder.embed_tokens.weight
  inner_dim      num_heads * d_kv != d_model (as flan-t5-small: 6 * 64 = 384 != 512), embedding
                 stored under all three names (as a converted pytorch_model.bin holds it)

Usage: python tools/reference/make_t5_fixtures.py [--out tests/fixtures/t5]
"""

import argparse
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file

from t5_reference import (compute_reference, layer_norm_names, make_model, random_batch,
                          save_model_folder)

FIXTURES = [
    dict(name="flan_gated", seed=11, batch_seed=101, embedding_names=["shared.weight"],
         stray_cross_attention_bias=False, enc_len=9, dec_len=6, label_pad=2,
         config=dict(vocab_size=96, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2,
                     num_decoder_layers=2, feed_forward_proj="gated-gelu",
                     tie_word_embeddings=False, relative_attention_num_buckets=32,
                     relative_attention_max_distance=128)),
    dict(name="t5v1_relu_tied", seed=12, batch_seed=102,
         embedding_names=["decoder.embed_tokens.weight"], stray_cross_attention_bias=True,
         enc_len=8, dec_len=6, label_pad=3,
         config=dict(vocab_size=80, d_model=24, d_kv=8, num_heads=3, d_ff=40, num_layers=2,
                     num_decoder_layers=2, feed_forward_proj="relu", tie_word_embeddings=True,
                     relative_attention_num_buckets=8, relative_attention_max_distance=16)),
    dict(name="uneven_layers", seed=13, batch_seed=103,
         embedding_names=["encoder.embed_tokens.weight"], stray_cross_attention_bias=False,
         enc_len=7, dec_len=5, label_pad=0,
         config=dict(vocab_size=64, d_model=16, d_kv=4, num_heads=4, d_ff=24, num_layers=3,
                     num_decoder_layers=1, feed_forward_proj="gated-gelu",
                     tie_word_embeddings=False, relative_attention_num_buckets=16,
                     relative_attention_max_distance=20)),
    dict(name="inner_dim", seed=14, batch_seed=104,
         embedding_names=["shared.weight", "encoder.embed_tokens.weight",
                          "decoder.embed_tokens.weight"],
         stray_cross_attention_bias=False, enc_len=8, dec_len=7, label_pad=1,
         config=dict(vocab_size=72, d_model=20, d_kv=4, num_heads=3, d_ff=28, num_layers=2,
                     num_decoder_layers=2, feed_forward_proj="gated-gelu",
                     tie_word_embeddings=False, relative_attention_num_buckets=8,
                     relative_attention_max_distance=12)),
]

GENERATION_MAX_NEW_TOKENS = 6
GENERATION_NUM_BEAMS = 3


def write_fixture(spec, out_dir):
    folder = os.path.join(out_dir, spec["name"])
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)

    model = make_model(spec["config"], spec["seed"])
    extra = {}
    if spec["stray_cross_attention_bias"]:
        # Old t5 v1.0 checkpoints carry this unused tensor; transformers ignores it on load.
        g = torch.Generator().manual_seed(spec["seed"] + 1000)
        extra["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = torch.randn(
            model.config.relative_attention_num_buckets, model.config.num_heads, generator=g)
    save_model_folder(model, folder, embedding_names=spec["embedding_names"], extra_tensors=extra)

    batch = random_batch(model.config.vocab_size, batch_size=2, enc_len=spec["enc_len"],
                         dec_len=spec["dec_len"], label_pad=spec["label_pad"],
                         seed=spec["batch_seed"])
    with open(os.path.join(folder, "batch.json"), "w") as f:
        json.dump(batch, f)
        f.write("\n")

    expected = compute_reference(model, batch)
    save_file({k: v.contiguous() for k, v in expected.items()},
              os.path.join(folder, "expected.safetensors"))

    input_ids = torch.tensor(batch["input_ids"])
    attention_mask = torch.tensor(batch["attention_mask"])
    with torch.no_grad():
        greedy = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                max_new_tokens=GENERATION_MAX_NEW_TOKENS, num_beams=1,
                                do_sample=False)
        beam = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                              max_new_tokens=GENERATION_MAX_NEW_TOKENS,
                              num_beams=GENERATION_NUM_BEAMS, do_sample=False)
    generation = {
        "greedy": {"max_new_tokens": GENERATION_MAX_NEW_TOKENS, "num_beams": 1,
                   "sequences": greedy.tolist()},
        "beam": {"max_new_tokens": GENERATION_MAX_NEW_TOKENS, "num_beams": GENERATION_NUM_BEAMS,
                 "length_penalty": 1.0, "early_stopping": False, "sequences": beam.tolist()},
    }
    with open(os.path.join(folder, "generation.json"), "w") as f:
        json.dump(generation, f)
        f.write("\n")
    print(f"{spec['name']}: loss {expected['loss'].item():.6f}, "
          f"{len(list(model.parameters()))} parameters, norm weights {len(layer_norm_names(model))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "t5")
    parser.add_argument("--out", default=os.path.normpath(default_out))
    args = parser.parse_args()
    assert transformers.__version__ == "4.26.0", "fixtures are pinned to transformers 4.26.0"
    torch.set_num_threads(1)  # one summation order, so regenerating gives the same bytes
    for spec in FIXTURES:
        write_fixture(spec, args.out)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("Generated by tools/reference/make_t5_fixtures.py (transformers "
                f"{transformers.__version__}, torch {torch.__version__.split('+')[0]}); "
                "do not edit by hand.\nSee the script's docstring for the layout.\n")


if __name__ == "__main__":
    main()
