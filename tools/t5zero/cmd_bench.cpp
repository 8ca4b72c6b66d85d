// t5zero bench: speed measurements, each printed beside its baseline.
//   --ops: op micro-benchmarks against BLAS called directly (cmd_bench_ops.cpp);
//   --model_id: one training step of a T5 on the CPU or a GPU (cmd_bench_step.cpp): step time,
//     tokens/s, model FLOPs and MFU, peak memory. Its PyTorch twin is
//     tools/bench/bench_step_torch.py (tools/device/check.sh runs both on the GPU), and
//     tools/bench/bench_model_cpu.sh compares forward + loss + backward on the CPU.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "cmd_bench.h"
#include "commands.h"
#include "flags.h"

namespace t5zero::cli {

namespace bench {

double seconds_of(const std::function<void()>& run) {
  auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void print_blas() {
  const std::string core = openblas_get_corename();
  std::printf("BLAS: %s; kernels: %s\n", openblas_get_config(), core.c_str());
  // OpenBLAS releases older than the CPU fall back to their AVX2 (Haswell) kernels.
  const bool avx512_kernels =
      core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
  if (__builtin_cpu_supports("avx512f") && !avx512_kernels) {
    std::printf(
        "note: this CPU has AVX-512 but OpenBLAS chose its %s kernels; "
        "OPENBLAS_CORETYPE=SkylakeX in the environment selects the AVX-512 ones\n",
        core.c_str());
  }
}

}  // namespace bench

namespace {

int64_t at_least(const FlagSet& flags, const std::string& name, int64_t minimum) {
  const int64_t v = flags.get_int(name);
  if (v < minimum) {
    throw UsageError("--" + name + ": expected >= " + std::to_string(minimum) + ", got " +
                     std::to_string(v));
  }
  return v;
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);  // the step picks the GPU by local rank
  throw UsageError("--device: expected cpu or cuda, got '" + text + "'");
}

// --bf16 (the recipe's flag) or the older --dtype; both given must agree.
DType parse_dtype(const FlagSet& flags) {
  const std::string dtype = flags.get_string("dtype");
  if (dtype != "f32" && dtype != "bf16") {
    throw UsageError("--dtype: expected f32 or bf16, got '" + dtype + "'");
  }
  const bool bf16 = flags.get_bool("bf16");
  if (flags.was_set("dtype") && flags.was_set("bf16") && (dtype == "bf16") != bf16) {
    throw UsageError("--dtype " + dtype + " and --bf16 " + (bf16 ? "true" : "false") +
                     " disagree: pass one of them");
  }
  if (flags.was_set("dtype")) return dtype == "bf16" ? DType::bf16 : DType::f32;
  return bf16 ? DType::bf16 : DType::f32;
}

// A positive integer, or "auto" (nullopt).
std::optional<int64_t> parse_batch_size(const std::string& text) {
  if (text == "auto") return std::nullopt;
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < 1) {
    throw UsageError("--batch_size: expected a positive integer or auto, got '" + text + "'");
  }
  return value;
}

}  // namespace

