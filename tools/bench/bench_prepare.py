#!/usr/bin/env python3
"""The Python side of tools/bench/bench_prepare.sh: the reference recipe's tokenization of a
summarization JSONL (philschmid create_flan_t5_cnn_dataset.py) timed with transformers' fast
tokenizer (batched) and with python sentencepiece, at the thread count the caller set
(RAYON_NUM_THREADS for the fast tokenizer; num_threads for sentencepiece).

The recipe tokenizes each article (truncation=True) for the max source length and each summary
(truncation=True) for the 95th-percentile target length, then the templated articles (truncated
at model_max_length) and the summaries (truncated at that length). sentencepiece has no
truncation, so it encodes whole texts and the lists are cut afterwards.

Prints one line per tool: "<name> <best seconds> <rows>", best of --repeats runs after a warm-up.

Usage: bench_prepare.py --jsonl FILE --tokenizer DIR --threads N [--repeats R]
"""

import argparse
import json
import time

import numpy as np
import sentencepiece as spm
import transformers
from transformers import AutoTokenizer

PROMPT_TEMPLATE = "Summarize the following news article:\n{input}\nSummary:\n"


def recipe_fast(tok, articles, summaries):
    sources = tok(articles, truncation=True)["input_ids"]
    max_source = min(max(len(x) for x in sources), tok.model_max_length - 12)
    targets = tok(summaries, truncation=True)["input_ids"]
    max_target = int(np.percentile([len(x) for x in targets], 95))
    inputs = tok([PROMPT_TEMPLATE.format(input=a) for a in articles],
                 max_length=tok.model_max_length, truncation=True)["input_ids"]
    labels = tok(text_target=summaries, max_length=max_target, truncation=True)["input_ids"]
    return max_source, inputs, labels


def recipe_sentencepiece(sp, articles, summaries, threads, model_max_length=512):
    eos = sp.eos_id()
    sources = sp.encode(articles, num_threads=threads)
    max_source = min(max(min(len(x) + 1, model_max_length) for x in sources), model_max_length - 12)
    targets = sp.encode(summaries, num_threads=threads)
    max_target = int(np.percentile([min(len(x) + 1, model_max_length) for x in targets], 95))
    inputs = [x[:model_max_length - 1] + [eos] for x in sp.encode(
        [PROMPT_TEMPLATE.format(input=a) for a in articles], num_threads=threads)]
    labels = [x[:max_target - 1] + [eos] for x in targets]
    return max_source, inputs, labels


def best_time(run, repeats):
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--text_column", default="article")
    parser.add_argument("--summary_column", default="highlights")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    with open(args.jsonl, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    articles = [r[args.text_column] for r in records]
    summaries = [r[args.summary_column] for r in records]

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    seconds = best_time(lambda: recipe_fast(tok, articles, summaries), args.repeats)
    print(f"hf_fast {seconds:.6f} {len(records)}")

    sp = spm.SentencePieceProcessor(model_file=f"{args.tokenizer}/spiece.model")
    seconds = best_time(lambda: recipe_sentencepiece(sp, articles, summaries, args.threads),
                        args.repeats)
    print(f"sentencepiece {seconds:.6f} {len(records)}")


if __name__ == "__main__":
    main()
