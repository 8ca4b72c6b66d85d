// The parts of `t5zero bench`: the command and its flags (cmd_bench.cpp), op micro-benchmarks
// (cmd_bench_ops.cpp), the training-step benchmark (cmd_bench_step.cpp) and what that needs of
// a device beyond the op catalogue (cmd_bench_device.cpp).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tensor/caching_allocator.h"
#include "tensor/device.h"
#include "tensor/dtype.h"

namespace t5zero::cli::bench {

// ---- timing (cmd_bench.cpp) -------------------------------------------------------------------
double seconds_of(const std::function<void()>& run);
// The middle value (the upper one of an even count).
double median(std::vector<double> values);
// The BLAS build and the kernel family it picked, with a hint when AVX-512 goes unused.
void print_blas();

// ---- op micro-benchmarks (cmd_bench_ops.cpp) --------------------------------------------------
void run_ops_bench(int warmups, int repeats);

// ---- the training step (cmd_bench_step.cpp) ---------------------------------------------------
struct StepBenchOptions {
  std::string model_id;
  Device device;
  DType dtype = DType::f32;
  std::optional<int64_t> batch_size;  // nullopt: the largest power of two that fits
  int64_t max_batch_size = 1024;      // the largest batch the search tries
  int64_t source_length = 512;
  int64_t target_length = 128;
  bool gradient_checkpointing = false;
  bool optimizer = true;  // the trainer's whole step; false: forward + loss + backward
  int64_t steps = 5;
  int64_t warmup = 1;
  std::optional<double> peak_tflops;  // for MFU; nullopt: not reported
  std::string json_path;              // "" : no JSON
  bool profile = false;
  uint64_t seed = 42;
};

// Exit status: 0, or 77 (skipped) for --device cuda when no GPU is visible.
int run_step_bench(const StepBenchOptions& options);

// ---- devices (cmd_bench_device.cpp) -----------------------------------------------------------
// "cpu", or the GPU's ordinal and name.
std::string device_description(Device device);
// Waits until the device has finished the work submitted so far (a step's end on a GPU).
void synchronize(Device device);
// The memory a device's tensors come from: the GPU's caching allocator, or the host block cache
// (host blocks of at least 1 MiB; smaller ones come from malloc and are not counted).
MemoryStats memory_stats(Device device);
void reset_peak_memory(Device device);
// Gives cached free blocks back (after an out-of-memory probe).
void release_cached_memory(Device device);
// What a failed allocation throws: the caching allocator's "out of memory" error, or a CUDA
// call's out-of-memory status.
bool is_out_of_memory(const std::exception& error);
// This process's peak resident set, in bytes.
int64_t peak_rss_bytes();

}  // namespace t5zero::cli::bench
