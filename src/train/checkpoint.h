// Training checkpoints: OUTPUT_DIR/checkpoint-<step>/ holds everything a run needs to continue
// exactly where it stopped, and is itself a Hugging Face model folder:
//
//   config.json, generation_config.json, model.safetensors (+ tokenizer files)
//                              the model's weights in the run's dtype (transformers loads it)
//   optimizer.safetensors      f32 "exp_avg.<name>", "exp_avg_sq.<name>" per parameter, and
//                              "master.<name>" in bf16 runs (in fp32 the weights are the masters)
//   zero/optimizer-rank-<r>-of-<W>.safetensors
//                              instead, under ZeRO with W > 1 ranks: the same names, each rank's
//                              flat part of every parameter (elements [r·s, r·s + len) of the
//                              flattened parameter, s = ceil(numel / W))
//   trainer_state.json         step, data position, optimizer and scheduler state, the random
//                              state, the best checkpoint, and the batch layout it was made with
//
// The random state is (seed, step, samples seen): dropout masks are keyed by (seed, step, row)
// and epoch orders by (seed, epoch), so these counters restore every random draw.
// A checkpoint is built as "checkpoint-<step>.tmp-<pid>" and renamed when complete, so a folder
// named checkpoint-<step> is always whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"
#include "models/t5_model.h"
#include "train/mixed_precision.h"

namespace t5zero {

inline constexpr const char* kTrainerStateFile = "trainer_state.json";
inline constexpr const char* kOptimizerStateFile = "optimizer.safetensors";

// Where the run stands in its data.
struct DataPosition {
  int64_t epoch = 0;          // the epoch being trained
  int64_t step_in_epoch = 0;  // optimizer steps of that epoch already taken
  int64_t samples_seen = 0;   // rows trained on so far, over all epochs and ranks
};

struct TrainerState {
  int64_t global_step = 0;
  DataPosition data;
  uint64_t seed = 0;
  Precision precision = Precision::fp32;
  // The batch layout the data position refers to; a resume must use the same.
  int64_t world_size = 1;
  int64_t micro_batch_size = 0;
  int64_t gradient_accumulation_steps = 0;
  int64_t dataset_rows = 0;
  std::vector<int64_t> optimizer_group_steps;
  std::string scheduler_state;        // LrScheduler::state_json()
  std::optional<double> best_metric;  // the lowest eval loss at a save
  std::string best_model_checkpoint;  // its folder; "" when none
  // Running sums, so the first record after a resume covers the same steps as without one.
  double logging_loss_sum = 0;
  int64_t logging_steps = 0;
  double train_loss_sum = 0;  // every step's loss, for the summary's train_loss
};

std::string trainer_state_json(const TrainerState& state);
TrainerState parse_trainer_state(const std::string& text, const std::string& source);

// "checkpoint-<step>", as HF names them.
std::string checkpoint_folder_name(int64_t step);

struct CheckpointOptions {
  std::string tokenizer_folder;  // copied into the checkpoint; "" for none
  // The ranks of a ZeRO job: all of them call save/load together; null for one process.
  dist::Communicator* comm = nullptr;
};

// The optimizer state file of `rank` in a world of `world` ranks: optimizer.safetensors in one
// process, zero/optimizer-rank-<r>-of-<W>.safetensors (each rank's flat local parts) otherwise.
std::string optimizer_state_file(int rank, int world);

// Writes checkpoint-<step> (step = state.global_step) into output_dir; an existing folder of
// that name is replaced only once the new one is complete. Returns the folder's path.
std::string save_checkpoint(const std::string& output_dir,
                            const models::T5ForConditionalGeneration& model,
                            MasterParameters& masters, const TrainerState& state,
                            const CheckpointOptions& options = {});

// Loads the weights, master weights and moments of `folder` into model and masters, and returns
// its trainer state. The checkpoint's precision must be the run's.
TrainerState load_checkpoint(const std::string& folder,
                             const models::T5ForConditionalGeneration& model,
                             MasterParameters& masters, dist::Communicator* comm = nullptr);

// Only the trainer state of `folder` (the best checkpoint's metric, say).
TrainerState read_trainer_state(const std::string& folder);

// The complete checkpoint-<step> folders in output_dir, by increasing step.
std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& output_dir);
// The one with the highest step; "" when there is none.
std::string latest_checkpoint(const std::string& output_dir);

// HF Trainer._rotate_checkpoints: when more than `save_total_limit` checkpoints exist (0: no
// limit), deletes the oldest, never the best one: the best is first moved to the second-newest
// place of the list, and with a limit of 1 and a best that is not the newest, two are kept.
// Returns the deleted folders.
std::vector<std::string> rotate_checkpoints(const std::string& output_dir, int64_t save_total_limit,
                                            const std::string& best_model_checkpoint);

}  // namespace t5zero
