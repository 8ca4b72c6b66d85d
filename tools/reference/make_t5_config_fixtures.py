#!/usr/bin/env python3
"""Writes the config.json / generation_config.json fixtures under tests/fixtures/t5_config/ with
transformers (see requirements.txt for versions).

written/<name>.config.json   what transformers writes for T5ForConditionalGeneration(config)
                             .save_pretrained (architectures and torch_dtype set as it sets them,
                             then config.to_json_file(use_diff=True)), for the five FLAN-T5 sizes and
                             the t5-tiny-relu test size (tied, relu). t5zero's writer must match
                             these byte for byte.
parse/<case>.json            config.json files to read: the FLAN hub layout (flan-t5-small's is the
                             1,401-byte file of google/flan-t5-small, the others carry the same keys
                             with their sizes), old and odd feed_forward_proj spellings, a minimal
                             file relying on every default.
parse/expected.json          {case: fields as transformers' T5Config.from_json_file reads them}
generation/<case>.json       generation_config.json files, and generation/expected.json with the
                             fields GenerationConfig.from_dict reads.
parameter_counts.json        num_parameters() of T5ForConditionalGeneration for the test sizes of
                             src/models/architectures.cpp (numbers repeated in TINY below) and
                             flan-t5-small.

Usage: python tools/reference/make_t5_config_fixtures.py [--out tests/fixtures/t5_config]
"""

import argparse
import json
import os

import torch
from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

# Numbers of google/flan-t5-* config.json (docs t5_numerics.md §2): d_model, d_ff, heads, layers.
FLAN = {
    "flan-t5-small": (512, 1024, 6, 8),
    "flan-t5-base": (768, 2048, 12, 12),
    "flan-t5-large": (1024, 2816, 16, 24),
    "flan-t5-xl": (2048, 5120, 32, 24),
    "flan-t5-xxl": (4096, 10240, 64, 24),
}

TASK_SPECIFIC_PARAMS = {
    "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200,
                      "min_length": 30, "no_repeat_ngram_size": 3, "num_beams": 4,
                      "prefix": "summarize: "},
    "translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                             "prefix": "translate English to German: "},
    "translation_en_to_fr": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                             "prefix": "translate English to French: "},
    "translation_en_to_ro": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                             "prefix": "translate English to Romanian: "},
}

FIELDS = ["vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
          "relative_attention_num_buckets", "relative_attention_max_distance", "dropout_rate",
          "layer_norm_epsilon", "initializer_factor", "feed_forward_proj", "is_gated_act",
          "dense_act_fn", "tie_word_embeddings", "pad_token_id", "eos_token_id",
          "decoder_start_token_id"]