int run_bench(int argc, char** argv) {
  FlagSet flags("bench", "Measure speed; every figure is printed next to its baseline.");
  flags.add_bool("ops", false, "op micro-benchmarks (matmul GFLOP/s against BLAS called directly)");
  flags.add_string("model_id", "",
                   "time a training step of this model: a built-in architecture (random init, "
                   "e.g. flan-t5-base), a model folder or a hub id");
  flags.add_string("device", "cpu", "training step: cpu or cuda (the GPU of the local rank)");
  flags.add_bool("bf16", false,
                 "training step: bf16 parameters and activations with fp32 master weights, "
                 "moments and gradient accumulators (the recipe's --bf16); false: fp32");
  flags.add_string("dtype", "f32", "training step: f32 or bf16 (the same as --bf16)");
  flags.add_string("batch_size", "4",
                   "training step: rows per batch, or auto: the largest of 1, 2, 4, ... (up to "
                   "--max_batch_size) whose step does not run out of memory");
  flags.add_int("max_batch_size", 1024,
                "training step: the largest batch --batch_size auto tries (required with "
                "--device cpu, where no allocator limit stops the search)");
  flags.add_int("source_length", 512, "training step: encoder tokens per row");
  flags.add_int("target_length", 128, "training step: decoder tokens (labels) per row");
  flags.add_bool("gradient_checkpointing", false,
                 "training step: recompute each block in backward");
  flags.add_bool("optimizer", true,
                 "training step: the trainer's whole step (forward, loss, backward, fp32 "
                 "accumulation, global-norm clipping, AdamW); false: forward + loss + backward "
                 "only, as tools/bench/bench_model_cpu.py times PyTorch");
  flags.add_int("steps", 5, "training step: measured steps (the median is printed)");
  flags.add_int("warmup", 1, "unmeasured steps (or runs, with --ops) before measuring");
  flags.add_double("peak_tflops", 0,
                   "training step: the device's peak TFLOP/s for MFU (0: 989, the H100 SXM's "
                   "dense bf16 peak, for bf16 on cuda; otherwise MFU is not reported)");
  flags.add_string("json", "", "training step: also write the figures to this JSON file");
  flags.add_bool("profile", false, "training step: print the time per op, forward and backward");
  flags.add_int("seed", 42, "training step: seed of the random init, batch and dropout");
  flags.add_int("threads", 0,
                "threads: the OpenMP team, and OpenBLAS's for the --ops baseline (0: their "
                "defaults)");
  flags.add_int("repeats", 7, "--ops: measured runs per figure (the median is printed)");
  if (!flags.parse(argc, argv, 2)) return 0;
  const bool ops = flags.get_bool("ops");
  const std::string model_id = flags.get_string("model_id");
  if (ops == !model_id.empty()) {
    throw UsageError(ops ? "pass --ops or --model_id, not both"
                         : "nothing to measure: pass --ops or --model_id");
  }
  const int64_t threads = at_least(flags, "threads", 0);
  const int64_t warmup = at_least(flags, "warmup", 0);
  if (threads > 0) {
    omp_set_num_threads(static_cast<int>(threads));
    openblas_set_num_threads(static_cast<int>(threads));
  }
  if (ops) {
    bench::run_ops_bench(static_cast<int>(warmup), static_cast<int>(at_least(flags, "repeats", 1)));
    return 0;
  }
  bench::StepBenchOptions o;
  o.model_id = model_id;
  o.device = parse_device(flags.get_string("device"));
  o.dtype = parse_dtype(flags);
  o.batch_size = parse_batch_size(flags.get_string("batch_size"));
  o.max_batch_size = at_least(flags, "max_batch_size", 1);
  if (!o.batch_size && o.device.is_cpu() && !flags.was_set("max_batch_size")) {
    throw UsageError(
        "--batch_size auto on the CPU needs --max_batch_size: host memory has no allocator "
        "limit that would stop the search");
  }
  o.source_length = at_least(flags, "source_length", 1);
  o.target_length = at_least(flags, "target_length", 1);
  o.gradient_checkpointing = flags.get_bool("gradient_checkpointing");
  o.optimizer = flags.get_bool("optimizer");
  o.steps = at_least(flags, "steps", 1);
  o.warmup = warmup;
  const double peak = flags.get_double("peak_tflops");
  if (peak < 0) {
    throw UsageError("--peak_tflops: expected >= 0, got " + flags.get_string("peak_tflops"));
  }
  if (peak > 0) {
    o.peak_tflops = peak;
  } else if (o.device.is_cuda() && o.dtype == DType::bf16) {
    o.peak_tflops = 989.0;  // H100 SXM dense bf16 (DESIGN.md §6)
  }
  o.json_path = flags.get_string("json");
  o.profile = flags.get_bool("profile");
  o.seed = static_cast<uint64_t>(flags.get_int("seed"));
  return bench::run_step_bench(o);
}

}  // namespace t5zero::cli
