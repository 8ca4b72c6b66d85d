#include "train/deepspeed_config.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <type_traits>
#include <variant>

#include "io/atomic_file.h"
#include "io/json_writer.h"
#include "tensor/error.h"
#include "train/json_syntax_error.h"

namespace t5zero {

namespace {

// ---- Every key t5zero knows ------------------------------------------------------------------

enum class Support {
  section,           // an object whose members are keys of their own
  honoured,          // the trainer acts on it (or it has no effect: fp16 loss scaling, fp16 off)
  not_yet_honoured,  // known, read and checked, but the trainer does not act on it yet
};

struct KnownKey {
  std::string_view path;
  Support support;
};

// Keys of DeepSpeed 0.8 that t5zero reads. A key the trainer starts to act on (the ZeRO and
// offload engines) moves from not_yet_honoured to honoured here.
constexpr KnownKey kKnownKeys[] = {
    {"train_batch_size", Support::honoured},
    {"train_micro_batch_size_per_gpu", Support::honoured},
    {"gradient_accumulation_steps", Support::honoured},
    {"gradient_clipping", Support::honoured},
    {"steps_per_print", Support::not_yet_honoured},
    {"wall_clock_breakdown", Support::honoured},
    {"prescale_gradients", Support::not_yet_honoured},
    {"gradient_predivide_factor", Support::not_yet_honoured},
    {"communication_data_type", Support::not_yet_honoured},
    {"optimizer", Support::section},
    {"optimizer.type", Support::honoured},
    {"optimizer.params", Support::section},
    {"optimizer.params.lr", Support::honoured},
    {"optimizer.params.betas", Support::honoured},
    {"optimizer.params.eps", Support::honoured},
    {"optimizer.params.weight_decay", Support::honoured},
    {"optimizer.params.adam_w_mode", Support::honoured},
    {"optimizer.params.amsgrad", Support::honoured},
    {"optimizer.params.bias_correction", Support::honoured},
    {"optimizer.params.torch_adam", Support::honoured},
    {"scheduler", Support::section},
    {"scheduler.type", Support::honoured},
    {"scheduler.params", Support::section},
    {"scheduler.params.warmup_min_lr", Support::honoured},
    {"scheduler.params.warmup_max_lr", Support::honoured},
    {"scheduler.params.warmup_num_steps", Support::honoured},
    {"scheduler.params.warmup_type", Support::honoured},
    {"scheduler.params.total_num_steps", Support::honoured},
    {"scheduler.params.last_batch_iteration", Support::not_yet_honoured},
    {"fp16", Support::section},
    {"fp16.enabled", Support::honoured},
    {"fp16.auto_cast", Support::honoured},
    {"fp16.loss_scale", Support::honoured},
    {"fp16.loss_scale_window", Support::honoured},
    {"fp16.initial_scale_power", Support::honoured},
    {"fp16.hysteresis", Support::honoured},
    {"fp16.min_loss_scale", Support::honoured},
    {"amp", Support::section},
    {"amp.enabled", Support::honoured},
    {"amp.opt_level", Support::honoured},
    {"bf16", Support::section},
    {"bf16.enabled", Support::honoured},
    {"bfloat16", Support::section},  // DeepSpeed's older name for "bf16"
    {"bfloat16.enabled", Support::honoured},
    {"zero_optimization", Support::section},
    {"zero_optimization.stage", Support::honoured},
    {"zero_optimization.contiguous_gradients", Support::not_yet_honoured},
    {"zero_optimization.reduce_scatter", Support::not_yet_honoured},
    {"zero_optimization.overlap_comm", Support::not_yet_honoured},
    {"zero_optimization.reduce_bucket_size", Support::not_yet_honoured},
    {"zero_optimization.allgather_bucket_size", Support::not_yet_honoured},
    {"zero_optimization.allgather_partitions", Support::not_yet_honoured},
    {"zero_optimization.stage3_prefetch_bucket_size", Support::not_yet_honoured},
    {"zero_optimization.stage3_param_persistence_threshold", Support::honoured},
    {"zero_optimization.stage3_model_persistence_threshold", Support::not_yet_honoured},
    {"zero_optimization.stage3_max_live_parameters", Support::not_yet_honoured},
    {"zero_optimization.stage3_max_reuse_distance", Support::not_yet_honoured},
    {"zero_optimization.sub_group_size", Support::not_yet_honoured},
    {"zero_optimization.stage3_gather_16bit_weights_on_model_save", Support::honoured},
    {"zero_optimization.stage3_gather_fp16_weights_on_model_save", Support::not_yet_honoured},
    {"zero_optimization.round_robin_gradients", Support::not_yet_honoured},
    {"zero_optimization.elastic_checkpoint", Support::not_yet_honoured},
    {"zero_optimization.load_from_fp32_weights", Support::not_yet_honoured},
    {"zero_optimization.ignore_unused_parameters", Support::not_yet_honoured},
    {"zero_optimization.offload_optimizer", Support::section},
    {"zero_optimization.offload_optimizer.device", Support::honoured},
    {"zero_optimization.offload_optimizer.pin_memory", Support::honoured},
    {"zero_optimization.offload_optimizer.buffer_count", Support::not_yet_honoured},
    {"zero_optimization.offload_optimizer.fast_init", Support::not_yet_honoured},
    {"zero_optimization.offload_optimizer.nvme_path", Support::not_yet_honoured},
    {"zero_optimization.offload_optimizer.pipeline_read", Support::not_yet_honoured},
    {"zero_optimization.offload_optimizer.pipeline_write", Support::not_yet_honoured},
    {"zero_optimization.offload_param", Support::section},
    {"zero_optimization.offload_param.device", Support::honoured},
    {"zero_optimization.offload_param.pin_memory", Support::honoured},
    {"zero_optimization.offload_param.buffer_count", Support::not_yet_honoured},
    {"zero_optimization.offload_param.buffer_size", Support::not_yet_honoured},
    {"zero_optimization.offload_param.max_in_cpu", Support::not_yet_honoured},
    {"zero_optimization.offload_param.nvme_path", Support::not_yet_honoured},
};

const KnownKey* find_known_key(std::string_view path) {
  for (const KnownKey& k : kKnownKeys) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

// ---- Values HF writes in place of "auto" ---------------------------------------------------

using Filled = std::variant<int64_t, double, bool, std::string, std::vector<double>>;

void write_filled(JsonWriter& out, const Filled& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<double>>) {
          out.begin_array();
          for (double x : v) out.value(x);
          out.end_array();
        } else if constexpr (std::is_same_v<T, std::string>) {
          out.value(std::string_view(v));
        } else {
          out.value(v);
        }
      },
      value);
}

