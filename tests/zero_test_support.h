// What the multi-rank training tests share: one communicator per process, folders every rank
// agrees on, the run they all make, and weight comparison of saved models.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "dist/communicator.h"
#include "dist/mpi_runtime.h"
#include "io/safetensors_reader.h"
#include "train/training_args.h"

namespace t5zero::testing {

inline dist::Communicator* g_comm = nullptr;
inline constexpr int64_t kTrainRows = 22;  // tests/fixtures/train/rows.json

inline double relative_difference(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-12);
}

// A folder every rank agrees on (rank 0's name, broadcast).
inline std::string shared_folder(const std::string& name) {
  std::string path;
  if (g_comm->rank() == 0) {
    path = (std::filesystem::temp_directory_path() /
            ("t5zero_mpi_" + name + "_" + std::to_string(::getpid())))
               .string();
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  g_comm->broadcast(path, 0);
  return path;
}

// The run every rank makes: world W, micro-batch `micro`, no accumulation; the single-process
// twin accumulates W micro-batches of `micro` rows instead, so each optimizer step sees the same
// rows grouped the same way.
inline TrainingArgs run_args(const std::string& folder, int64_t micro, bool bf16) {
  TrainingArgs args;
  args.model_id = "t5-micro";  // random init from the seed: the same on every rank
  args.dataset_path = folder + "/data";
  args.bf16 = bf16;
  args.per_device_train_batch_size = micro;
  args.gradient_accumulation_steps = 1;
  args.max_steps = 4;
  args.lr = 1e-3;
  args.warmup_steps = 1;
  args.weight_decay = 0.01;
  args.max_grad_norm = 1.0;
  args.shuffle = true;
  args.seed = 11;
  args.gradient_checkpointing = bf16;
  args.logging_steps = 1;
  args.eval_strategy = IntervalStrategy::no;
  args.save_strategy = IntervalStrategy::no;
  args.load_best_model_at_end = false;
  args.device = "cpu";
  return args;
}

// A DeepSpeed config of this ZeRO stage (optionally offloading the optimizer and the parameters
// to the host), everything else "auto": written to `path`.
inline void write_zero_config(const std::string& path, int stage, bool offload) {
  std::ofstream out(path);
  out << "{\"zero_optimization\": {\"stage\": " << stage;
  if (offload) {
    out << ", \"offload_optimizer\": {\"device\": \"cpu\"}, \"offload_param\": {\"device\": "
           "\"cpu\"}";
  }
  out << "}, \"bf16\": {\"enabled\": \"auto\"}, \"train_micro_batch_size_per_gpu\": \"auto\", "
         "\"gradient_accumulation_steps\": \"auto\", \"gradient_clipping\": \"auto\"}";
}

// The largest absolute difference between the tensors of two safetensors files.
inline double largest_weight_difference(const std::string& a_path, const std::string& b_path) {
  const SafetensorsReader a = SafetensorsReader::open(a_path);
  const SafetensorsReader b = SafetensorsReader::open(b_path);
  T5_CHECK(a.tensors().size() == b.tensors().size(), a_path, " and ", b_path,
           " hold different tensors");
  double worst = 0;
  for (const SafetensorsTensorInfo& info : b.tensors()) {
    const std::vector<float> x = a.load(info.name).to(DType::f32).to_vector<float>();
    const std::vector<float> y = b.load(info.name).to(DType::f32).to_vector<float>();
    T5_CHECK(x.size() == y.size(), info.name, ": sizes differ");
    for (size_t i = 0; i < x.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(x[i] - y[i])));
    }
  }
  return worst;
}

// The main of an MPI doctest executable: every rank runs every test (the collectives need them
// all), rank 0 reports, and the job fails when any rank failed. `skip` (exit 77, ctest's skip)
// when the test cannot run here, e.g. no GPU.
inline int run_mpi_doctest(int argc, char** argv, bool skip = false) {
  dist::MpiRuntime mpi;
  std::unique_ptr<dist::Communicator> comm = dist::make_world_communicator();
  g_comm = comm.get();
  if (skip) return 77;
  doctest::Context context(argc, argv);
  if (comm->rank() != 0) context.setOption("out", "/dev/null");
  const int failed = context.run();
  double failures[] = {static_cast<double>(failed != 0)};
  comm->all_reduce_sum(failures);
  return failures[0] > 0 ? 1 : 0;
}

}  // namespace t5zero::testing
