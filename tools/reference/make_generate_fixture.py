#!/usr/bin/env python3
"""Writes the generation fixtures under tests/fixtures/generate/ with transformers (see requirements.txt).

Each fixture is a tiny random T5ForConditionalGeneration saved as a Hugging Face model folder
(config.json, generation_config.json, model.safetensors) plus cases.json:

  {"input_ids": [[...]], "attention_mask": [[...]],        one padded batch, rows of different lengths
   "cases": [{"name": ..., "options": {...}, "sequences": [[...]]}, ...]}

where "options" are keyword arguments of model.generate (do_sample=False) and "sequences" what it
returned for the batch, in fp32.

Random T5s are nearly deterministic (the top token takes almost all the probability) and rarely
say </s>, which would leave beam search, length_penalty and early_stopping untested. So after
transformers' initialisation the LM head is rescaled (seeds and scales picked by trying) and the
</s> row is pushed towards the mean decoder output (</s> wins at various steps). The script
asserts that the outputs exercise what the cases are for: </s> early in some rows and not in
others, beam search differing from greedy, each option changing some output, beam rows padded
after </s> (coverage_gaps; a model lists the gaps it is known to leave).

  flan_like   gated-gelu, untied head (FLAN-T5's layout)
  t5v1_tied   relu, tied head (the d_model^-0.5 rescale before the head)

Usage: python tools/reference/make_generate_fixture.py [--out tests/fixtures/generate]
"""

import argparse
import json
import os
import shutil

import torch
import transformers

from t5_reference import make_model, save_model_folder

MODELS = [
    dict(name="flan_like", seed=2, head_scale=0.15, eos_boost=0.8, batch_seed=2, known_gaps=[],
         config=dict(vocab_size=64, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2,
                     num_decoder_layers=2, feed_forward_proj="gated-gelu",
                     tie_word_embeddings=False, relative_attention_num_buckets=16,
                     relative_attention_max_distance=32)),
    # Its 2- and 4-beam outputs agree (flan_like covers that).
    dict(name="t5v1_tied", seed=23, head_scale=3.0, eos_boost=0.7, batch_seed=23,
         known_gaps=["2 and 4 beams differ"],
         config=dict(vocab_size=80, d_model=24, d_kv=8, num_heads=3, d_ff=40, num_layers=2,
                     num_decoder_layers=3, feed_forward_proj="relu", tie_word_embeddings=True,
                     relative_attention_num_buckets=8, relative_attention_max_distance=16)),
]

BATCH_ROWS = 4
SOURCE_LENGTH = 11

# generate() keyword arguments; each case names what it exercises.
CASES = [
    ("greedy_default_max_length", dict(num_beams=1)),  # max_length 20 from the defaults
    ("greedy_max_new_tokens", dict(num_beams=1, max_new_tokens=16)),
    ("greedy_max_length", dict(num_beams=1, max_length=9)),
    ("greedy_min_length", dict(num_beams=1, max_new_tokens=16, min_length=7)),
    ("greedy_no_repeat_2", dict(num_beams=1, max_new_tokens=16, no_repeat_ngram_size=2)),
    ("greedy_no_repeat_3", dict(num_beams=1, max_new_tokens=16, no_repeat_ngram_size=3)),
    ("beam2", dict(num_beams=2, max_new_tokens=16)),
    ("beam4", dict(num_beams=4, max_new_tokens=16)),
    ("beam4_default_max_length", dict(num_beams=4)),
    ("beam3_max_length", dict(num_beams=3, max_length=8)),
    ("beam4_early_stopping", dict(num_beams=4, max_new_tokens=16, early_stopping=True)),
    ("beam4_length_penalty_2", dict(num_beams=4, max_new_tokens=16, length_penalty=2.0)),
    ("beam4_length_penalty_0.5", dict(num_beams=4, max_new_tokens=16, length_penalty=0.5)),
    ("beam4_length_penalty_-1", dict(num_beams=4, max_new_tokens=16, length_penalty=-1.0)),
    ("beam3_early_stopping_length_penalty_2",
     dict(num_beams=3, max_new_tokens=16, early_stopping=True, length_penalty=2.0)),
    ("beam4_min_length", dict(num_beams=4, max_new_tokens=16, min_length=6)),
    ("beam4_no_repeat_2", dict(num_beams=4, max_new_tokens=16, no_repeat_ngram_size=2)),
    ("beam4_no_repeat_3", dict(num_beams=4, max_new_tokens=16, no_repeat_ngram_size=3)),
    ("beam4_everything", dict(num_beams=4, max_new_tokens=16, min_length=4, length_penalty=1.5,
                              no_repeat_ngram_size=3, early_stopping=True)),
]