// As HF's mismatch lines show values: Python's str() for numbers and lists.
std::string show(const Filled& value) {
  JsonWriter out;
  write_filled(out, value);
  std::string text = out.text();
  if (std::holds_alternative<std::vector<double>>(value)) {
    std::string spaced;
    for (char c : text) {
      spaced += c;
      if (c == ',') spaced += ' ';
    }
    return spaced;
  }
  return text;
}

void write_json_value(JsonWriter& out, const JsonValue& value,
                      const std::map<std::string, Filled>& filled) {
  if (auto it = filled.find(value.key_path()); it != filled.end() && !value.key_path().empty()) {
    write_filled(out, it->second);
  } else if (value.is_object()) {
    out.begin_object();
    for (const auto& [name, member] : value.as_object()) {
      out.key(name);
      write_json_value(out, member, filled);
    }
    out.end_object();
  } else if (value.is_array()) {
    out.begin_array();
    for (const JsonValue& item : value.as_array()) write_json_value(out, item, filled);
    out.end_array();
  } else if (value.is_string()) {
    out.value(std::string_view(value.as_string()));
  } else if (value.is_bool()) {
    out.value(value.as_bool());
  } else if (value.is_integer()) {
    out.value(value.as_int());
  } else if (value.is_number()) {
    out.value(value.as_double());
  } else {
    out.null();
  }
}

// ---- Typed reads with DeepSpeed's coercions --------------------------------------------------

bool is_auto(const JsonValue& v) {
  return v.is_string() && v.as_string() == "auto";
}

[[noreturn]] void fail_unresolved_auto(const JsonValue& v, const char* expected) {
  v.fail_here(
      "\"auto\" is not resolved for this key (Hugging Face fills it only for the batch "
      "sizes, gradient_clipping, the optimizer and scheduler params, fp16/amp/bf16 "
      "enabled, reduce_bucket_size and, at stage 3, the stage3 bucket size and "
      "persistence threshold); expected ",
      expected);
}

