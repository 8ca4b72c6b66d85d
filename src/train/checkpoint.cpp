#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "io/atomic_file.h"
#include "io/json.h"
#include "io/json_writer.h"
#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "models/t5_checkpoint_io.h"
#include "tensor/error.h"

namespace t5zero {

namespace fs = std::filesystem;
using models::ParamId;

namespace {

constexpr const char* kStateFormat = "t5zero-trainer-state";
constexpr int64_t kStateVersion = 1;

const char* precision_name(Precision p) {
  return p == Precision::bf16 ? "bf16" : "fp32";
}

Precision parse_precision(const JsonValue& v) {
  const std::string name = v.as_string();
  if (name == "bf16") return Precision::bf16;
  if (name == "fp32") return Precision::fp32;
  v.fail_here("expected \"fp32\" or \"bf16\", got \"", name, "\"");
}

// The step of a "checkpoint-<digits>" name; nullopt for anything else (temporaries included).
std::optional<int64_t> checkpoint_step(const std::string& name) {
  const std::string prefix = "checkpoint-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

}  // namespace

std::string checkpoint_folder_name(int64_t step) {
  return "checkpoint-" + std::to_string(step);
}

std::string trainer_state_json(const TrainerState& s) {
  JsonWriter json(2);
  json.begin_object();
  json.key("format").value(kStateFormat);
  json.key("version").value(kStateVersion);
  json.key("global_step").value(s.global_step);
  json.key("data").begin_object();
  json.key("epoch").value(s.data.epoch);
  json.key("step_in_epoch").value(s.data.step_in_epoch);
  json.key("samples_seen").value(s.data.samples_seen);
  json.end_object();
  json.key("random").begin_object();
  json.key("seed").value(static_cast<int64_t>(s.seed));
  json.key("dropout_step").value(s.global_step);
  json.key("dropout_first_sample").value(s.data.samples_seen);
  json.end_object();
  json.key("precision").value(precision_name(s.precision));
  json.key("batch_layout").begin_object();
  json.key("world_size").value(s.world_size);
  json.key("micro_batch_size").value(s.micro_batch_size);
  json.key("gradient_accumulation_steps").value(s.gradient_accumulation_steps);
  json.key("dataset_rows").value(s.dataset_rows);
  json.end_object();
  json.key("optimizer_group_steps").begin_array();
  for (int64_t steps : s.optimizer_group_steps) json.value(steps);
  json.end_array();
  json.key("scheduler").value(s.scheduler_state);
  json.key("best_metric");
  if (s.best_metric) {
    json.value(*s.best_metric);
  } else {
    json.null();
  }
  json.key("best_model_checkpoint").value(s.best_model_checkpoint);
  json.key("logging_loss_sum").value(s.logging_loss_sum);
  json.key("logging_steps").value(s.logging_steps);
  json.key("train_loss_sum").value(s.train_loss_sum);
  json.end_object();
  return json.text() + "\n";
}

namespace {

TrainerState trainer_state_from_json(const JsonValue& root) {
  const std::string format = root.get_string("format");
  if (format != kStateFormat) {
    root.at("format").fail_here("expected \"", kStateFormat, "\", got \"", format, "\"");
  }
  const int64_t version = root.get_int("version");
  if (version != kStateVersion) {
    root.at("version").fail_here("expected ", kStateVersion, " (this t5zero's), got ", version);
  }
  TrainerState s;
  s.global_step = root.get_int("global_step");
  const JsonValue data = root.at("data");
  s.data.epoch = data.get_int("epoch");
  s.data.step_in_epoch = data.get_int("step_in_epoch");
  s.data.samples_seen = data.get_int("samples_seen");
  s.seed = static_cast<uint64_t>(root.at("random").get_int("seed"));
  s.precision = parse_precision(root.at("precision"));
  const JsonValue layout = root.at("batch_layout");
  s.world_size = layout.get_int("world_size");
  s.micro_batch_size = layout.get_int("micro_batch_size");
  s.gradient_accumulation_steps = layout.get_int("gradient_accumulation_steps");
  s.dataset_rows = layout.get_int("dataset_rows");
  for (const JsonValue& v : root.at("optimizer_group_steps").as_array()) {
    s.optimizer_group_steps.push_back(v.as_int());
  }
  s.scheduler_state = root.get_string("scheduler");
  if (const JsonValue best = root.at("best_metric"); !best.is_null()) {
    s.best_metric = best.as_double();
  }
  s.best_model_checkpoint = root.get_string("best_model_checkpoint");
  s.logging_loss_sum = root.get_double("logging_loss_sum");
  s.logging_steps = root.get_int("logging_steps");
  s.train_loss_sum = root.get_double("train_loss_sum");
  if (s.global_step < 0 || s.data.epoch < 0 || s.data.step_in_epoch < 0 ||
      s.data.samples_seen < 0 || s.logging_steps < 0) {
    root.fail_here("negative step, epoch or sample counts");
  }
  return s;
}

}  // namespace

TrainerState parse_trainer_state(const std::string& text, const std::string& source) {
  return trainer_state_from_json(JsonValue::parse_text(text, source));
}

std::string optimizer_state_file(int rank, int world) {
  if (world <= 1) return kOptimizerStateFile;
  return "zero/optimizer-rank-" + std::to_string(rank) + "-of-" + std::to_string(world) +
         ".safetensors";
}

namespace {

// The shape a parameter's optimizer tensors are saved with: its own in one process (the local
// part is the whole parameter), the flat local part otherwise.
Shape saved_shape(const models::ParameterStore& store, ParamId id, int world) {
  return world <= 1 ? store.spec(id).shape : Shape{store.local_numel(id)};
}

Tensor host_copy(const Tensor& flat, const Shape& shape) {
  return flat.to(Device::cpu()).contiguous().view(shape);
}

}  // namespace

std::string save_checkpoint(const std::string& output_dir,
                            const models::T5ForConditionalGeneration& model,
                            MasterParameters& masters, const TrainerState& state,
                            const CheckpointOptions& options) {
  dist::Communicator* comm = options.comm;
  const int rank = comm ? comm->rank() : 0;
  const int world = comm ? comm->size() : 1;
  const bool writer = rank == 0;
  const fs::path final_path = fs::path(output_dir) / checkpoint_folder_name(state.global_step);
  // Every rank writes into the folder rank 0 names.
  std::string temporary_name = final_path.string() + ".tmp-" + std::to_string(::getpid());
  if (comm) comm->broadcast(temporary_name, 0);
  const fs::path temporary(temporary_name);
  if (writer) {
    fs::remove_all(temporary);
    fs::create_directories(temporary / "zero");
  }
  if (comm) comm->barrier();
  try {
    models::SaveFolderOptions folder_options;
    folder_options.tokenizer_folder = options.tokenizer_folder;
    folder_options.write_files = writer;
    models::save_t5_folder(model, temporary.string(), folder_options);

    const models::ParameterStore& store = model.store();
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (ParamId id : store.ids()) {
      const models::ParameterSpec& spec = store.spec(id);
      const Shape shape = saved_shape(store, id, world);
      tensors.emplace_back("exp_avg." + spec.name, host_copy(masters.exp_avg_tensor(id), shape));
      tensors.emplace_back("exp_avg_sq." + spec.name,
                           host_copy(masters.exp_avg_sq_tensor(id), shape));
      if (masters.precision() == Precision::bf16) {
        tensors.emplace_back("master." + spec.name, host_copy(masters.master_tensor(id), shape));
      }
    }
    save_safetensors((temporary / optimizer_state_file(rank, world)).string(), tensors);
    if (comm) comm->barrier();
    if (writer) {
      if (world <= 1) fs::remove(temporary / "zero");
      write_file_atomically((temporary / kTrainerStateFile).string(), trainer_state_json(state));
      // Replace an older folder of the same name only now that the new one is complete.
      if (fs::exists(final_path)) {
        const fs::path old = fs::path(final_path.string() + ".old-" + std::to_string(::getpid()));
        fs::remove_all(old);
        fs::rename(final_path, old);
        fs::rename(temporary, final_path);
        fs::remove_all(old);
      } else {
        fs::rename(temporary, final_path);
      }
    }
    if (comm) comm->barrier();
  } catch (...) {
    std::error_code ignored;
    if (writer) fs::remove_all(temporary, ignored);
    throw;
  }
  return final_path.string();
}

TrainerState read_trainer_state(const std::string& folder) {
  const std::string path = (fs::path(folder) / kTrainerStateFile).string();
  T5_CHECK(fs::is_regular_file(path), folder, ": not a training checkpoint (no ", kTrainerStateFile,
           ")");
  return trainer_state_from_json(JsonValue::parse_file(path));
}

TrainerState load_checkpoint(const std::string& folder,
                             const models::T5ForConditionalGeneration& model,
                             MasterParameters& masters, dist::Communicator* comm) {
  TrainerState state = read_trainer_state(folder);
  T5_CHECK(state.precision == masters.precision(), folder, ": the checkpoint was written by a ",
           precision_name(state.precision), " run; this run is ",
           precision_name(masters.precision()), " (set --bf16 and the DeepSpeed config to match)");
  const int rank = comm ? comm->rank() : 0;
  const int world = comm ? comm->size() : 1;
  T5_CHECK(state.world_size == world, folder, ": the checkpoint's optimizer state is split over ",
           state.world_size, " ranks; this run has ", world,
           " (resume with the same number of ranks)");
  models::load_t5_weights(folder, model);

  const std::string optimizer_path =
      (fs::path(folder) / optimizer_state_file(rank, world)).string();
  const SafetensorsReader file = SafetensorsReader::open(optimizer_path);
  const models::ParameterStore& store = model.store();
  const auto read = [&](const std::string& name, const Shape& shape, Tensor out) {
    T5_CHECK(file.contains(name), optimizer_path, ": missing tensor '", name, "'");
    const Tensor t = file.load(name, TensorLoad::copy);
    T5_CHECK(t.dtype() == DType::f32 && t.shape() == shape, optimizer_path, ": tensor '", name,
             "': expected F32 of shape ", shape_str(shape), ", got ", dtype_name(t.dtype()), " ",
             shape_str(t.shape()));
    out.copy_(t.contiguous().view({t.numel()}));
  };
  for (ParamId id : store.ids()) {
    const models::ParameterSpec& spec = store.spec(id);
    const Shape shape = saved_shape(store, id, world);
    read("exp_avg." + spec.name, shape, masters.exp_avg_tensor(id));
    read("exp_avg_sq." + spec.name, shape, masters.exp_avg_sq_tensor(id));
    if (masters.precision() == Precision::bf16) {
      read("master." + spec.name, shape, masters.master_tensor(id));
    }
  }
  if (masters.precision() == Precision::bf16) {
    // The masters are the truth; the bf16 weights are their rounding (equal to the saved ones).
    masters.copy_masters_to_model();
  } else {
    // fp32: the saved weights are the masters (a copy of them when the optimizer is offloaded).
    masters.copy_model_to_masters();
  }
  masters.zero_gradients();
  return state;
}

std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& output_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  if (!fs::is_directory(output_dir)) return found;
  for (const fs::directory_entry& entry : fs::directory_iterator(output_dir)) {
    if (!entry.is_directory()) continue;
    const std::optional<int64_t> step = checkpoint_step(entry.path().filename().string());
    if (step && fs::is_regular_file(entry.path() / kTrainerStateFile)) {
      found.emplace_back(*step, entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string latest_checkpoint(const std::string& output_dir) {
  const auto all = list_checkpoints(output_dir);
  return all.empty() ? "" : all.back().second;
}

std::vector<std::string> rotate_checkpoints(const std::string& output_dir, int64_t save_total_limit,
                                            const std::string& best_model_checkpoint) {
  std::vector<std::string> deleted;
  if (save_total_limit <= 0) return deleted;
  std::vector<std::string> sorted;
  for (const auto& [step, path] : list_checkpoints(output_dir)) sorted.push_back(path);
  if (static_cast<int64_t>(sorted.size()) <= save_total_limit) return deleted;

  const std::string best_name =
      best_model_checkpoint.empty() ? "" : fs::path(best_model_checkpoint).filename().string();
  const auto is_best = [&](const std::string& path) {
    return !best_name.empty() && fs::path(path).filename().string() == best_name;
  };
  // Move the best towards the end, stopping at the second-newest place.
  const auto best = std::find_if(sorted.begin(), sorted.end(), is_best);
  const bool has_best = best != sorted.end();
  if (has_best) {
    for (auto i = static_cast<size_t>(best - sorted.begin()); i + 2 < sorted.size(); ++i) {
      std::swap(sorted[i], sorted[i + 1]);
    }
  }
  int64_t limit = save_total_limit;
  if (has_best && limit == 1 && !is_best(sorted.back())) limit = 2;
  const int64_t excess = std::max<int64_t>(0, static_cast<int64_t>(sorted.size()) - limit);
  for (int64_t i = 0; i < excess; ++i) {
    fs::remove_all(sorted[static_cast<size_t>(i)]);
    deleted.push_back(sorted[static_cast<size_t>(i)]);
  }
  return deleted;
}

}  // namespace t5zero