# The test sizes of src/models/architectures.cpp.
TINY = {
    "t5-tiny": dict(vocab_size=32128, d_model=64, d_kv=16, num_heads=4, d_ff=128, num_layers=2,
                    num_decoder_layers=2, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "t5-tiny-relu": dict(vocab_size=32128, d_model=64, d_kv=16, num_heads=4, d_ff=128, num_layers=2,
                         num_decoder_layers=2, feed_forward_proj="relu", tie_word_embeddings=True),
    "t5-micro": dict(vocab_size=256, d_model=32, d_kv=6, num_heads=4, d_ff=48, num_layers=2,
                     num_decoder_layers=3, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}

GENERATION_FIELDS = ["decoder_start_token_id", "eos_token_id", "pad_token_id", "max_length",
                     "num_beams"]


def flan_config(d_model, d_ff, heads, layers):
    return T5Config(vocab_size=32128, d_model=d_model, d_kv=64, d_ff=d_ff, num_layers=layers,
                    num_decoder_layers=layers, num_heads=heads, feed_forward_proj="gated-gelu",
                    tie_word_embeddings=False, decoder_start_token_id=0)


def hub_layout(d_model, d_ff, heads, layers):
    """The keys of google/flan-t5-small's config.json (transformers 4.23.1 wrote it)."""
    return {
        "architectures": ["T5ForConditionalGeneration"], "d_ff": d_ff, "d_kv": 64,
        "d_model": d_model, "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1,
        "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": True,
        "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
        "num_decoder_layers": layers, "num_heads": heads, "num_layers": layers,
        "output_past": True, "pad_token_id": 0, "relative_attention_max_distance": 128,
        "relative_attention_num_buckets": 32, "task_specific_params": TASK_SPECIFIC_PARAMS,
        "tie_word_embeddings": False, "transformers_version": "4.23.1", "use_cache": True,
        "vocab_size": 32128,
    }


def write_json(path, value):
    with open(path, "w") as out:
        out.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_saved_config(config, path):
    # What PreTrainedModel.save_pretrained sets before config.save_pretrained.
    config.architectures = ["T5ForConditionalGeneration"]
    config.torch_dtype = torch.float32
    config.to_json_file(path, use_diff=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/t5_config")
    args = parser.parse_args()
    for sub in ("written", "parse", "generation"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)

    for name, sizes in FLAN.items():
        write_saved_config(flan_config(*sizes), os.path.join(args.out, "written", name + ".config.json"))
    tiny_relu = T5Config(vocab_size=32128, d_model=64, d_kv=16, d_ff=128, num_layers=2,
                         num_decoder_layers=2, num_heads=4, feed_forward_proj="relu",
                         decoder_start_token_id=0)
    write_saved_config(tiny_relu, os.path.join(args.out, "written", "t5-tiny-relu.config.json"))

    cases = {name.replace("-", "_") + "_hub": hub_layout(*sizes) for name, sizes in FLAN.items()}
    cases["minimal_defaults"] = {"d_model": 32, "d_ff": 64, "num_layers": 3, "num_heads": 2}
    cases["legacy_gelu_is_gated"] = dict(hub_layout(4096, 10240, 64, 24), feed_forward_proj="gelu",
                                         is_gated_act=True)
    cases["dense_act_fn_overrides"] = dict(hub_layout(2048, 5120, 32, 24), dense_act_fn="gelu",
                                           is_gated_act=True)
    cases["gated_silu_null_decoder_layers"] = {
        "model_type": "t5", "d_model": 48, "d_ff": 96, "num_layers": 2, "num_decoder_layers": None,
        "num_heads": 3, "d_kv": 8, "feed_forward_proj": "gated-silu", "vocab_size": 300,
        "relative_attention_num_buckets": 16, "relative_attention_max_distance": 40,
        "dropout_rate": 0.0, "layer_norm_epsilon": 1e-05, "initializer_factor": 0.5}
    cases["plain_gelu_tied"] = {"d_model": 16, "d_ff": 32, "num_layers": 1, "num_heads": 2,
                                "feed_forward_proj": "gelu", "tie_word_embeddings": True,
                                "pad_token_id": 3, "eos_token_id": 4, "decoder_start_token_id": 5}
    cases["swish"] = {"d_model": 16, "d_ff": 32, "num_layers": 1, "num_heads": 2,
                      "feed_forward_proj": "gated-swish"}
    expected = {}
    for case, content in cases.items():
        path = os.path.join(args.out, "parse", case + ".json")
        write_json(path, content)
        config = T5Config.from_json_file(path)
        expected[case] = {field: getattr(config, field) for field in FIELDS}
    assert os.path.getsize(os.path.join(args.out, "parse", "flan_t5_small_hub.json")) == 1401
    write_json(os.path.join(args.out, "parse", "expected.json"), expected)

    generation_cases = {
        # google/flan-t5-*'s generation_config.json.
        "flan_hub": {"_from_model_config": True, "decoder_start_token_id": 0, "eos_token_id": 1,
                     "pad_token_id": 0, "transformers_version": "4.27.0.dev0"},
        "beams": {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
                  "max_length": 142, "num_beams": 4, "length_penalty": 2.0},
    }
    generation_expected = {}
    for case, content in generation_cases.items():
        path = os.path.join(args.out, "generation", case + ".json")
        write_json(path, content)
        with open(path) as f:
            config = GenerationConfig.from_dict(json.load(f))
        generation_expected[case] = {field: getattr(config, field) for field in GENERATION_FIELDS}
    write_json(os.path.join(args.out, "generation", "expected.json"), generation_expected)

    counts = {name: T5ForConditionalGeneration(T5Config(**kw)).num_parameters()
              for name, kw in TINY.items()}
    counts["flan-t5-small"] = T5ForConditionalGeneration(flan_config(*FLAN["flan-t5-small"])).num_parameters()
    write_json(os.path.join(args.out, "parameter_counts.json"), counts)


if __name__ == "__main__":
    main()