// DeepSpeed's int fields take 1e9 (pydantic coerces integral floats), so integral numbers are
// accepted; 2.5 or "three" are not.
int64_t read_int(const JsonValue& v) {
  if (is_auto(v)) fail_unresolved_auto(v, "an integer");
  if (v.is_integer()) return v.as_int();
  if (v.is_number()) {
    const double d = v.as_double();
    if (std::nearbyint(d) == d && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
    v.fail_here("expected an integer, got number ", python_float_repr(d));
  }
  return v.as_int();  // throws, naming the type found
}

double read_number(const JsonValue& v) {
  if (is_auto(v)) fail_unresolved_auto(v, "a number");
  return v.as_double();
}

bool read_bool(const JsonValue& v) {
  if (is_auto(v)) fail_unresolved_auto(v, "true or false");
  return v.as_bool();
}

std::string read_string(const JsonValue& v) {
  return v.as_string();
}

std::vector<double> read_betas(const JsonValue& v) {
  if (is_auto(v)) fail_unresolved_auto(v, "[beta1, beta2]");
  if (!v.is_array() || v.size() != 2) {
    v.fail_here("expected an array of two numbers [beta1, beta2], got ",
                v.is_array() ? detail::concat("an array of ", v.size()) : v.type_name());
  }
  std::vector<double> betas;
  for (const JsonValue& item : v.as_array()) betas.push_back(read_number(item));
  return betas;
}

std::string quoted_list(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += detail::concat("\"", n, "\"");
  }
  return out;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

int64_t hf_warmup_steps(const TrainingFlags& flags) {
  // HF TrainingArguments.get_warmup_steps.
  if (flags.warmup_steps > 0) return flags.warmup_steps;
  return static_cast<int64_t>(
      std::ceil(static_cast<double>(flags.num_training_steps) * flags.warmup_ratio));
}

// ---- The resolution ---------------------------------------------------------------------------

class Resolver {
 public:
  Resolver(const DeepSpeedConfigFile& file, const TrainingFlags& flags, int64_t world_size,
           int64_t d_model)
      : file_(file), flags_(flags), world_size_(world_size), d_model_(d_model) {}

  ResolvedDeepSpeedConfig run();

 private:
  // The value at a dotted key path, or nullopt when it or a block above it is absent.
  std::optional<JsonValue> node(std::string_view path) const;

  // HF's fill_match: "auto" becomes the flag's value; an explicit value is read with `read` and,
  // when `must_match`, compared with the flag's. Absent: nullopt, nothing filled.
  template <typename T, typename Read>
  std::optional<T> fill(std::string_view path, T hf_value, std::string_view flag, bool must_match,
                        Read read) {
    const std::optional<JsonValue> v = node(path);
    if (!v) return std::nullopt;
    if (is_auto(*v)) {
      filled_[std::string(path)] = Filled(hf_value);
      return hf_value;
    }
    T value = read(*v);
    if (must_match && value != hf_value) {
      mismatches_.push_back(detail::concat("- ds ", path, "=", show(Filled(value)), " vs ", flag,
                                           "=", show(Filled(hf_value))));
    }
    return value;
  }

  // The resolved value of a key after filling: the filled value, else the file's, else nullopt.
  template <typename T, typename Read>
  std::optional<T> resolved(std::string_view path, Read read) const {
    if (auto it = filled_.find(std::string(path)); it != filled_.end()) {
      return std::get<T>(it->second);
    }
    const std::optional<JsonValue> v = node(path);
    if (!v) return std::nullopt;
    return read(*v);
  }
  std::optional<int64_t> resolved_int(std::string_view path) const {
    return resolved<int64_t>(path, read_int);
  }
  std::optional<double> resolved_number(std::string_view path) const {
    return resolved<double>(path, read_number);
  }
  std::optional<bool> resolved_bool(std::string_view path) const {
    return resolved<bool>(path, read_bool);
  }

  [[noreturn]] void fail_key(std::string_view path, const std::string& message) const {
    fail(file_.source, ": key '", path, "': ", message);
  }
  int64_t non_negative_int(std::string_view path, int64_t fallback) const;

  void classify_keys(const JsonValue& object);
  void refuse_fp16();
  void fill_from_flags();
  void fill_from_model();
  void read_batch_sizes(ResolvedDeepSpeedConfig& out) const;
  void read_precision(ResolvedDeepSpeedConfig& out);
  void read_optimizer(ResolvedDeepSpeedConfig& out) const;
  void read_scheduler(ResolvedDeepSpeedConfig& out);
  void read_zero(ResolvedDeepSpeedConfig& out) const;
  OffloadConfig read_offload(const std::string& block, int64_t default_buffer_count) const;
  void list_not_yet_honoured(ResolvedDeepSpeedConfig& out) const;

  const DeepSpeedConfigFile& file_;
  const TrainingFlags& flags_;
  int64_t world_size_;
  int64_t d_model_;
  std::map<std::string, Filled> filled_;
  std::vector<std::string> mismatches_;
  std::vector<std::string> warnings_;
  std::vector<std::string> not_yet_paths_;
};

std::optional<JsonValue> Resolver::node(std::string_view path) const {
  JsonValue current = file_.root;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string_view name =
        path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    std::optional<JsonValue> child = current.find(name);  // a non-object parent is an error
    if (!child) return std::nullopt;
    if (dot == std::string_view::npos) return child;
    current = *child;
    start = dot + 1;
  }
}