def shape_model(model, head_scale, eos_boost):
    """Flatter LM-head distributions and a </s> that competes (see the module docstring)."""
    config = model.config
    head = model.shared.weight if config.tie_word_embeddings else model.lm_head.weight
    with torch.no_grad():
        head.mul_(head_scale)
        # The mean decoder output over random inputs: moving the </s> row along it raises the </s>
        # logit everywhere, by eos_boost times the mean gap to the top logit.
        g = torch.Generator().manual_seed(12345)
        ids = torch.randint(2, config.vocab_size, (16, SOURCE_LENGTH), generator=g)
        dec = torch.randint(2, config.vocab_size, (16, 12), generator=g)
        out = model(input_ids=ids, decoder_input_ids=dec, output_hidden_states=True)
        hidden = out.decoder_hidden_states[-1].reshape(-1, config.d_model)
        if config.tie_word_embeddings:
            hidden = hidden * config.d_model ** -0.5
        direction = hidden.mean(0)
        direction = direction / direction.norm()
        gap = (out.logits.max(-1).values - out.logits[..., 1]).mean()
        head[1] += eos_boost * gap / (hidden @ direction).mean() * direction


def padded_batch(vocab_size, seed):
    """Rows of SOURCE_LENGTH, -2, -4, -6 tokens ending in </s>, right-padded with 0."""
    g = torch.Generator().manual_seed(seed)
    input_ids, attention_mask = [], []
    for r in range(BATCH_ROWS):
        n = SOURCE_LENGTH - 2 * r
        ids = torch.randint(2, vocab_size, (n - 1,), generator=g).tolist() + [1]
        input_ids.append(ids + [0] * (SOURCE_LENGTH - n))
        attention_mask.append([1] * n + [0] * (SOURCE_LENGTH - n))
    return input_ids, attention_mask


def eos_positions(sequences):
    return [row.index(1) if 1 in row else -1 for row in sequences]


def coverage_gaps(results):
    """What the outputs leave unexercised (see the module docstring); empty when all is covered."""
    def differs(a, b):
        return results[a] != results[b]

    everything = [row for rows in results.values() for row in rows]
    ends = eos_positions(everything)
    checks = {
        "early </s>": any(0 < p < 8 for p in ends),
        "a row without </s>": any(p == -1 for p in ends),
        "beam search differs from greedy": differs("greedy_max_new_tokens", "beam4"),
        "2 and 4 beams differ": differs("beam2", "beam4"),
        "greedy min_length": differs("greedy_max_new_tokens", "greedy_min_length"),
        "beam min_length": differs("beam4", "beam4_min_length"),
        "greedy no_repeat 2": differs("greedy_max_new_tokens", "greedy_no_repeat_2"),
        "greedy no_repeat 3": differs("greedy_max_new_tokens", "greedy_no_repeat_3"),
        "beam no_repeat 3": differs("beam4", "beam4_no_repeat_3"),
        "length_penalty > 0": differs("beam4", "beam4_length_penalty_2")
        or differs("beam4", "beam4_length_penalty_0.5"),
        "length_penalty < 0": differs("beam4", "beam4_length_penalty_-1"),
        "early_stopping": differs("beam4", "beam4_early_stopping"),
        # Beam rows of different lengths: finished ones are padded after </s>.
        "padded beam row": any(0 in row[1:] for case, rows in results.items()
                               if case.startswith("beam") for row in rows),
    }
    return sorted(name for name, ok in checks.items() if not ok)


def write_fixture(spec, out_dir):
    folder = os.path.join(out_dir, spec["name"])
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    model = make_model(spec["config"], spec["seed"])
    shape_model(model, spec["head_scale"], spec["eos_boost"])
    save_model_folder(model, folder)

    input_ids, attention_mask = padded_batch(model.config.vocab_size, spec["batch_seed"])
    cases, results = [], {}
    for case_name, options in CASES:
        with torch.no_grad():
            sequences = model.generate(input_ids=torch.tensor(input_ids),
                                       attention_mask=torch.tensor(attention_mask),
                                       do_sample=False, **options).tolist()
        results[case_name] = sequences
        cases.append({"name": case_name, "options": options, "sequences": sequences})
        print(f"{spec['name']:10} {case_name:40} </s> at {eos_positions(sequences)}")
    gaps = coverage_gaps(results)
    assert gaps == spec["known_gaps"], f"{spec['name']}: unexercised {gaps}"
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump({"input_ids": input_ids, "attention_mask": attention_mask, "cases": cases}, f)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures",
                               "generate")
    parser.add_argument("--out", default=os.path.normpath(default_out))
    args = parser.parse_args()
    assert transformers.__version__ == "4.26.0", "fixtures are pinned to transformers 4.26.0"
    torch.set_num_threads(1)  # one summation order, so regenerating gives the same bytes
    os.makedirs(args.out, exist_ok=True)
    for spec in MODELS:
        write_fixture(spec, args.out)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("Generated by tools/reference/make_generate_fixture.py (transformers "
                f"{transformers.__version__}, torch {torch.__version__.split('+')[0]}); "
                "do not edit by hand.\nSee the script's docstring for the layout.\n")


if __name__ == "__main__":
    main()
