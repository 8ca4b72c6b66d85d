#!/usr/bin/env python3
"""Writes the optimizer fixtures in tests/fixtures/optim/ (versions in requirements.txt):

- adamw.safetensors: torch.optim.AdamW (foreach=False: the single-tensor path torch takes on the
  CPU) for 10 steps on random tensors, several lr/betas/eps/weight_decay cases, one with an lr
  that changes every step. Per case k: case{k}.hyper F64 [beta1, beta2, eps, weight_decay],
  case{k}.lrs F64 [10], case{k}.param0 F32 [n], case{k}.grads F32 [10, n], case{k}.params F32
  [10, n] (after each step), case{k}.exp_avg / case{k}.exp_avg_sq F32 [n] (after the last).
- grad_clip.safetensors: torch.nn.utils.clip_grad_norm_ on lists of gradients. Per case k:
  case{k}.max_norm F64 [1], case{k}.total_norm F32 [1] (what torch returns), case{k}.grad{i}
  F32 (before) and case{k}.clipped{i} F32 (after).
- lr_schedules.txt: the lr of every optimizer step under DeepSpeed 0.8's WarmupLR and
  WarmupDecayLR (a transcription of deepspeed/runtime/lr_schedules.py at v0.8.0, driven as the
  DeepSpeed engine drives it: the optimizer's own lr for step 1, scheduler.step() after every
  step) and under transformers' get_linear_schedule_with_warmup (the real function).
  Lines: "case NAME KIND BASE_LR MIN_LR MAX_LR WARMUP WARMUP_TYPE TOTAL" then "lr STEP VALUE".

Usage: python tools/reference/make_optim_fixture.py [--out tests/fixtures/optim]
"""

import argparse
import math
import os

import torch
import transformers
from safetensors.torch import save_file

STEPS = 10


def adamw_fixture(path):
    gen = torch.Generator().manual_seed(1234)
    # (lrs per step, beta1, beta2, eps, weight_decay, n)
    warmup_lrs = [3e-3 * min(1.0, (s + 1) / 4) for s in range(STEPS)]
    cases = [
        ([1e-3] * STEPS, 0.9, 0.999, 1e-8, 0.01, 517),
        ([3e-3] * STEPS, 0.8, 0.95, 1e-6, 0.1, 300),
        ([1e-4] * STEPS, 0.9, 0.999, 1e-8, 0.0, 256),  # the reference recipe
        ([5e-2] * STEPS, 0.3, 0.5, 1e-3, 0.5, 129),  # lerp weight 1-beta1 >= 0.5
        (warmup_lrs, 0.9, 0.98, 1e-8, 0.05, 200),
    ]
    tensors = {}
    for k, (lrs, beta1, beta2, eps, wd, n) in enumerate(cases):
        param = torch.randn(n, generator=gen)
        # Gradients over several magnitudes, so that eps matters for some elements.
        scale = torch.logspace(-6, 1, n)[torch.randperm(n, generator=gen)]
        grads = torch.randn(STEPS, n, generator=gen) * scale
        p = torch.nn.Parameter(param.clone())
        opt = torch.optim.AdamW(
            [p], lr=lrs[0], betas=(beta1, beta2), eps=eps, weight_decay=wd, foreach=False
        )
        after = []
        for s in range(STEPS):
            for group in opt.param_groups:
                group["lr"] = lrs[s]
            p.grad = grads[s].clone()
            opt.step()
            after.append(p.detach().clone())
        state = opt.state[p]
        tensors[f"case{k}.hyper"] = torch.tensor([beta1, beta2, eps, wd], dtype=torch.float64)
        tensors[f"case{k}.lrs"] = torch.tensor(lrs, dtype=torch.float64)
        tensors[f"case{k}.param0"] = param
        tensors[f"case{k}.grads"] = grads
        tensors[f"case{k}.params"] = torch.stack(after)
        tensors[f"case{k}.exp_avg"] = state["exp_avg"].clone()
        tensors[f"case{k}.exp_avg_sq"] = state["exp_avg_sq"].clone()
    save_file(tensors, path, metadata={"torch": torch.__version__, "cases": str(len(cases))})


def grad_clip_fixture(path):
    gen = torch.Generator().manual_seed(99)
    # (shapes, gradient scale, max_norm)
    cases = [
        ([(100,), (37, 5), (1000,)], 1.0, 1.0),  # clipped
        ([(100,), (37, 5), (1000,)], 0.01, 1.0),  # norm below max_norm: unchanged
        ([(12289,)], 3.0, 0.5),  # several fp32 blocks, a partial last one
        ([(64,), (3, 3)], 1e-3, 0.25),
    ]
    tensors = {}
    for k, (shapes, scale, max_norm) in enumerate(cases):
        params = []
        for i, shape in enumerate(shapes):
            g = torch.randn(shape, generator=gen) * scale
            p = torch.nn.Parameter(torch.zeros(shape))
            p.grad = g.clone()
            params.append(p)
            tensors[f"case{k}.grad{i}"] = g
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
        for i, p in enumerate(params):
            tensors[f"case{k}.clipped{i}"] = p.grad.clone()
        tensors[f"case{k}.max_norm"] = torch.tensor([max_norm], dtype=torch.float64)
        tensors[f"case{k}.total_norm"] = total.reshape(1).to(torch.float32)
    save_file(tensors, path, metadata={"torch": torch.__version__, "cases": str(len(cases))})


