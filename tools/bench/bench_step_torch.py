"""The PyTorch twin of `t5zero bench --model_id ...`: one training step of transformers'
T5ForConditionalGeneration (random init, train mode: dropout on) with the same architecture,
batch, lengths, checkpointing, clipping and AdamW, on a GPU or the CPU; prints the same figures
and writes the same JSON fields (tools/device/check.sh puts the two side by side). A tool, not
a test.

Precision (--bf16 true) follows t5zero's recipe, bf16 parameters with fp32 masters (as DeepSpeed's
bf16 mode), not the HF Trainer's autocast: the model's weights are bf16 (model.to(bfloat16)), so
forward and backward compute in bf16 and produce bf16 gradients; fp32 master copies of every
weight hold the gradient accumulators (the bf16 gradients are added into them), the clipping and
torch.optim.AdamW (fused=True on CUDA), whose moments are therefore fp32; after the step the
masters are copied back into the bf16 weights (round to nearest). t5zero's AdamW writes that bf16
copy in the same pass; torch needs a separate copy. Autocast over fp32 weights would keep the
fp32 weights as masters but recast them to bf16 for every matmul of every step, and keep fp32
gradients: other work and other memory than the recipe. --bf16 false: fp32 throughout.

The batch is random token ids (uniform, fixed seed) of the given shape, all rows full length, as
t5zero's; the ids differ, the work does not. Model FLOPs and MFU use the same encoder-decoder
count as t5zero (src/train/flop_count.h, mirrored below).

  python3 tools/bench/bench_step_torch.py --model_id flan-t5-base --device cuda --bf16 true \\
      --batch_size 32 --source_length 512 --target_length 128 --steps 5 --json out.json

Exit status: 0; 3 when --batch_size N ran out of memory (the JSON says so); 77 (skipped) without
torch or transformers, or for --device cuda without torch's CUDA.
"""

import argparse
import gc
import inspect
import json
import math
import os
import resource
import statistics
import sys
import time

try:
    import torch
    import transformers
except ImportError as error:  # a machine without the baseline's packages skips it
    print(f"skipped: torch or transformers not importable ({error})")
    sys.exit(77)

from t5_configs import make_config  # noqa: E402 - needs transformers

MAX_GRAD_NORM = 1.0  # as t5zero bench: the Trainer's default max_grad_norm
ADAMW = dict(lr=1e-4, weight_decay=0.01)  # as t5zero bench; the cost does not depend on them
H100_DENSE_BF16_TFLOPS = 989.0


def parse_bool(text):
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false/1/0/yes/no, got '{text}'")


def parse_batch_size(text):
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or auto, got '{text}'")
    return value


def training_step_flops(config, batch, source, target):
    """Model FLOPs of forward + backward, by term: src/train/flop_count.cpp's count."""
    d, inner = config.d_model, config.num_heads * config.d_kv
    gated = getattr(config, "is_gated_act", config.feed_forward_proj.startswith("gated-"))
    ffn = (3 if gated else 2) * d * config.d_ff
    encoder_tokens, decoder_tokens = batch * source, batch * target
    enc_layers, dec_layers = config.num_layers, config.num_decoder_layers

    def attention(query_tokens, key_length):
        return 3.0 * 2 * 2 * query_tokens * key_length * inner

    return {
        "encoder_weights": 6.0 * enc_layers * (4 * d * inner + ffn) * encoder_tokens,
        "decoder_weights": 6.0 * dec_layers * (6 * d * inner + ffn) * decoder_tokens,
        "cross_kv_weights": 6.0 * dec_layers * 2 * d * inner * encoder_tokens,
        "lm_head": 6.0 * d * config.vocab_size * decoder_tokens,
        "attention": enc_layers * attention(encoder_tokens, source)
        + dec_layers * (attention(decoder_tokens, target) + attention(decoder_tokens, source)),
    }


def is_out_of_memory(error):
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(error, oom) or "out of memory" in str(error)


class TrainingStep:
    """One optimizer step with one micro-batch, as t5zero's trainer runs it."""

    def __init__(self, model, args, device):
        self.model, self.device = model, device
        self.params = [p for p in model.parameters() if p.requires_grad]
        if args.bf16:
            with torch.no_grad():
                self.masters = [p.detach().float().clone() for p in self.params]
            for m in self.masters:
                m.grad = torch.zeros_like(m)
        else:
            self.masters = None
        targets = self.masters if self.masters is not None else self.params
        options = dict(ADAMW)
        if device.type == "cuda":
            options["fused"] = True
        self.optimizer = torch.optim.AdamW(targets, **options)

    def run(self, batch):
        input_ids, attention_mask, labels = batch
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        loss = out.loss.item()  # as t5zero's trainer, which logs every step's loss
        out.loss.backward()
        del out
        if self.masters is not None:
            # Accumulate the bf16 gradients into the fp32 masters' accumulators.
            torch._foreach_add_([m.grad for m in self.masters], [p.grad for p in self.params])
            targets = self.masters
        else:
            targets = self.params
        norm = torch.nn.utils.clip_grad_norm_(targets, MAX_GRAD_NORM, foreach=True).item()
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise RuntimeError(f"loss {loss}, gradient norm {norm}: not finite")
        self.optimizer.step()
        if self.masters is not None:
            with torch.no_grad():
                torch._foreach_copy_([p.data for p in self.params], self.masters)
            torch._foreach_zero_([m.grad for m in self.masters])
        self.model.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return loss

    def discard_gradients(self):
        self.model.zero_grad(set_to_none=True)
        if self.masters is not None:
            torch._foreach_zero_([m.grad for m in self.masters])


