// t5zero estimate: memory per GPU and per node for a model × hardware × ZeRO options, with
// DeepSpeed's own estimate beside t5zero's breakdown and a fits / does-not-fit verdict
// (src/train/memory_estimate.h computes; this file reads flags and prints).
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "commands.h"
#include "flags.h"
#include "io/json_writer.h"
#include "models/architectures.h"
#include "tensor/error.h"
#include "train/deepspeed_config.h"
#include "train/memory_estimate.h"

namespace t5zero::cli {

namespace {

constexpr double kGiB = double(int64_t{1} << 30);

// printf into a string.
__attribute__((format(printf, 1, 2))) std::string format(const char* pattern, ...) {
  std::va_list args;
  va_start(args, pattern);
  std::va_list again;
  va_copy(again, args);
  const int size = std::vsnprintf(nullptr, 0, pattern, args);
  va_end(args);
  std::string out(static_cast<size_t>(std::max(size, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, pattern, again);
  va_end(again);
  return out;
}

double gib(int64_t bytes) {
  return static_cast<double>(bytes) / kGiB;
}

// This machine's physical memory in GiB (the default of --cpu_memory_gib).
double machine_memory_gib() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0
             ? static_cast<double>(pages) * static_cast<double>(page_size) / kGiB
             : 0.0;
}

OffloadDevice parse_offload(const std::string& flag, const std::string& text) {
  if (text == "none") return OffloadDevice::none;
  if (text == "cpu") return OffloadDevice::cpu;
  throw UsageError("--" + flag + ": expected none or cpu, got '" + text + "'");
}

const char* offload_text(OffloadDevice device) {
  return device == OffloadDevice::cpu ? "cpu" : device == OffloadDevice::nvme ? "nvme" : "none";
}

const char* source_text(ModelSource source) {
  switch (source) {
    case ModelSource::local_folder:
      return "folder";
    case ModelSource::hub_cache:
      return "hub cache";
    case ModelSource::builtin:
      return "built-in";
  }
  return "?";
}

// A flag given on the command line must agree with the DeepSpeed config it comes with.
void check_agrees(const FlagSet& flags, const std::string& flag, const std::string& flag_value,
                  const std::string& config, const std::string& key,
                  const std::string& config_value) {
  if (flags.was_set(flag) && flag_value != config_value) {
    throw UsageError("--" + flag + " " + flag_value + " contradicts " + config + ": '" + key +
                     "' is " + config_value + " (leave the flag out to use the config's)");
  }
}

// DeepSpeed's table as its *_all_cold functions print it.
std::string deepspeed_text(const MemoryEstimate& e) {
  const EstimateInput& in = e.input;
  std::string out =
      detail::concat("Estimated memory needed for params, optim states and gradients for a:\n",
                     "HW: Setup with ", in.nodes, in.nodes > 1 ? " nodes" : " node", ", ",
                     in.gpus_per_node, in.gpus_per_node > 1 ? " GPUs" : " GPU", " per node.\n",
                     "SW: Model with ", e.parameters.total / 1000000, "M total params");
  out += in.zero.stage == 3 ? detail::concat(", ", e.parameters.largest_layer / 1000000,
                                             "M largest layer params.\n")
                            : std::string(".\n");
  out += "  per CPU  |  per GPU |   Options\n";
  for (const DeepSpeedTableRow& row : e.deepspeed) {
    std::string options;
    if (in.zero.stage == 3) {
      options = format("offload_param=%s, offload_optimizer=%s, zero_init=%d",
                       row.offload_param ? "cpu " : "none", row.offload_optimizer ? "cpu " : "none",
                       row.zero_init ? 1 : 0);
    } else {
      options = format("cpu_offload=%d", row.offload_optimizer ? 1 : 0);
    }
    out += format(" %7.2fGB | %6.2fGB | %s\n", gib(row.estimate.cpu_bytes),
                  gib(row.estimate.gpu_bytes), options.c_str());
  }
  return out;
}

std::string items_text(const std::vector<MemoryItem>& items) {
  std::string out;
  for (const MemoryItem& item : items) {
    out += format("  %-58s %9.2f GiB   %s\n", item.name.c_str(), gib(item.bytes),
                  item.formula.c_str());
  }
  if (items.empty()) {
    out +=
        "  (nothing offloaded; the processes themselves and the page cache of mmap'd\n"
        "   checkpoints and datasets are not counted)\n";
  }
  return out;
}

std::string verdict_text(const MemoryEstimate& e) {
  const Verdict& v = e.verdict;
  if (v.fits) {
    return format(
        "verdict: fits (GPU %.2f of %.2f GiB, %.2f GiB to spare; host %.2f of %.2f GiB per node)\n",
        gib(e.gpu_bytes), gib(e.gpu_capacity_bytes), gib(e.gpu_capacity_bytes - e.gpu_bytes),
        gib(e.host_bytes), gib(e.host_capacity_bytes));
  }
  std::string out = "verdict: does not fit\n";
  if (!v.gpu_fits) {
    out += format("  GPU: needs %.2f GiB per GPU, %.2f GiB more than the %.2f GiB it has\n",
                  gib(e.gpu_bytes), gib(v.gpu_shortfall_bytes), gib(e.gpu_capacity_bytes));
  }
  if (!v.cpu_fits) {
    out += format("  host: needs %.2f GiB per node, %.2f GiB more than the %.2f GiB it has\n",
                  gib(e.host_bytes), gib(v.cpu_shortfall_bytes), gib(e.host_capacity_bytes));
  }
  return out;
}

void write_items(JsonWriter& json, const char* key, const std::vector<MemoryItem>& items) {
  json.key(key).begin_array();
  for (const MemoryItem& item : items) {
    json.begin_object();
    json.key("name").value(item.name);
    json.key("formula").value(item.formula);
    json.key("bytes").value(item.bytes);
    json.end_object();
  }
  json.end_array();
}

void write_deepspeed_row(JsonWriter& json, const DeepSpeedTableRow& row) {
  json.begin_object();
  json.key("offload_optimizer").value(row.offload_optimizer ? "cpu" : "none");
  json.key("offload_param").value(row.offload_param ? "cpu" : "none");
  json.key("zero_init").value(row.zero_init);
  json.key("cpu_bytes_per_node").value(row.estimate.cpu_bytes);
  json.key("gpu_bytes_per_gpu").value(row.estimate.gpu_bytes);
  json.end_object();
}

std::string estimate_json(const MemoryEstimate& e, const std::string& model_id,
                          const std::string& zero_source) {
  const EstimateInput& in = e.input;
  JsonWriter json(2);
  json.begin_object();
  json.key("model_id").value(model_id);
  json.key("parameters").value(e.parameters.total);
  json.key("largest_layer_parameters").value(e.parameters.largest_layer);
  json.key("largest_gathered_module_parameters").value(e.largest_gathered_module);
  json.key("num_nodes").value(in.nodes);
  json.key("num_gpus_per_node").value(in.gpus_per_node);
  json.key("world_size").value(e.world_size);
  json.key("gpu_memory_bytes").value(e.gpu_capacity_bytes);
  json.key("cpu_memory_bytes_per_node").value(e.host_capacity_bytes);
  json.key("zero_stage").value(in.zero.stage);
  json.key("offload_optimizer").value(offload_text(in.zero.offload_optimizer.device));
  json.key("offload_param").value(offload_text(in.zero.offload_param.device));
  json.key("zero_settings_from").value(zero_source);
  json.key("stage3_param_persistence_threshold").value(in.zero.stage3_param_persistence_threshold);
  json.key("t5zero_layout_stage").value(e.layout_stage);
  json.key("precision").value(in.precision == Precision::bf16 ? "bf16" : "fp32");
  json.key("per_device_train_batch_size").value(in.activations.batch_size);
  json.key("source_length").value(e.activations.source_length);
  json.key("target_length").value(e.activations.target_length);
  json.key("gradient_checkpointing").value(in.gradient_checkpointing);

  json.key("deepspeed").begin_object();
  json.key("estimator")
      .value(in.zero.stage == 3   ? "estimate_zero3_model_states_mem_needs"
             : in.zero.stage >= 1 ? "estimate_zero2_model_states_mem_needs"
                                  : "none (DeepSpeed has no estimator for stage 0)");
  json.key("table").begin_array();
  for (const DeepSpeedTableRow& row : e.deepspeed) write_deepspeed_row(json, row);
  json.end_array();
  json.key("selected");
  if (e.deepspeed_selected) {
    write_deepspeed_row(json, *e.deepspeed_selected);
  } else {
    json.null();
  }
  json.key("selected_zero_init_0");
  if (e.deepspeed_selected_zero_init_0) {
    write_deepspeed_row(json, *e.deepspeed_selected_zero_init_0);
  } else {
    json.null();
  }
  json.end_object();

  json.key("t5zero").begin_object();
  write_items(json, "per_gpu", e.gpu);
  json.key("gpu_bytes_per_gpu").value(e.gpu_bytes);
  json.key("gpu_bytes_per_node").value(e.gpu_bytes * in.gpus_per_node);
  write_items(json, "host_per_node", e.host);
  json.key("host_bytes_per_node").value(e.host_bytes);
  json.key("activation_bytes_without_checkpointing")
      .value(e.activations.without_checkpointing_bytes);
  json.key("activation_bytes_with_checkpointing").value(e.activations.with_checkpointing_bytes);
  json.end_object();

  json.key("verdict").begin_object();
  json.key("fits").value(e.verdict.fits);
  json.key("gpu_fits").value(e.verdict.gpu_fits);
  json.key("cpu_fits").value(e.verdict.cpu_fits);
  json.key("gpu_shortfall_bytes").value(e.verdict.gpu_shortfall_bytes);
  json.key("cpu_shortfall_bytes").value(e.verdict.cpu_shortfall_bytes);
  json.end_object();
  json.end_object();
  return json.text() + "\n";
}

std::string estimate_text(const MemoryEstimate& e, const std::string& model_id,
                          const models::ResolvedModel& model, const std::string& zero_source) {
  const EstimateInput& in = e.input;
  const ZeroConfig& z = in.zero;
  std::string out = format(
      "model %s (%s): %lld parameters, largest layer %lld, largest gathered module %lld\n",
      model_id.c_str(), source_text(model.id.source), static_cast<long long>(e.parameters.total),
      static_cast<long long>(e.parameters.largest_layer),
      static_cast<long long>(e.largest_gathered_module));
  out += format(
      "hardware: %lld node(s) x %lld GPU(s) (W = %lld), %.2f GiB per GPU, %.2f GiB host "
      "memory per node\n",
      static_cast<long long>(in.nodes), static_cast<long long>(in.gpus_per_node),
      static_cast<long long>(e.world_size), in.gpu_memory_gib, in.cpu_memory_gib);
  out += format(
      "options: ZeRO stage %lld, offload_optimizer %s, offload_param %s, %s, batch %lld "
      "per GPU of %lld source + %lld target tokens, gradient checkpointing %s\n",
      static_cast<long long>(z.stage), offload_text(z.offload_optimizer.device),
      offload_text(z.offload_param.device),
      in.precision == Precision::bf16 ? "bf16 with fp32 masters" : "fp32",
      static_cast<long long>(in.activations.batch_size),
      static_cast<long long>(e.activations.source_length),
      static_cast<long long>(e.activations.target_length),
      in.gradient_checkpointing ? "on" : "off");
  if (e.layout_stage == 0) {
    out += "t5zero layout: one process, everything whole (the ZeRO stage needs W > 1)\n\n";
  } else {
    out += format(
        "t5zero layout: ZeRO stage %lld over %lld ranks%s, persistence threshold %lld "
        "elements (%s)\n\n",
        static_cast<long long>(e.layout_stage), static_cast<long long>(e.world_size),
        z.stage == 0 ? " (stage 0 runs as stage 1)" : "",
        static_cast<long long>(z.stage3_param_persistence_threshold), zero_source.c_str());
  }

  if (e.deepspeed.empty()) {
    out += "DeepSpeed's estimate: none (DeepSpeed has no estimator for stage 0)\n\n";
  } else {
    out += std::string("DeepSpeed's estimate (") +
           (z.stage == 3 ? "estimate_zero3_model_states_mem_needs"
                         : "estimate_zero2_model_states_mem_needs") +
           "; model states only, x1.5 buffer factor; \"GB\" = GiB):\n" + deepspeed_text(e);
    if (e.deepspeed_selected) {
      out += format("  these options: %.2f GiB per GPU, %.2f GiB per node",
                    gib(e.deepspeed_selected->estimate.gpu_bytes),
                    gib(e.deepspeed_selected->estimate.cpu_bytes));
      if (e.deepspeed_selected_zero_init_0) {
        out += format(
            " (zero_init=0, the recipe loading the whole model in every process "
            "first: %.2f GiB per node)",
            gib(e.deepspeed_selected_zero_init_0->estimate.cpu_bytes));
      }
      out += "\n";
    }
    out += "\n";
  }

  out += "t5zero's estimate, per GPU:\n" + items_text(e.gpu);
  out += format("  %-58s %9.2f GiB   of %.2f GiB\n", "total", gib(e.gpu_bytes),
                gib(e.gpu_capacity_bytes));
  out += "host memory, per node (G = " + std::to_string(in.gpus_per_node) + " ranks):\n" +
         items_text(e.host);
  out += format("  %-58s %9.2f GiB   of %.2f GiB\n", "total", gib(e.host_bytes),
                gib(e.host_capacity_bytes));
  out += format("per node: GPUs %lld x %.2f = %.2f GiB, host %.2f GiB\n",
                static_cast<long long>(in.gpus_per_node), gib(e.gpu_bytes),
                gib(e.gpu_bytes * in.gpus_per_node), gib(e.host_bytes));
  out += format(
      "activations per GPU: %.2f GiB without gradient checkpointing, %.2f GiB with it "
      "(formula and what it leaves out: src/train/memory_estimate.cpp)\n\n",
      gib(e.activations.without_checkpointing_bytes), gib(e.activations.with_checkpointing_bytes));
  out += verdict_text(e);
  return out;
}

}  // namespace

int run_estimate(int argc, char** argv) {
  FlagSet flags(
      "estimate",
      "Memory a training run needs per GPU and per node, before starting it: DeepSpeed's own\n"
      "estimate (its estimator functions, number for number) beside t5zero's breakdown of its\n"
      "layout (parameters, gradients, fp32 accumulators, masters and moments, activations),\n"
      "and a verdict: fits, or which side (GPU or host) does not and by how much.");
  flags.add_required("model_id",
                     "built-in architecture (flan-t5-small ... flan-t5-xxl), model folder, or hub "
                     "id in the local cache");
  flags.add_int("num_gpus_per_node", 1, "GPUs per node");
  flags.add_int("num_nodes", 1, "nodes");
  flags.add_double("gpu_memory_gib", 80, "memory of one GPU in GiB");
  flags.add_double("cpu_memory_gib", machine_memory_gib(),
                   "host memory of one node in GiB (default: this machine's)");
  flags.add_int("zero_stage", 3, "ZeRO stage 0, 1, 2 or 3");
  flags.add_string("offload_optimizer", "none",
                   "none, or cpu: fp32 masters, moments and accumulators in host memory");
  flags.add_string("offload_param", "none",
                   "none, or cpu: the 16-bit parameter shard in host memory (stage 3)");
  flags.add_int("per_device_train_batch_size", 8, "rows per micro-batch and GPU");
  flags.add_int("source_length", 512, "input tokens per row (padded to a multiple of 8)");
  flags.add_int("target_length", 128, "label tokens per row (padded to a multiple of 8)");
  flags.add_bool("gradient_checkpointing", true,
                 "recompute each block in backward (the recipe's and `t5zero train`'s default)");
  flags.add_bool("bf16", true,
                 "bf16 weights and activations with fp32 masters (the recipe on A100); false: "
                 "fp32 throughout");
  flags.add_string("deepspeed", "",
                   "DeepSpeed JSON config: stage, offload, buckets and precision from it "
                   "(\"auto\" resolved as `t5zero train` does)");
  flags.add_bool("json", false, "print a JSON object instead of the text report");
  if (!flags.parse(argc, argv, 2)) return 0;

  const std::string model_id = flags.get_string("model_id");
  const models::ResolvedModel model = models::resolve_model(model_id);

  EstimateInput in;
  in.config = model.config;
  in.gpus_per_node = flags.get_int("num_gpus_per_node");
  in.nodes = flags.get_int("num_nodes");
  in.gpu_memory_gib = flags.get_double("gpu_memory_gib");
  in.cpu_memory_gib = flags.get_double("cpu_memory_gib");
  in.precision = flags.get_bool("bf16") ? Precision::bf16 : Precision::fp32;
  in.activations.batch_size = flags.get_int("per_device_train_batch_size");
  in.activations.source_length = flags.get_int("source_length");
  in.activations.target_length = flags.get_int("target_length");
  in.gradient_checkpointing = flags.get_bool("gradient_checkpointing");
  const int64_t stage = flags.get_int("zero_stage");
  const OffloadDevice offload_optimizer =
      parse_offload("offload_optimizer", flags.get_string("offload_optimizer"));
  const OffloadDevice offload_param =
      parse_offload("offload_param", flags.get_string("offload_param"));
  in.zero = recipe_zero_config(in.config.d_model, stage, offload_optimizer, offload_param);
  std::string zero_source = "the recipe configs' \"auto\" values";

  const std::string deepspeed = flags.get_string("deepspeed");
  if (!deepspeed.empty()) {
    if (in.gpus_per_node < 1 || in.nodes < 1) {
      throw UsageError("--num_gpus_per_node and --num_nodes must be >= 1");
    }
    TrainingFlags training;
    training.per_device_train_batch_size = in.activations.batch_size;
    training.bf16 = in.precision == Precision::bf16;
    training.num_training_steps = 1;  // only a WarmupDecayLR schedule reads it
    const ResolvedDeepSpeedConfig config = resolve_auto(
        load_deepspeed_config(deepspeed), training, in.gpus_per_node * in.nodes, in.config.d_model);
    check_agrees(flags, "zero_stage", std::to_string(stage), deepspeed, "zero_optimization.stage",
                 std::to_string(config.zero.stage));
    check_agrees(flags, "offload_optimizer", offload_text(offload_optimizer), deepspeed,
                 "zero_optimization.offload_optimizer.device",
                 offload_text(config.zero.offload_optimizer.device));
    check_agrees(flags, "offload_param", offload_text(offload_param), deepspeed,
                 "zero_optimization.offload_param.device",
                 offload_text(config.zero.offload_param.device));
    in.zero = config.zero;
    in.precision = config.precision;
    zero_source = deepspeed;
  }

  try {
    validate_estimate_input(in);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const MemoryEstimate estimate = estimate_memory(in);
  const std::string out = flags.get_bool("json")
                              ? estimate_json(estimate, model_id, zero_source)
                              : estimate_text(estimate, model_id, model, zero_source);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    fail("estimate: cannot write the output");
  }
  return 0;
}

}  // namespace t5zero::cli
