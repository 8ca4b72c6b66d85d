"""Puts a `t5zero bench` training-step JSON beside bench_step_torch.py's for the same step: step
time, tokens/s, MFU, peak memory and the ratio PyTorch / t5zero (above 1: t5zero is faster).
Checks that both measured the same step (model, precision, checkpointing, batch, lengths, model
FLOPs). Standard library only; write_results.py uses compare() too.

usage: python3 compare_steps.py OURS.json TORCH.json    (prints one line per figure)
"""
import json
import sys

SAME = ("model_id", "dtype", "gradient_checkpointing", "source_length", "target_length")


def peak_bytes(result):
    """The GPU allocator's peak, or the process's peak resident set for a CPU step."""
    memory = result.get("memory") or {}
    if str(result.get("device", "")).startswith("cpu"):
        return memory.get("peak_rss_bytes")
    return memory.get("peak_allocated_bytes")


def compare(ours, torch):
    """A summary of the pair, with "problems" naming anything that makes the ratio meaningless."""
    problems = [f"{key}: t5zero {ours.get(key)!r}, PyTorch {torch.get(key)!r}"
                for key in SAME if ours.get(key) != torch.get(key)]
    summary = {key: ours.get(key) for key in SAME}
    summary.update(device=ours.get("device"), batch_size=ours.get("batch_size"),
                   torch_batch_size=torch.get("batch_size"),
                   torch_out_of_memory=bool(torch.get("out_of_memory")))
    if ours.get("batch_size") != torch.get("batch_size"):
        problems.append(f"batch_size: t5zero {ours.get('batch_size')}, PyTorch "
                        f"{torch.get('batch_size')}")
    elif abs(ours["model_flops_per_step"] - torch["model_flops_per_step"]) > \
            1e-9 * ours["model_flops_per_step"]:
        problems.append(f"model FLOPs: t5zero {ours['model_flops_per_step']:.6g}, PyTorch "
                        f"{torch['model_flops_per_step']:.6g} (the two counts disagree)")
    for side, result in (("t5zero", ours), ("torch", torch)):
        summary[f"{side}_step_seconds"] = result.get("step_seconds_median")
        summary[f"{side}_tokens_per_s"] = result.get("tokens_per_s")
        summary[f"{side}_mfu"] = result.get("mfu")
        summary[f"{side}_peak_bytes"] = peak_bytes(result)
    ratio = None
    if not problems and not summary["torch_out_of_memory"]:
        ratio = torch["step_seconds_median"] / ours["step_seconds_median"]
    summary["torch_over_t5zero"] = ratio
    summary["problems"] = problems
    return summary


def describe(summary):
    """The comparison as the lines check.sh prints."""
    head = (f"{summary['model_id']} {summary['dtype']} "
            f"{'checkpointing' if summary['gradient_checkpointing'] else 'no checkpointing'}, "
            f"batch {summary['batch_size']} x {summary['source_length']}/"
            f"{summary['target_length']} on {summary['device']}")
    lines = [f"step: {head}"]

    def side(name, key):
        seconds = summary[f"{key}_step_seconds"]
        if seconds is None:
            return f"  {name:8} out of memory at batch {summary['torch_batch_size']}"
        mfu = summary[f"{key}_mfu"]
        peak = summary[f"{key}_peak_bytes"]
        return (f"  {name:8} {seconds:8.3f} s/step  {summary[f'{key}_tokens_per_s']:10.0f} tokens/s"
                f"  MFU {'n/a' if mfu is None else f'{100 * mfu:5.1f}%'}"
                f"  peak {'n/a' if peak is None else f'{peak / 2**30:.2f} GiB'}")

    lines.append(side("t5zero", "t5zero"))
    lines.append(side("PyTorch", "torch"))
    if summary["torch_over_t5zero"] is not None:
        lines.append(f"  PyTorch / t5zero step time: {summary['torch_over_t5zero']:.2f}x "
                     f"(above 1: t5zero is faster)")
    for p in summary["problems"]:
        lines.append(f"  not comparable: {p}")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1]) as f:
        ours = json.load(f)
    with open(sys.argv[2]) as f:
        torch = json.load(f)
    summary = compare(ours, torch)
    print(describe(summary))
    sys.exit(1 if summary["problems"] else 0)


if __name__ == "__main__":
    main()