int64_t Resolver::non_negative_int(std::string_view path, int64_t fallback) const {
  const int64_t value = resolved_int(path).value_or(fallback);
  if (value < 0) fail_key(path, detail::concat("expected an integer >= 0, got ", value));
  return value;
}

// Walks the file: sections must be objects; unknown keys are warned about by name; known keys
// the trainer does not act on yet are remembered for the report.
void Resolver::classify_keys(const JsonValue& object) {
  for (const auto& [name, member] : object.as_object()) {
    const std::string& path = member.key_path();
    const KnownKey* known = find_known_key(path);
    if (!known) {
      warnings_.push_back(detail::concat(file_.source, ": unknown key '", path,
                                         "': t5zero does not know it and ignores it"));
      continue;
    }
    if (known->support == Support::section) {
      if (!member.is_object()) member.fail_here("expected an object, got ", member.type_name());
      classify_keys(member);
    } else if (known->support == Support::not_yet_honoured) {
      not_yet_paths_.push_back(path);
    }
  }
}

void Resolver::refuse_fp16() {
  // Checked before anything else: whatever else is wrong, this is the error to fix first.
  const char* why =
      "is refused: T5 overflows in fp16 (inf, then NaN, in the feed-forward and norm layers; "
      "transformers #10830, the reason the reference recipe sets fp16=False). Use bf16 "
      "(\"bf16\": {\"enabled\": \"auto\"} with --bf16 true) or fp32, and set this to false or "
      "\"auto\"";
  for (std::string_view path : {"fp16.enabled", "amp.enabled"}) {
    const std::optional<JsonValue> v = node(path);
    if (v && !is_auto(*v) && read_bool(*v)) fail_key(path, detail::concat("true ", why));
  }
}

// HF trainer_config_process: the keys the TrainingArguments decide.
void Resolver::fill_from_flags() {
  const TrainingFlags& f = flags_;
  const int64_t train_batch_size =
      world_size_ * f.per_device_train_batch_size * f.gradient_accumulation_steps;
  fill<int64_t>("train_micro_batch_size_per_gpu", f.per_device_train_batch_size,
                "--per_device_train_batch_size", true, read_int);
  fill<int64_t>("gradient_accumulation_steps", f.gradient_accumulation_steps,
                "--gradient_accumulation_steps", true, read_int);
  fill<int64_t>("train_batch_size", train_batch_size,
                detail::concat("train_batch_size (calculated: world size ", world_size_,
                               " x --per_device_train_batch_size x "
                               "--gradient_accumulation_steps)"),
                true, read_int);
  fill<double>("gradient_clipping", f.max_grad_norm, "--max_grad_norm", true, read_number);
  fill<double>("optimizer.params.lr", f.learning_rate, "--lr", true, read_number);
  fill<std::vector<double>>("optimizer.params.betas", {f.adam_beta1, f.adam_beta2},
                            "--adam_beta1/--adam_beta2", true, read_betas);
  fill<double>("optimizer.params.eps", f.adam_epsilon, "--adam_epsilon", true, read_number);
  fill<double>("optimizer.params.weight_decay", f.weight_decay, "--weight_decay", true,
               read_number);
  fill<double>("scheduler.params.warmup_min_lr", 0.0, "", false, read_number);
  fill<double>("scheduler.params.warmup_max_lr", f.learning_rate, "--lr", true, read_number);
  // t5zero has no fp16 flag: HF's value is the reference script's fp16=False.
  fill<bool>("fp16.enabled", false, "fp16 (always off in t5zero)", true, read_bool);
  fill<bool>("amp.enabled", false, "fp16 (always off in t5zero)", true, read_bool);
  fill<std::string>("amp.opt_level", "O1", "fp16_opt_level (HF's default)", true, read_string);
  fill<bool>("bf16.enabled", f.bf16, "--bf16", true, read_bool);
}