def random_batch(config, batch, source, target, seed, device):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, config.vocab_size, (batch, source), generator=generator)
    labels = torch.randint(0, config.vocab_size, (batch, target), generator=generator)
    attention_mask = torch.ones(batch, source, dtype=torch.long)
    return input_ids.to(device), attention_mask.to(device), labels.to(device)


def release_cached(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def largest_fitting_batch(step, config, args, device, probes):
    """One whole step at batch 1, 2, 4, ... up to --max_batch_size, until one runs out of memory."""
    print(f"batch size: trying 1, 2, 4, ... up to {args.max_batch_size} until a step runs out "
          f"of memory", flush=True)
    largest, b = 0, 1
    while b <= args.max_batch_size:
        probe = {"batch": b, "fits": False, "seconds": 0.0}
        try:
            batch = random_batch(config, b, args.source_length, args.target_length, args.seed,
                                 device)
            start = time.perf_counter()
            step.run(batch)
            probe.update(fits=True, seconds=time.perf_counter() - start)
            largest = b
            print(f"  batch {b}: fits (step {probe['seconds']:.3f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - only out-of-memory errors end the search
            if not is_out_of_memory(e):
                raise
            print(f"  batch {b}: out of memory", flush=True)
        probes.append(probe)
        batch = None
        if not probe["fits"]:
            step.discard_gradients()
            break
        b *= 2
    release_cached(device)
    if largest == 0:
        raise SystemExit(f"{args.model_id} does not fit on {device} even at batch 1")
    return largest


def build_model(config, args, device):
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        # Initialise on the GPU: the CPU would take minutes for flan-t5-xl.
        with torch.device(device):
            model = transformers.T5ForConditionalGeneration(config)
    else:
        model = transformers.T5ForConditionalGeneration(config)
    if args.bf16:
        model = model.to(torch.bfloat16)
    model.to(device)
    if args.gradient_checkpointing:
        enable = model.gradient_checkpointing_enable
        if "gradient_checkpointing_kwargs" in inspect.signature(enable).parameters:
            enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            enable()  # transformers 4.26: torch.utils.checkpoint's default
    model.config.use_cache = False  # no KV cache in training (HF turns it off with checkpointing)
    model.train()
    return model


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_id", required=True)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--bf16", type=parse_bool, default=False)
    parser.add_argument("--batch_size", type=parse_batch_size, default=4)
    parser.add_argument("--max_batch_size", type=int, default=1024)
    parser.add_argument("--source_length", type=int, default=512)
    parser.add_argument("--target_length", type=int, default=128)
    parser.add_argument("--gradient_checkpointing", type=parse_bool, default=False)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--peak_tflops", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.max_batch_size < 1:
        parser.error("--steps must be >= 1, --warmup >= 0, --max_batch_size >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA device")
        sys.exit(77)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda", torch.cuda.current_device()) if args.device == "cuda" \
        else torch.device("cpu")
    config = make_config(args.model_id)
    model = build_model(config, args, device)
    step = TrainingStep(model, args, device)
    params = sum(p.numel() for p in model.parameters())
    device_name = "cpu" if device.type == "cpu" else \
        f"cuda:{device.index} ({torch.cuda.get_device_name(device)})"
    dtype = "bf16" if args.bf16 else "f32"
    print(f"model {args.model_id} (transformers {transformers.__version__}, torch "
          f"{torch.__version__}, random init), {dtype}, {params} parameters, dropout "
          f"{config.dropout_rate}{', gradient checkpointing' if args.gradient_checkpointing else ''}")
    print(f"device: {device_name}; step: forward, loss, backward, fp32 accumulation, clipping at "
          f"norm 1, AdamW{' (fused)' if device.type == 'cuda' else ''}")

    probes = []
    batch_size = args.batch_size or largest_fitting_batch(step, config, args, device, probes)
    s, t = args.source_length, args.target_length
    print(f"batch {batch_size} x source {s} / target {t} tokens; threads: torch "
          f"{torch.get_num_threads()}", flush=True)
    flops = training_step_flops(config, batch_size, s, t)
    total_flops = sum(flops.values())
    peak = args.peak_tflops or (H100_DENSE_BF16_TFLOPS if device.type == "cuda" and args.bf16
                                else None)
    result = {
        "kind": "training_step", "implementation": "transformers+torch",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "model_id": args.model_id, "parameters": params, "device": device_name, "dtype": dtype,
        "precision": "bf16 parameters and activations; fp32 masters, moments and gradient "
                     "accumulators" if args.bf16 else "fp32",
        "optimizer_step": True, "gradient_checkpointing": args.gradient_checkpointing,
        "batch_size": batch_size, "batch_size_mode": "fixed" if args.batch_size else "auto",
        "max_batch_size": args.max_batch_size, "batch_probe": probes,
        "source_length": s, "target_length": t, "steps": args.steps, "warmup": args.warmup,
        "model_flops_per_step": total_flops, "model_flops_breakdown": flops,
        "six_n_all_tokens_flops": 6.0 * params * batch_size * (s + t),
        "peak_tflops": peak, "out_of_memory": False,
    }

    def write_json():
        if args.json:
            with open(args.json + ".tmp", "w") as f:
                json.dump(result, f, indent=2)
            os.replace(args.json + ".tmp", args.json)

    batch = random_batch(config, batch_size, s, t, args.seed, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    losses, seconds = [], []
    try:
        for _ in range(args.warmup):
            losses.append(step.run(batch))
        for _ in range(args.steps):
            start = time.perf_counter()
            losses.append(step.run(batch))
            seconds.append(time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001 - an out-of-memory batch is a result, not a crash
        if not is_out_of_memory(e):
            raise
        print(f"out of memory at batch {batch_size}")
        result.update(out_of_memory=True, error=str(e)[:2000])
        write_json()
        sys.exit(3)

    median = statistics.median_high(seconds)  # the middle run, as t5zero's median
    tokens = batch_size * (s + t)
    mfu = total_flops / (median * peak * 1e12) if peak else None
    state_bytes = lambda tensors: sum(x.numel() * x.element_size() for x in tensors)  # noqa: E731
    moments = [v for st in step.optimizer.state.values() for k, v in st.items()
               if k in ("exp_avg", "exp_avg_sq")]
    memory = {
        "source": "torch.cuda caching allocator" if device.type == "cuda" else "process",
        "peak_allocated_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda"
        else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved(device) if device.type == "cuda"
        else None,
        "parameter_bytes": state_bytes(step.params),
        "master_bytes": state_bytes(step.masters) if step.masters else 0,
        "gradient_accumulator_bytes": state_bytes([m.grad for m in step.masters])
        if step.masters else state_bytes(step.params),
        "optimizer_moment_bytes": state_bytes(moments),
        "peak_rss_bytes": peak_rss_bytes(),
    }
    result.update(loss_first=losses[0], step_seconds=seconds, step_seconds_median=median,
                  tokens_per_s=tokens / median, model_tflops_per_s=total_flops / median * 1e-12,
                  mfu=mfu, memory=memory)
    print(f"loss at step 0: {losses[0]:.4f}")
    print(f"step (forward + loss + backward + clip + AdamW): median {median:.3f} s over "
          f"{args.steps} steps (min {min(seconds):.3f}, max {max(seconds):.3f}) after "
          f"{args.warmup} warm-up")
    print(f"tokens/s: {tokens / median:.0f} (source + target tokens); "
          f"{batch_size / median:.2f} rows/s")
    print(f"model FLOPs: {total_flops * 1e-9:.4g} GFLOP per step, "
          f"{total_flops / median * 1e-9:.1f} GFLOP/s")
    print(f"MFU: {100 * mfu:.1f}% of {peak:.0f} TFLOP/s" if mfu is not None
          else "MFU: n/a (give the device's peak with --peak_tflops)")
    if device.type == "cuda":
        print(f"peak memory ({device_name}, torch's caching allocator): allocated "
              f"{memory['peak_allocated_bytes'] / 2**20:.1f} MiB, reserved "
              f"{memory['peak_reserved_bytes'] / 2**20:.1f} MiB")
    print(f"held between steps: parameters {memory['parameter_bytes'] / 2**20:.1f} MiB, fp32 "
          f"masters {memory['master_bytes'] / 2**20:.1f} MiB, fp32 gradient accumulators "
          f"{memory['gradient_accumulator_bytes'] / 2**20:.1f} MiB, AdamW moments "
          f"{memory['optimizer_moment_bytes'] / 2**20:.1f} MiB")
    print(f"peak resident memory: {memory['peak_rss_bytes'] / 2**20:.0f} MiB")
    write_json()


if __name__ == "__main__":
    main()
