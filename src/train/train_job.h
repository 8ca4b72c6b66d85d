// `t5zero train` without its command line: resolve the model and the dataset, plan the run
// (DeepSpeed config or flags), build the model in the run's precision (random init for built-in
// architectures, else the folder's weights), train, restore the best checkpoint when asked, save
// the final model as a Hugging Face folder in output_dir, and write run_summary.json.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "dist/communicator.h"
#include "train/trainer.h"
#include "train/training_args.h"
#include "train/training_plan.h"

namespace t5zero {

struct TrainJobResult {
  TrainResult train;
  TrainingPlan plan;
  std::string output_dir;
  std::string final_model_dir;  // "" when the run was interrupted
  std::string summary_path;
};

// Log lines go to `out` (rank 0's only). `on_step` is called after every optimizer step. A
// non-finite loss or gradient norm throws NonFiniteError after writing run_summary.json with
// status "non_finite". With a communicator of W > 1 ranks every rank calls this together: the
// parameters, gradients and optimizer state are partitioned by the ZeRO store (stage and
// persistence threshold from the DeepSpeed config; stage 3 without one), rank 0 writes.
TrainJobResult run_training_job(const TrainingArgs& args, std::ostream& out,
                                const std::function<void(const StepRecord&)>& on_step = {},
                                dist::Communicator* comm = nullptr);

}  // namespace t5zero