// HF trainer_config_finalize: the keys the model and the run length decide.
void Resolver::fill_from_model() {
  const int64_t hidden = d_model_;
  fill<int64_t>("zero_optimization.reduce_bucket_size", hidden * hidden, "", false, read_int);
  const int64_t stage = non_negative_int("zero_optimization.stage", 0);
  if (stage == 3) {
    // HF fills 0.9·h² as a float (15099494.4 for h = 4096); DeepSpeed's int field truncates it,
    // and HF later casts it to int (transformers PR #33402): the same integer.
    const double prefetch = 0.9 * static_cast<double>(hidden) * static_cast<double>(hidden);
    fill<int64_t>("zero_optimization.stage3_prefetch_bucket_size", static_cast<int64_t>(prefetch),
                  "", false, read_int);
    fill<int64_t>("zero_optimization.stage3_param_persistence_threshold", 10 * hidden, "", false,
                  read_int);
  }
  fill<int64_t>("scheduler.params.total_num_steps", flags_.num_training_steps,
                "num_training_steps (calculated)", true, read_int);
  fill<int64_t>("scheduler.params.warmup_num_steps", hf_warmup_steps(flags_),
                "--warmup_steps/--warmup_ratio", true, read_int);
}

// DeepSpeed's _set_batch_related_parameters and _batch_assertion, then t5zero's own check that
// the engine's batch is the data loader's (which reads the flags, as HF's does).
void Resolver::read_batch_sizes(ResolvedDeepSpeedConfig& out) const {
  std::optional<int64_t> train = resolved_int("train_batch_size");
  std::optional<int64_t> micro = resolved_int("train_micro_batch_size_per_gpu");
  std::optional<int64_t> accumulation = resolved_int("gradient_accumulation_steps");
  const int64_t w = world_size_;
  if (train && micro && accumulation) {
  } else if (train && micro) {
    accumulation = *train / *micro / w;
  } else if (train && accumulation) {
    micro = *train / w / *accumulation;
  } else if (micro && accumulation) {
    train = *micro * *accumulation * w;
  } else if (train) {
    accumulation = 1;
    micro = *train / w;
  } else if (micro) {
    train = *micro * w;
    accumulation = 1;
  } else {
    fail(file_.source,
         ": either train_batch_size or train_micro_batch_size_per_gpu needs to be provided "
         "(DeepSpeed); \"auto\" fills them from the flags");
  }
  if (*train <= 0 || *micro <= 0 || *accumulation <= 0 || *train != *micro * *accumulation * w) {
    fail(file_.source,
         ": batch sizes: train_batch_size must equal train_micro_batch_size_per_gpu x "
         "gradient_accumulation_steps x world size, all > 0 (DeepSpeed): ",
         *train, " != ", *micro, " x ", *accumulation, " x ", w);
  }
  if (*micro != flags_.per_device_train_batch_size ||
      *accumulation != flags_.gradient_accumulation_steps) {
    fail(file_.source, ": batch sizes: DeepSpeed derives micro batch ", *micro,
         " and gradient accumulation ", *accumulation,
         " from the config, but the data loader "
         "uses --per_device_train_batch_size ",
         flags_.per_device_train_batch_size, " and --gradient_accumulation_steps ",
         flags_.gradient_accumulation_steps, ": set the batch keys to \"auto\"");
  }
  out.train_batch_size = *train;
  out.train_micro_batch_size_per_gpu = *micro;
  out.gradient_accumulation_steps = *accumulation;

  const std::optional<double> clipping = resolved_number("gradient_clipping");
  out.gradient_clipping = clipping.value_or(0.0);
  if (out.gradient_clipping < 0.0) {
    fail_key("gradient_clipping", detail::concat("expected a number >= 0, got ",
                                                 python_float_repr(out.gradient_clipping)));
  }
}

void Resolver::read_precision(ResolvedDeepSpeedConfig& out) {
  // DeepSpeed: bf16 when bf16.enabled (or the older bfloat16.enabled); fp16 was refused above;
  // otherwise fp32.
  const bool bf16 = resolved_bool("bf16.enabled").value_or(false) ||
                    resolved_bool("bfloat16.enabled").value_or(false);
  out.precision = bf16 ? Precision::bf16 : Precision::fp32;
  if (flags_.bf16 && !bf16 && !node("bf16") && !node("bfloat16")) {
    warnings_.push_back(detail::concat(
        file_.source,
        ": --bf16 is true but the config has no \"bf16\" block, so training runs in fp32, as "
        "DeepSpeed does (Hugging Face fills bf16.enabled only inside an existing block); add "
        "\"bf16\": {\"enabled\": \"auto\"} for bf16"));
  }
}

