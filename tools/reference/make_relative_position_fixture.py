#!/usr/bin/env python3
"""Writes tests/fixtures/relative_position/buckets.txt: T5's relative position buckets as
transformers computes them (T5Attention._relative_position_bucket, see requirements.txt), for every
relative position in [-300, 300], bidirectional and causal, for FLAN-T5's configuration
(32 buckets, max distance 128) and a smaller one (16 buckets, max distance 40).

Each data line: num_buckets max_distance bidirectional(0/1) relative_position bucket.

Usage: python tools/reference/make_relative_position_fixture.py [--out tests/fixtures/relative_position]
"""

import argparse
import os

import torch
import transformers
from transformers.models.t5.modeling_t5 import T5Attention

CONFIGS = [(32, 128), (16, 40)]
SPAN = 300


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/relative_position")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rel = torch.arange(-SPAN, SPAN + 1, dtype=torch.long)
    lines = [
        f"# transformers {transformers.__version__}, torch {torch.__version__}: "
        "T5Attention._relative_position_bucket",
        "# num_buckets max_distance bidirectional relative_position bucket",
    ]
    for num_buckets, max_distance in CONFIGS:
        for bidirectional in (True, False):
            buckets = T5Attention._relative_position_bucket(
                rel, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
            )
            for r, b in zip(rel.tolist(), buckets.tolist()):
                lines.append(f"{num_buckets} {max_distance} {int(bidirectional)} {r} {b}")
    path = os.path.join(args.out, "buckets.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(lines) - 2} buckets")


if __name__ == "__main__":
    main()
