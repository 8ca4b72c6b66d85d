"""The PyTorch side of `t5zero bench --model_id ... --optimizer false`: forward + loss +
backward of transformers' T5ForConditionalGeneration on the CPU, random init, train mode
(dropout on), the same shapes and thread count; prints the median step time in the same words as
t5zero so tools/bench/bench_model_cpu.sh can put the two side by side. A tool, not a test.

Run with the reference environment (tools/reference/requirements.txt: torch 2.x CPU,
transformers 4.26):
  python3 tools/bench/bench_model_cpu.py --model_id flan-t5-small \
      --batch_size 4 --source_length 512 --target_length 128 --threads 2
"""

import argparse
import resource
import statistics
import time

import torch
import transformers

from t5_configs import make_config


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_id", required=True)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--source_length", type=int, default=512)
    parser.add_argument("--target_length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = make_config(args.model_id)
    # Random init as t5zero's built-in sizes (same distributions, other random numbers); a
    # folder's weights are not needed to time a step.
    model = transformers.T5ForConditionalGeneration(config)
    if args.dtype == "bf16":
        model = model.to(torch.bfloat16)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()  # dropout on, as t5zero bench

    generator = torch.Generator().manual_seed(args.seed)
    b, s, t = args.batch_size, args.source_length, args.target_length
    input_ids = torch.randint(0, config.vocab_size, (b, s), generator=generator)
    labels = torch.randint(0, config.vocab_size, (b, t), generator=generator)
    attention_mask = torch.ones(b, s, dtype=torch.long)

    def step():
        model.zero_grad(set_to_none=True)
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        return loss.item()

    first_loss = None
    for _ in range(args.warmup):
        loss = step()
        first_loss = loss if first_loss is None else first_loss
    seconds, cpu_seconds = [], []
    for _ in range(args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = step()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        first_loss = loss if first_loss is None else first_loss

    median = statistics.median_high(seconds)  # the middle run, as t5zero's median
    tokens = b * (s + t)
    params = sum(p.numel() for p in model.parameters())
    print(f"model {args.model_id} (transformers {transformers.__version__}, "
          f"torch {torch.__version__}), {args.dtype}, {params} parameters, "
          f"dropout {config.dropout_rate}"
          f"{', gradient checkpointing' if args.gradient_checkpointing else ''}")
    print(f"batch {b} x source {s} / target {t} tokens; threads: torch {torch.get_num_threads()}")
    print(f"loss at step 0: {first_loss:.4f}")
    print(f"step (forward + loss + backward): median {median:.3f} s over {args.steps} steps "
          f"(min {min(seconds):.3f}, max {max(seconds):.3f}) after {args.warmup} warm-up")
    print(f"process CPU time per step: median {statistics.median_high(cpu_seconds):.3f} s "
          f"(all threads)")
    print(f"tokens/s: {tokens / median:.0f} (source + target tokens)")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"peak resident memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