void Resolver::read_optimizer(ResolvedDeepSpeedConfig& out) const {
  AdamWHyperparams h;
  std::string where;
  if (node("optimizer")) {
    out.optimizer_from_config = true;
    where = file_.source + ": optimizer";
    const std::optional<JsonValue> type = node("optimizer.type");
    if (!type) fail(file_.source, ": missing key 'optimizer.type': expected \"AdamW\"");
    const std::string name = read_string(*type);
    // DeepSpeed lower-cases its own optimizer names; "Adam" is AdamW unless adam_w_mode is false.
    const std::string lowered = lower(name);
    if (lowered != "adamw" && lowered != "adam") {
      type->fail_here("expected \"AdamW\" or \"Adam\" (t5zero implements AdamW), got \"", name,
                      "\"");
    }
    const std::optional<JsonValue> w_mode = node("optimizer.params.adam_w_mode");
    if (lowered == "adam" && w_mode && !read_bool(*w_mode)) {
      w_mode->fail_here(
          "false (Adam with L2 regularisation) is not supported: t5zero implements "
          "AdamW; remove the key or set it to true");
    }
    if (const std::optional<JsonValue> v = node("optimizer.params.amsgrad"); v && read_bool(*v)) {
      v->fail_here("true is not supported: t5zero implements AdamW without amsgrad");
    }
    if (const std::optional<JsonValue> v = node("optimizer.params.bias_correction");
        v && !read_bool(*v)) {
      v->fail_here("false is not supported: t5zero's AdamW always corrects the bias");
    }
    if (const std::optional<JsonValue> v = node("optimizer.params.torch_adam")) read_bool(*v);
    // DeepSpeed FusedAdam / DeepSpeedCPUAdam defaults for absent params.
    h.lr = resolved_number("optimizer.params.lr").value_or(1e-3);
    const std::vector<double> betas =
        resolved<std::vector<double>>("optimizer.params.betas", read_betas)
            .value_or(std::vector<double>{0.9, 0.999});
    h.beta1 = betas[0];
    h.beta2 = betas[1];
    h.eps = resolved_number("optimizer.params.eps").value_or(1e-8);
    h.weight_decay = resolved_number("optimizer.params.weight_decay").value_or(0.0);
  } else {
    // No "optimizer" block: HF builds its own AdamW from the flags.
    where = "the optimizer flags";
    h.lr = flags_.learning_rate;
    h.beta1 = flags_.adam_beta1;
    h.beta2 = flags_.adam_beta2;
    h.eps = flags_.adam_epsilon;
    h.weight_decay = flags_.weight_decay;
  }
  try {
    check_adamw_hyperparams(h);
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
  out.optimizer = h;
}

void Resolver::read_scheduler(ResolvedDeepSpeedConfig& out) {
  LrScheduleSpec spec;
  spec.base_lr = out.optimizer.lr;
  const int64_t n = flags_.num_training_steps;
  if (node("scheduler")) {
    out.scheduler_from_config = true;
    const std::optional<JsonValue> type = node("scheduler.type");
    if (!type) fail(file_.source, ": missing key 'scheduler.type': expected \"WarmupLR\"");
    const std::string name = read_string(*type);
    if (name == "WarmupLR") {
      spec.kind = LrScheduleKind::warmup_lr;
    } else if (name == "WarmupDecayLR") {
      spec.kind = LrScheduleKind::warmup_decay_lr;
    } else {
      type->fail_here("expected one of ", quoted_list({"WarmupLR", "WarmupDecayLR"}),
                      " (the DeepSpeed schedules t5zero implements), got \"", name, "\"");
    }
    WarmupParams& w = spec.warmup;
    w.warmup_min_lr = resolved_number("scheduler.params.warmup_min_lr").value_or(0.0);
    w.warmup_max_lr = resolved_number("scheduler.params.warmup_max_lr").value_or(0.001);
    w.warmup_num_steps = non_negative_int("scheduler.params.warmup_num_steps", 1000);
    if (const std::optional<JsonValue> v = node("scheduler.params.warmup_type")) {
      const std::string warmup_type = read_string(*v);
      if (warmup_type == "linear") {
        w.warmup_type = WarmupType::linear;
      } else if (warmup_type != "log") {
        // DeepSpeed warns and falls back to log; so do we.
        warnings_.push_back(detail::concat(v->where(), ": unknown warmup_type \"", warmup_type,
                                           "\": DeepSpeed uses \"log\"; so does t5zero"));
      }
    }
    if (spec.kind == LrScheduleKind::warmup_decay_lr) {
      const std::optional<int64_t> total = resolved_int("scheduler.params.total_num_steps");
      if (!total) {
        fail(file_.source,
             ": missing key 'scheduler.params.total_num_steps': WarmupDecayLR "
             "needs it (\"auto\" fills the run's number of optimizer steps)");
      }
      if (*total <= 0) {
        fail_key("scheduler.params.total_num_steps",
                 detail::concat("expected an integer > 0, got ", *total));
      }
      spec.total_num_steps = *total;
    }
  } else if (flags_.lr_scheduler_type == "linear") {
    // No "scheduler" block: HF's get_linear_schedule_with_warmup.
    spec.kind = LrScheduleKind::linear_with_warmup;
    spec.warmup_steps = hf_warmup_steps(flags_);
    spec.total_num_steps = n;
  } else if (flags_.lr_scheduler_type == "constant") {
    spec.kind = LrScheduleKind::constant;
  } else {
    fail("--lr_scheduler_type: expected \"linear\" or \"constant\", got \"",
         flags_.lr_scheduler_type, "\"");
  }
  check_lr_schedule(spec);
  out.scheduler = spec;
}

OffloadConfig Resolver::read_offload(const std::string& block, int64_t default_buffer_count) const {
  OffloadConfig o;
  o.buffer_count = default_buffer_count;
  if (!node(block)) return o;
  if (const std::optional<JsonValue> v = node(block + ".device")) {
    const std::string device = read_string(*v);
    if (device == "cpu") {
      o.device = OffloadDevice::cpu;
    } else if (device == "nvme") {
      o.device = OffloadDevice::nvme;
    } else if (device != "none") {
      v->fail_here("expected one of ", quoted_list({"none", "cpu", "nvme"}), ", got \"", device,
                   "\"");
    }
  }
  o.pin_memory = resolved_bool(block + ".pin_memory").value_or(false);
  o.buffer_count = non_negative_int(block + ".buffer_count", default_buffer_count);
  o.buffer_size = non_negative_int(block + ".buffer_size", o.buffer_size);
  o.max_in_cpu = non_negative_int(block + ".max_in_cpu", o.max_in_cpu);
  o.fast_init = resolved_bool(block + ".fast_init").value_or(false);
  if (const std::optional<JsonValue> v = node(block + ".nvme_path")) {
    if (!v->is_null()) o.nvme_path = read_string(*v);
  }
  return o;
}

void Resolver::read_zero(ResolvedDeepSpeedConfig& out) const {
  ZeroConfig& z = out.zero;
  const std::string p = "zero_optimization.";
  z.stage = non_negative_int(p + "stage", 0);
  if (z.stage > 3) fail_key(p + "stage", detail::concat("expected 0, 1, 2 or 3, got ", z.stage));
  z.contiguous_gradients = resolved_bool(p + "contiguous_gradients").value_or(true);
  z.reduce_scatter = resolved_bool(p + "reduce_scatter").value_or(true);
  z.overlap_comm = resolved_bool(p + "overlap_comm").value_or(z.stage == 3);
  z.reduce_bucket_size = non_negative_int(p + "reduce_bucket_size", z.reduce_bucket_size);
  z.allgather_bucket_size = non_negative_int(p + "allgather_bucket_size", z.allgather_bucket_size);
  z.stage3_prefetch_bucket_size =
      non_negative_int(p + "stage3_prefetch_bucket_size", z.stage3_prefetch_bucket_size);
  z.stage3_param_persistence_threshold = non_negative_int(p + "stage3_param_persistence_threshold",
                                                          z.stage3_param_persistence_threshold);
  z.stage3_model_persistence_threshold = non_negative_int(p + "stage3_model_persistence_threshold",
                                                          z.stage3_model_persistence_threshold);
  z.stage3_max_live_parameters =
      non_negative_int(p + "stage3_max_live_parameters", z.stage3_max_live_parameters);
  z.stage3_max_reuse_distance =
      non_negative_int(p + "stage3_max_reuse_distance", z.stage3_max_reuse_distance);
  z.sub_group_size = non_negative_int(p + "sub_group_size", z.sub_group_size);
  // The fp16 spelling is DeepSpeed's deprecated alias of the 16bit one.
  z.stage3_gather_16bit_weights_on_model_save =
      resolved_bool(p + "stage3_gather_16bit_weights_on_model_save")
          .value_or(resolved_bool(p + "stage3_gather_fp16_weights_on_model_save").value_or(false));
  z.offload_optimizer = read_offload(p + "offload_optimizer", 4);
  z.offload_param = read_offload(p + "offload_param", 5);
}

void Resolver::list_not_yet_honoured(ResolvedDeepSpeedConfig& out) const {
  for (const std::string& path : not_yet_paths_) {
    JsonWriter text;
    write_json_value(text, *node(path), filled_);
    out.not_yet_honoured.push_back(NotYetHonoured{path, text.text()});
  }
}

ResolvedDeepSpeedConfig Resolver::run() {
  T5_CHECK(world_size_ >= 1, file_.source, ": world size: expected >= 1, got ", world_size_);
  T5_CHECK(d_model_ >= 1, file_.source, ": d_model: expected >= 1, got ", d_model_);
  T5_CHECK(flags_.per_device_train_batch_size >= 1,
           "--per_device_train_batch_size: expected >= 1, got ",
           flags_.per_device_train_batch_size);
  T5_CHECK(flags_.gradient_accumulation_steps >= 1,
           "--gradient_accumulation_steps: expected >= 1, got ",
           flags_.gradient_accumulation_steps);
  T5_CHECK(flags_.num_training_steps >= 0, "num_training_steps: expected >= 0, got ",
           flags_.num_training_steps);

  classify_keys(file_.root);
  refuse_fp16();
  fill_from_flags();
  fill_from_model();
  if (!mismatches_.empty()) {
    std::string lines;
    for (const std::string& m : mismatches_) lines += m + "\n";
    // HF's words (transformers deepspeed.py trainer_config_finalize), with t5zero's flag names.
    fail(file_.source,
         ": please correct the following DeepSpeed config values that mismatch the training "
         "flags:\n",
         lines, "The easiest method is to set these DeepSpeed config values to 'auto'.");
  }

  ResolvedDeepSpeedConfig out;
  out.source = file_.source;
  out.world_size = world_size_;
  read_batch_sizes(out);
  read_precision(out);
  read_optimizer(out);
  read_scheduler(out);
  read_zero(out);
  const int64_t steps_per_print = non_negative_int("steps_per_print", 10);
  if (steps_per_print < 1) {
    fail_key("steps_per_print", detail::concat("expected an integer >= 1, got ", steps_per_print));
  }
  out.steps_per_print = steps_per_print;
  out.wall_clock_breakdown = resolved_bool("wall_clock_breakdown").value_or(false);
  if (out.gradient_clipping == 0.0 && !node("gradient_clipping") && flags_.max_grad_norm > 0.0) {
    warnings_.push_back(detail::concat(
        file_.source,
        ": no gradient_clipping key: DeepSpeed does not clip and --max_grad_norm is not applied "
        "(set \"gradient_clipping\": \"auto\" to clip)"));
  }
  list_not_yet_honoured(out);

  JsonWriter json(4);
  write_json_value(json, file_.root, filled_);
  out.resolved_json = json.text() + "\n";
  out.warnings = warnings_;
  return out;
}

std::string read_config_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the DeepSpeed config: ", std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(path, ": cannot read the DeepSpeed config: ", std::strerror(errno));
  return buffer.str();
}

}  // namespace