class DeepSpeedWarmupLR:
    """deepspeed/runtime/lr_schedules.py v0.8.0 WarmupLR, one param group."""

    def __init__(self, min_lr, max_lr, num_steps, warmup_type):
        self.min_lr = min_lr
        self.delta_lr = max_lr - min_lr
        self.warmup_num_steps = max(2, num_steps)
        self.warmup_type = warmup_type
        self.inverse_log_warm_up = 1.0 / math.log(self.warmup_num_steps)
        self.last_batch_iteration = -1

    def _warmup_gamma(self):
        if self.warmup_type == "log":
            return self.inverse_log_warm_up * math.log(self.last_batch_iteration + 1)
        return self.last_batch_iteration / self.warmup_num_steps

    def _get_gamma(self):
        if self.last_batch_iteration < self.warmup_num_steps:
            return self._warmup_gamma()
        return 1.0

    def get_lr(self):
        return self.min_lr + self.delta_lr * self._get_gamma()

    def step(self):
        self.last_batch_iteration += 1
        return self.get_lr()


class DeepSpeedWarmupDecayLR(DeepSpeedWarmupLR):
    """deepspeed/runtime/lr_schedules.py v0.8.0 WarmupDecayLR."""

    def __init__(self, total_num_steps, min_lr, max_lr, num_steps, warmup_type):
        super().__init__(min_lr, max_lr, num_steps, warmup_type)
        self.total_num_steps = total_num_steps

    def _get_gamma(self):
        if self.last_batch_iteration < self.warmup_num_steps:
            return self._warmup_gamma()
        return max(
            0.0,
            float(self.total_num_steps - self.last_batch_iteration)
            / float(max(1.0, self.total_num_steps - self.warmup_num_steps)),
        )


def deepspeed_lrs(scheduler, base_lr, steps):
    # The engine: the optimizer starts at its configured lr; after each step, scheduler.step().
    lrs, lr = [], base_lr
    for _ in range(steps):
        lrs.append(lr)
        lr = scheduler.step()
    return lrs


def hf_linear_lrs(base_lr, warmup, total, steps):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = transformers.get_linear_schedule_with_warmup(opt, warmup, total)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def lr_fixture(path):
    lines = [
        f"# DeepSpeed 0.8 WarmupLR/WarmupDecayLR (transcribed), transformers "
        f"{transformers.__version__} get_linear_schedule_with_warmup; lr of optimizer steps 1..N",
        "# case NAME KIND BASE_LR MIN_LR MAX_LR WARMUP WARMUP_TYPE TOTAL / lr STEP VALUE",
    ]

    def add(name, kind, base_lr, min_lr, max_lr, warmup, warmup_type, total, lrs):
        lines.append(f"case {name} {kind} {base_lr!r} {min_lr!r} {max_lr!r} {warmup} {warmup_type} {total}")
        for step, lr in enumerate(lrs, start=1):
            lines.append(f"lr {step} {lr!r}")

    # The reference run: lr 1e-4, warmup 0 (clamped to 2: one step at warmup_min_lr).
    add("reference_run", "WarmupLR", 1e-4, 0.0, 1e-4, 0, "log", 0,
        deepspeed_lrs(DeepSpeedWarmupLR(0.0, 1e-4, 0, "log"), 1e-4, 8))
    for warmup_type in ("log", "linear"):
        add(f"warmup_{warmup_type}", "WarmupLR", 3e-4, 1e-5, 3e-4, 10, warmup_type, 0,
            deepspeed_lrs(DeepSpeedWarmupLR(1e-5, 3e-4, 10, warmup_type), 3e-4, 16))
        add(f"warmup_decay_{warmup_type}", "WarmupDecayLR", 2e-4, 0.0, 2e-4, 5, warmup_type, 20,
            deepspeed_lrs(DeepSpeedWarmupDecayLR(20, 0.0, 2e-4, 5, warmup_type), 2e-4, 25))
    add("warmup_one_step", "WarmupLR", 1e-3, 0.0, 1e-3, 1, "linear", 0,
        deepspeed_lrs(DeepSpeedWarmupLR(0.0, 1e-3, 1, "linear"), 1e-3, 5))
    add("hf_linear_warmup", "linear", 5e-4, 0.0, 0.0, 3, "-", 10, hf_linear_lrs(5e-4, 3, 10, 12))
    add("hf_linear_no_warmup", "linear", 1e-4, 0.0, 0.0, 0, "-", 6, hf_linear_lrs(1e-4, 0, 6, 7))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/optim")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    adamw_fixture(os.path.join(args.out, "adamw.safetensors"))
    grad_clip_fixture(os.path.join(args.out, "grad_clip.safetensors"))
    lr_fixture(os.path.join(args.out, "lr_schedules.txt"))


if __name__ == "__main__":
    main()
