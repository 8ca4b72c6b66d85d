// ZeRO-3 on the GPU (ctest labels cuda and mpi): 2 ranks share one GPU, their collectives staged
// through host memory, and train together; rank 0 then trains the same global batches alone on
// the CPU (gradient accumulation over the same rows). Losses, gradient norms and final weights
// agree within the GPU-vs-CPU tolerance. Without a GPU every rank exits 77 (skipped).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "tensor/device.h"
#include "train/train_job.h"
#include "train_test_data.h"
#include "zero_test_support.h"

using namespace t5zero;
using namespace t5zero::testing;

TEST_CASE("ZeRO-3 over ranks sharing a GPU trains as one CPU process accumulating their batches") {
  const int world = g_comm->size();
  struct Case {
    bool bf16;
    bool offload;  // optimizer state and parameter shards in host memory
  };
  for (const Case c : {Case{false, false}, Case{true, false}, Case{true, true}}) {
    const bool bf16 = c.bf16;
    CAPTURE(bf16);
    CAPTURE(c.offload);
    const std::string folder = shared_folder(
        std::string(bf16 ? "cuda_zero_bf16" : "cuda_zero_fp32") + (c.offload ? "_offload" : ""));
    if (g_comm->rank() == 0) {
      write_rows_dataset(folder + "/data", 256);
      write_zero_config(folder + "/ds.json", 3, c.offload);
    }
    g_comm->barrier();

    TrainingArgs args = run_args(folder, 2, bf16);
    args.deepspeed = folder + "/ds.json";
    const int64_t steps = std::min<int64_t>(4, kTrainRows / (2 * world));
    args.max_steps = steps;
    args.device = "cuda";
    args.output_dir = folder + "/gpu";
    std::ostringstream log;
    const TrainJobResult gpu = run_training_job(args, log, {}, g_comm);
    REQUIRE(gpu.train.steps.size() == static_cast<size_t>(steps));
    if (g_comm->rank() == 0) {
      CHECK(log.str().find("on cuda:0") != std::string::npos);
      CHECK((log.str().find("parameter shards on the host") != std::string::npos) == c.offload);
      TrainingArgs cpu_args = args;
      cpu_args.device = "cpu";
      cpu_args.output_dir = folder + "/cpu";
      cpu_args.gradient_accumulation_steps = world;
      std::ostringstream cpu_log;
      const TrainJobResult cpu = run_training_job(cpu_args, cpu_log);
      REQUIRE(cpu.train.steps.size() == static_cast<size_t>(steps));
      for (size_t s = 0; s < static_cast<size_t>(steps); ++s) {
        CAPTURE(s);
        CHECK(gpu.train.steps[s].tokens == cpu.train.steps[s].tokens);
        CHECK(relative_difference(gpu.train.steps[s].loss, cpu.train.steps[s].loss) <
              (bf16 ? 2e-2 : 1e-4));
        CHECK(relative_difference(gpu.train.steps[s].grad_norm, cpu.train.steps[s].grad_norm) <
              (bf16 ? 5e-2 : 1e-3));
      }
      const double worst = largest_weight_difference(folder + "/gpu/model.safetensors",
                                                     folder + "/cpu/model.safetensors");
      MESSAGE("largest weight difference GPU vs CPU ", worst);
      CHECK(worst < (bf16 ? 3e-2 : 1e-4));
      std::filesystem::remove_all(folder);
    }
    g_comm->barrier();
  }
}

int main(int argc, char** argv) {
  const bool no_gpu = !cuda_compiled() || cuda_device_count() == 0;
  if (no_gpu) std::puts("skipped: no CUDA device");
  return run_mpi_doctest(argc, argv, no_gpu);
}