DeepSpeedConfigFile parse_deepspeed_config(std::string_view text, const std::string& source) {
  if (std::optional<std::string> error = find_json_syntax_error(text)) {
    fail(source, ": not valid JSON: ", *error);
  }
  JsonValue root = JsonValue::parse_text(text, source);
  if (!root.is_object()) {
    fail(source, ": expected a JSON object (a DeepSpeed config), got ", root.type_name());
  }
  return DeepSpeedConfigFile{source, root};
}

DeepSpeedConfigFile load_deepspeed_config(const std::string& path) {
  return parse_deepspeed_config(read_config_text(path), path);
}

ResolvedDeepSpeedConfig resolve_auto(const DeepSpeedConfigFile& config, const TrainingFlags& flags,
                                     int64_t world_size, int64_t d_model) {
  return Resolver(config, flags, world_size, d_model).run();
}

std::string format_resolution_report(const ResolvedDeepSpeedConfig& config) {
  std::string out;
  for (const std::string& w : config.warnings) out += "warning: " + w + "\n";
  if (!config.not_yet_honoured.empty()) {
    out += detail::concat(config.source,
                          ": keys t5zero reads but does not act on yet (the run behaves as if "
                          "they were absent):\n");
    for (const NotYetHonoured& k : config.not_yet_honoured) {
      out += detail::concat("  ", k.key, " = ", k.value, "\n");
    }
  }
  out += detail::concat("DeepSpeed config ", config.source, " resolved:\n", config.resolved_json);
  return out;
}

std::string save_resolved_config(const ResolvedDeepSpeedConfig& config,
                                 const std::string& output_dir) {
  const std::string path = output_dir + "/ds_config_resolved.json";
  write_file_atomically(path, config.resolved_json);
  return path;
}

}  // namespace t5zero
