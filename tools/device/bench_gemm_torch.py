"""The baseline for bench_gemm: torch.matmul on the same GEMMs, read from bench_gemm's JSON so the
two time identical shapes, layouts and dtype. Writes the torch figures and the ratio per GEMM.

usage: python3 bench_gemm_torch.py OURS.json OUT.json [--repeats N]
Exits 77 (skipped) without torch or a CUDA device.
"""
import json
import statistics
import sys


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    ours_path, out_path = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 20
    try:
        import torch
    except ImportError:
        print("skipped: torch is not installed")
        sys.exit(77)
    if not torch.cuda.is_available():
        print("skipped: no CUDA device")
        sys.exit(77)
    torch.backends.cuda.matmul.allow_tf32 = False  # as bench_gemm: TF32 off
    with open(ours_path) as f:
        ours = json.load(f)
    dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[ours["dtype"]]
    peak = ours["peak_tflops"]
    results = []
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}, {ours['dtype']}")
    print(f"{'model':13} {'gemm':18} {'form':6} {'torch TF/s':>10} {'ours TF/s':>10} {'ours/torch':>10}")
    for r in ours["results"]:
        b, m, n, k = r["batch"], r["m"], r["n"], r["k"]
        # Stored layouts as bench_gemm's: a transposed operand is stored [cols, rows].
        a = torch.rand((b, k, m) if r["transpose_a"] else (b, m, k), device="cuda") * 2 - 1
        w = torch.rand((b, n, k) if r["transpose_b"] else (b, k, n), device="cuda") * 2 - 1
        a, w = a.to(dtype), w.to(dtype)
        if b == 1:
            a, w = a[0], w[0]
        left = a.mT if r["transpose_a"] else a
        right = w.mT if r["transpose_b"] else w
        for _ in range(3):
            torch.matmul(left, right)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(repeats):
            start.record()
            torch.matmul(left, right)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        ms = statistics.median(times)
        tflops = 2.0 * b * m * n * k / (ms * 1e-3) * 1e-12
        ratio = r["tflops"] / tflops
        results.append(dict(r, torch_ms=ms, torch_tflops=tflops, ours_over_torch=ratio,
                            torch_fraction_of_peak=tflops / peak))
        print(f"{r['model']:13} {r['gemm']:18} {r['form']:6} {tflops:10.1f} {r['tflops']:10.1f} "
              f"{ratio:10.2f}")
    with open(out_path, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                   "dtype": ours["dtype"], "peak_tflops": peak, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
