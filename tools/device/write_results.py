"""Writes check.sh's results.json from its step table, ctest's JUnit report and the benchmark
JSON files, and prints the closing summary line. Standard library only.

usage: python3 write_results.py OUT.json MODE STEPS.tsv JUNIT.xml [BENCH.json...]
  MODE: "gpu" (the CUDA tests must pass) or "dry-run" (they must report the skip, and no GPU
        step may claim to have run)
  STEPS.tsv: one line per step: name <TAB> status (ok/failed/skipped) <TAB> seconds <TAB> detail
  BENCH.json: bench_gemm's and torch's GEMM figures, and training-step figures (`t5zero bench
        --json`, bench_step_torch.py --json), which are paired by step into "training_step"
Exit status 0 when the check met its mode's expectations, 1 otherwise.
"""
import json
import os
import sys
import xml.etree.ElementTree as ElementTree

from compare_steps import compare, describe

SKIP_MESSAGE = "skipped: no CUDA device"


def read_steps(path):
    steps = []
    with open(path) as f:
        for line in f:
            name, status, seconds, detail = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
            steps.append({"step": name, "status": status, "seconds": float(seconds or 0),
                          "detail": detail})
    return steps


def read_tests(path):
    """ctest's JUnit report: one entry per test with its status and output."""
    if not os.path.exists(path):
        return []
    tests = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        status = case.get("status") or ("failed" if case.find("failure") is not None else "run")
        if case.find("skipped") is not None:
            status = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            status = "failed"
        elif status == "run":
            status = "passed"
        output = case.findtext("system-out") or ""
        tests.append({"name": case.get("name"), "status": status,
                      "seconds": float(case.get("time") or 0),
                      "reported_skip": SKIP_MESSAGE in output,
                      "output_tail": output[-2000:]})
    return tests


def training_step_pairs(bench):
    """t5zero's and PyTorch's figures for the same step, compared (compare_steps.compare)."""
    runs = [r for r in bench.values() if r.get("kind") == "training_step"]

    def key(r):
        return (r.get("model_id"), r.get("dtype"), r.get("gradient_checkpointing"),
                str(r.get("device", "")).split(":")[0])

    pairs = []
    for ours in (r for r in runs if r.get("implementation") == "t5zero"):
        torch = [r for r in runs if r.get("implementation") != "t5zero" and key(r) == key(ours)]
        if torch:
            pairs.append(compare(ours, torch[0]))
        else:
            pairs.append(dict(model_id=ours.get("model_id"), dtype=ours.get("dtype"),
                              gradient_checkpointing=ours.get("gradient_checkpointing"),
                              batch_size=ours.get("batch_size"),
                              t5zero_step_seconds=ours.get("step_seconds_median"),
                              t5zero_mfu=ours.get("mfu"), torch_over_t5zero=None,
                              problems=[], note="no PyTorch run"))
    return pairs


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    out_path, mode, steps_path, junit_path = sys.argv[1:5]
    steps = read_steps(steps_path)
    tests = read_tests(junit_path)
    bench = {}
    for path in sys.argv[5:]:
        if os.path.exists(path):
            with open(path) as f:
                bench[os.path.basename(path)] = json.load(f)
    counts = {s: sum(t["status"] == s for t in tests) for s in ("passed", "failed", "skipped")}
    problems = [f"step {s['step']} {s['status']}" for s in steps if s["status"] == "failed"]
    pairs = training_step_pairs(bench)
    for pair in pairs:
        problems += [f"training step {pair['model_id']}: {p}" for p in pair["problems"]]
        if "note" not in pair:
            print(describe(pair))
    if mode != "gpu":
        problems += [f"step {s['step']} reports ok in a dry run" for s in steps
                     if "-cuda-" in s["step"] and s["status"] == "ok"]
    if not tests:
        problems.append("no CUDA test ran")
    if mode == "gpu":
        problems += [f"{t['name']} {t['status']}" for t in tests if t["status"] != "passed"]
    else:
        problems += [f"{t['name']} was not skipped" for t in tests if t["status"] != "skipped"]
        problems += [f"{t['name']} did not print '{SKIP_MESSAGE}'" for t in tests
                     if t["status"] == "skipped" and not t["reported_skip"]]
    result = {"mode": mode, "ok": not problems, "problems": problems, "counts": counts,
              "steps": steps, "tests": tests, "training_step": pairs, "bench": bench}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
    for p in problems:
        print(f"check: {p}")
    print(f"check ({mode}): {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped")
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
