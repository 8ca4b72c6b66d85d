// `t5zero bench --model_id`: one training step of a T5 on the CPU or a GPU, run as the trainer
// runs it (forward with dropout, loss, backward, fp32 accumulation, global-norm clipping,
// AdamW, the store's update hook) on a random batch from a fixed seed; prints and writes the
// step time, tokens/s, model FLOPs and MFU (train/flop_count.h) and peak memory. Its PyTorch twin
// is tools/bench/bench_step_torch.py.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "autograd/op_profile.h"
#include "cmd_bench.h"
#include "io/atomic_file.h"
#include "io/json_writer.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "optim/adamw.h"
#include "optim/grad_clip.h"
#include "tensor/cuda/device_select.h"
#include "tensor/error.h"
#include "train/flop_count.h"
#include "train/mixed_precision.h"

namespace t5zero::cli::bench {

namespace {

using models::ParamId;

// The optimizer's settings: a step costs the same whatever they are. Clipping at 1.0 is the
// Trainer's default max_grad_norm; one parameter group (HF's second, undecayed group costs the
// same).
constexpr double kMaxGradNorm = 1.0;
AdamWHyperparams bench_adamw() {
  AdamWHyperparams h;
  h.lr = 1e-4;
  h.weight_decay = 0.01;
  return h;
}

struct Batch {
  Tensor input_ids, attention_mask, labels;
};

// Token ids uniform in [0, vocab) from a fixed seed (the same batch on every run).
Tensor random_ids(int64_t rows, int64_t cols, int64_t vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> id(0, vocab - 1);
  std::vector<int64_t> values(static_cast<size_t>(rows * cols));
  for (int64_t& v : values) v = id(rng);
  return Tensor::from_vector(values, {rows, cols});
}

// Full-length rows (no padding), on the device the model computes on.
Batch random_batch(const T5Config& config, const StepShape& shape, uint64_t seed, Device device) {
  std::mt19937_64 rng(seed);
  Batch b;
  b.input_ids = random_ids(shape.batch, shape.source_length, config.vocab_size, rng).to(device);
  b.labels = random_ids(shape.batch, shape.target_length, config.vocab_size, rng).to(device);
  b.attention_mask = Tensor::full({shape.batch, shape.source_length}, 1, DType::i64).to(device);
  return b;
}

// User + system CPU time of every thread of this process.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double mib(int64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

// One optimizer step with one micro-batch, as Trainer::train_step runs it; without masters,
// forward + loss + backward only. Allocations during the step count as activations (they are
// the activations, their gradients, and the parameters' gradients before the fp32
// accumulators take them).
class TrainingStep {
 public:
  TrainingStep(const models::T5ForConditionalGeneration& model, MasterParameters* masters,
               const StepBenchOptions& o)
      : model_(model), masters_(masters) {
    optimizer_.add_param_group(bench_adamw());
    ids_ = model.store().ids();
    options_.training = true;  // dropout at HF's sites with p = config.dropout_rate
    options_.dropout_seed = o.seed;
    options_.gradient_checkpointing = o.gradient_checkpointing;
  }

  // The step's loss; the device has finished the step's work when this returns.
  double run(const Batch& batch, int64_t index) {
    MemoryCategoryScope scope(MemoryCategory::activations);
    models::ParameterStore& store = model_.store();
    options_.step = static_cast<uint64_t>(index);
    if (masters_ == nullptr) store.zero_grad();
    const models::T5Output out =
        model_.forward(batch.input_ids, batch.attention_mask, Tensor(), batch.labels, options_);
    const Tensor& loss_value = out.loss.data();
    const double loss = loss_value.item();
    out.loss.backward(Tensor::ones(loss_value.shape(), loss_value.dtype()).to(loss_value.device()));
    if (masters_ != nullptr) {
      masters_->accumulate_gradients();
      const GradClip clip = clip_decision(masters_->gradient_sum_of_squares(), kMaxGradNorm);
      T5_CHECK(std::isfinite(loss) && clip.finite, "bench: step ", index, " gave loss ", loss,
               " and gradient norm ", clip.total_norm, ": not finite");
      if (clip.clipped) masters_->scale_gradients(static_cast<float>(clip.coefficient));
      optimizer_.step(0, masters_->adamw_spans(ids_));
      masters_->finish_step();
      masters_->zero_gradients();
    } else {
      T5_CHECK(std::isfinite(loss), "bench: step ", index, " gave a non-finite loss ", loss);
    }
    synchronize(store.device());
    return loss;
  }

  // After a step that threw: drops the gradients it left behind.
  void discard_gradients() {
    model_.store().zero_grad();
    if (masters_ != nullptr) masters_->zero_gradients();
  }

 private:
  const models::T5ForConditionalGeneration& model_;
  MasterParameters* masters_;
  AdamW optimizer_;
  std::vector<ParamId> ids_;
  models::ForwardOptions options_;
};

struct Probe {
  int64_t batch = 0;
  bool fits = false;
  double seconds = 0;  // of the step, when it fit
};

// --batch_size auto: one whole step at batch 1, 2, 4, ... up to the cap, until one runs out of
// memory. That step's allocations are freed as its exception unwinds; its gradients are dropped
// and the allocator's cache emptied. Returns the largest batch that completed.
int64_t largest_fitting_batch(TrainingStep& step, const T5Config& config, const StepBenchOptions& o,
                              std::vector<Probe>& probes) {
  std::printf("batch size: trying 1, 2, 4, ... up to %lld until a step runs out of memory\n",
              static_cast<long long>(o.max_batch_size));
  int64_t largest = 0;
  for (int64_t b = 1; b <= o.max_batch_size; b *= 2) {
    Probe p;
    p.batch = b;
    try {
      const Batch batch =
          random_batch(config, StepShape{b, o.source_length, o.target_length}, o.seed, o.device);
      p.seconds = seconds_of([&] { step.run(batch, 0); });
      p.fits = true;
      largest = b;
      std::printf("  batch %lld: fits (step %.3f s)\n", static_cast<long long>(b), p.seconds);
    } catch (const std::exception& e) {
      if (!is_out_of_memory(e)) throw;
      std::printf("  batch %lld: out of memory (%s)\n", static_cast<long long>(b), e.what());
      step.discard_gradients();
      T5_CHECK(largest > 0, "bench: ", o.model_id, " does not fit on ", o.device.str(),
               " even at batch 1: ", e.what());
    }
    probes.push_back(p);
    std::fflush(stdout);
    if (!p.fits) break;
  }
  release_cached_memory(o.device);
  return largest;
}

// The profile of the measured steps, per step, against their mean wall time.
void print_profile(const std::vector<autograd::OpTiming>& timings, int64_t steps,
                   double step_seconds, Device device) {
  const double per_step = 1e3 / static_cast<double>(steps);  // seconds in total -> ms per step
  std::printf("\nwhere a step's time goes (ms per step; forward = time since the previous op)\n");
  if (device.is_cuda()) {
    std::printf(
        "(on a GPU this is host time: kernels run asynchronously, so an op that waits "
        "for the device is charged the work queued before it)\n");
  }
  std::printf("  %-18s %10s %10s %10s %7s %9s %9s\n", "op", "forward", "backward", "total", "share",
              "fwd calls", "bwd calls");
  double attributed = 0;
  for (const autograd::OpTiming& t : timings) {
    const double total = t.forward_seconds + t.backward_seconds;
    attributed += total;
    std::printf("  %-18s %10.1f %10.1f %10.1f %6.1f%% %9lld %9lld\n", t.op.c_str(),
                t.forward_seconds * per_step, t.backward_seconds * per_step, total * per_step,
                100.0 * total * per_step / (step_seconds * 1e3),
                static_cast<long long>(t.forward_calls / steps),
                static_cast<long long>(t.backward_calls / steps));
  }
  const double rest = step_seconds * 1e3 - attributed * per_step;
  std::printf(
      "  %-18s %32.1f %6.1f%%   (graph walk, frees, optimizer, batch setup: mean step - "
      "sum)\n",
      "other", rest, 100.0 * rest / (step_seconds * 1e3));
}

// What one run measured.
struct StepReport {
  std::string model_id, device;
  int64_t parameters = 0;
  StepShape shape;
  bool batch_auto = false;
  std::vector<Probe> probes;
  double first_loss = 0;
  std::vector<double> seconds;
  double median_seconds = 0, cpu_seconds = 0;
  StepFlops flops;
  double six_n_flops = 0;
  std::optional<double> mfu;
  MemoryStats memory;
  int64_t peak_rss = 0;
  int64_t parameter_bytes = 0, master_bytes = 0, gradient_bytes = 0, optimizer_bytes = 0;
};

void print_report(const StepBenchOptions& o, const StepReport& r) {
  const double tokens = static_cast<double>(r.shape.tokens());
  std::printf("loss at step 0: %.4f\n", r.first_loss);
  std::printf(
      "step (%s): median %.3f s over %lld steps (min %.3f, max %.3f) after %lld warm-up\n",
      o.optimizer ? "forward + loss + backward + clip + AdamW" : "forward + loss + backward",
      r.median_seconds, static_cast<long long>(o.steps),
      *std::min_element(r.seconds.begin(), r.seconds.end()),
      *std::max_element(r.seconds.begin(), r.seconds.end()), static_cast<long long>(o.warmup));
  std::printf(
      "process CPU time per step: median %.3f s (all threads; with other load on the "
      "machine, a steadier figure of the work than wall time)\n",
      r.cpu_seconds);
  std::printf("tokens/s: %.0f (source + target tokens); %.2f rows/s\n", tokens / r.median_seconds,
              static_cast<double>(r.shape.batch) / r.median_seconds);
  const double flops = r.flops.total();
  std::printf(
      "model FLOPs: %.4g GFLOP per step, %.1f GFLOP/s (encoder-decoder count; 6·N·tokens "
      "would say %.4g, %.2fx)\n",
      flops * 1e-9, flops / r.median_seconds * 1e-9, r.six_n_flops * 1e-9, r.six_n_flops / flops);
  if (r.mfu) {
    std::printf("MFU: %.1f%% of %.0f TFLOP/s\n", 100.0 * *r.mfu, *o.peak_tflops);
  } else {
    std::printf("MFU: n/a (give the device's peak with --peak_tflops)\n");
  }
  const char* source =
      o.device.is_cpu() ? "host block cache, blocks >= 1 MiB" : "caching allocator";
  std::printf(
      "peak memory (%s, %s): allocated %.1f MiB, reserved %.1f MiB; by category:", r.device.c_str(),
      source, mib(r.memory.peak_allocated_bytes), mib(r.memory.peak_reserved_bytes));
  bool any = false;
  for (size_t c = 0; c < kMemoryCategoryCount; ++c) {
    if (r.memory.peak_by_category[c] == 0) continue;
    std::printf("%s %s %.1f MiB", any ? "," : "",
                memory_category_name(static_cast<MemoryCategory>(c)),
                mib(r.memory.peak_by_category[c]));
    any = true;
  }
  std::printf("%s\n", any ? "" : " none");
  if (o.optimizer) {
    std::printf(
        "held between steps: parameters %.1f MiB, fp32 masters %.1f MiB, fp32 gradient "
        "accumulators %.1f MiB, AdamW moments %.1f MiB\n",
        mib(r.parameter_bytes), mib(r.master_bytes), mib(r.gradient_bytes), mib(r.optimizer_bytes));
  } else {
    std::printf("held between steps: parameters %.1f MiB (and their gradients)\n",
                mib(r.parameter_bytes));
  }
  std::printf("peak resident memory: %.0f MiB\n", mib(r.peak_rss));
}

void write_json(const StepBenchOptions& o, const StepReport& r) {
  JsonWriter j(2);
  const double tokens = static_cast<double>(r.shape.tokens());
  const double flops = r.flops.total();
  j.begin_object();
  j.key("kind").value("training_step");
  j.key("implementation").value("t5zero");
  j.key("model_id").value(r.model_id);
  j.key("parameters").value(r.parameters);
  j.key("device").value(r.device);
  j.key("dtype").value(dtype_name(o.dtype));
  j.key("precision")
      .value(o.dtype == DType::bf16 ? "bf16 parameters and activations; fp32 masters, moments and "
                                      "gradient accumulators"
                                    : "fp32");
  j.key("optimizer_step").value(o.optimizer);
  j.key("gradient_checkpointing").value(o.gradient_checkpointing);
  j.key("batch_size").value(r.shape.batch);
  j.key("batch_size_mode").value(r.batch_auto ? "auto" : "fixed");
  j.key("max_batch_size").value(o.max_batch_size);
  j.key("batch_probe").begin_array();
  for (const Probe& p : r.probes) {
    j.begin_object().key("batch").value(p.batch).key("fits").value(p.fits);
    j.key("seconds").value(p.seconds).end_object();
  }
  j.end_array();
  j.key("source_length").value(r.shape.source_length);
  j.key("target_length").value(r.shape.target_length);
  j.key("steps").value(o.steps);
  j.key("warmup").value(o.warmup);
  j.key("loss_first").value(r.first_loss);
  j.key("step_seconds").begin_array();
  for (double s : r.seconds) j.value(s);
  j.end_array();
  j.key("step_seconds_median").value(r.median_seconds);
  j.key("tokens_per_s").value(tokens / r.median_seconds);
  j.key("model_flops_per_step").value(flops);
  j.key("model_flops_breakdown").begin_object();
  j.key("encoder_weights").value(r.flops.encoder_weights);
  j.key("decoder_weights").value(r.flops.decoder_weights);
  j.key("cross_kv_weights").value(r.flops.cross_kv_weights);
  j.key("lm_head").value(r.flops.lm_head);
  j.key("attention").value(r.flops.attention);
  j.end_object();
  j.key("six_n_all_tokens_flops").value(r.six_n_flops);
  j.key("model_tflops_per_s").value(flops / r.median_seconds * 1e-12);
  if (o.peak_tflops) {
    j.key("peak_tflops").value(*o.peak_tflops);
  } else {
    j.key("peak_tflops").null();
  }
  if (r.mfu) {
    j.key("mfu").value(*r.mfu);
  } else {
    j.key("mfu").null();
  }
  j.key("memory").begin_object();
  j.key("source").value(o.device.is_cpu() ? "host block cache (blocks >= 1 MiB)"
                                          : "caching allocator");
  j.key("peak_allocated_bytes").value(r.memory.peak_allocated_bytes);
  j.key("peak_reserved_bytes").value(r.memory.peak_reserved_bytes);
  j.key("peak_by_category").begin_object();
  for (size_t c = 0; c < kMemoryCategoryCount; ++c) {
    j.key(memory_category_name(static_cast<MemoryCategory>(c))).value(r.memory.peak_by_category[c]);
  }
  j.end_object();
  j.key("parameter_bytes").value(r.parameter_bytes);
  j.key("master_bytes").value(r.master_bytes);
  j.key("gradient_accumulator_bytes").value(r.gradient_bytes);
  j.key("optimizer_moment_bytes").value(r.optimizer_bytes);
  j.key("peak_rss_bytes").value(r.peak_rss);
  j.end_object();
  j.end_object();
  write_file_atomically(o.json_path, j.text() + "\n");
}

}  // namespace

int run_step_bench(const StepBenchOptions& options) {
  StepBenchOptions o = options;
  if (o.device.is_cuda()) {
    T5_CHECK(cuda_compiled(),
             "--device cuda: this t5zero was built without CUDA (configure with -DT5ZERO_CUDA=ON)");
    if (cuda_device_count() == 0) {
      std::printf("skipped: no CUDA device\n");
      return 77;
    }
    o.device = Device::cuda(cuda::select_device_for_local_rank());
  }
  const models::ResolvedModel resolved = models::resolve_model(o.model_id);
  const T5Config& config = resolved.config;
  const bool builtin = resolved.id.source == ModelSource::builtin;
  StepReport r;
  r.model_id = o.model_id;
  r.device = device_description(o.device);

  std::unique_ptr<models::ParameterStore> store;
  std::unique_ptr<models::T5ForConditionalGeneration> model;
  {
    MemoryCategoryScope scope(MemoryCategory::parameters);
    store = std::make_unique<models::ParameterStore>(o.dtype, o.device);
    model = std::make_unique<models::T5ForConditionalGeneration>(config, *store);
    if (builtin) {
      models::initialize_parameters(*store, o.seed);
    } else {
      models::load_t5_weights(resolved.id.folder, *model);
    }
  }
  std::unique_ptr<MasterParameters> masters;
  if (o.optimizer) {
    MemoryCategoryScope scope(MemoryCategory::optimizer_state);
    masters = std::make_unique<MasterParameters>(
        *store, o.dtype == DType::bf16 ? Precision::bf16 : Precision::fp32);
  }
  r.parameters = store->numel();
  r.parameter_bytes = r.parameters * static_cast<int64_t>(dtype_size(o.dtype));
  if (masters) {
    r.master_bytes = masters->master_bytes();
    r.gradient_bytes = masters->gradient_bytes();
    r.optimizer_bytes = masters->optimizer_bytes();
  }

  std::printf("model %s (%s), %s, %lld parameters, dropout %g%s\n", o.model_id.c_str(),
              builtin ? "built-in, random init" : resolved.id.folder.c_str(), dtype_name(o.dtype),
              static_cast<long long>(r.parameters), config.dropout_rate,
              o.gradient_checkpointing ? ", gradient checkpointing" : "");
  std::printf("device: %s; step: %s\n", r.device.c_str(),
              o.optimizer ? "forward, loss, backward, fp32 accumulation, clipping at norm 1, AdamW"
                          : "forward, loss, backward (no optimizer)");
  if (o.device.is_cpu()) print_blas();
  TrainingStep step(*model, masters.get(), o);
  r.batch_auto = !o.batch_size.has_value();
  const int64_t batch_size =
      o.batch_size ? *o.batch_size : largest_fitting_batch(step, config, o, r.probes);
  r.shape = StepShape{batch_size, o.source_length, o.target_length};
  std::printf(
      "batch %lld x source %lld / target %lld tokens; threads: %d (OpenMP; BLAS runs "
      "single-threaded in each)\n",
      static_cast<long long>(r.shape.batch), static_cast<long long>(r.shape.source_length),
      static_cast<long long>(r.shape.target_length), omp_get_max_threads());
  std::fflush(stdout);

  const Batch batch = random_batch(config, r.shape, o.seed, o.device);
  reset_peak_memory(o.device);
  std::unique_ptr<autograd::OpProfile> profile;
  if (o.profile) profile = std::make_unique<autograd::OpProfile>();
  bool have_loss = false;
  const auto keep_first_loss = [&](double loss) {
    if (!have_loss) r.first_loss = loss;
    have_loss = true;
  };
  for (int64_t i = 0; i < o.warmup; ++i) keep_first_loss(step.run(batch, i));
  if (profile) profile->clear();
  std::vector<double> cpu_seconds;
  for (int64_t i = 0; i < o.steps; ++i) {
    if (profile) profile->restart_forward_clock();
    const double cpu_start = process_cpu_seconds();
    r.seconds.push_back(seconds_of([&] { keep_first_loss(step.run(batch, o.warmup + i)); }));
    cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
  }
  std::vector<autograd::OpTiming> timings;
  if (profile) timings = profile->timings();

  r.median_seconds = median(r.seconds);
  r.cpu_seconds = median(cpu_seconds);
  r.flops = training_step_flops(config, r.shape);
  r.six_n_flops = six_n_all_tokens_flops(models::count_parameters(config), r.shape);
  if (o.peak_tflops) {
    r.mfu = model_flops_utilization(r.flops.total(), r.median_seconds, *o.peak_tflops);
  }
  r.memory = memory_stats(o.device);
  r.peak_rss = peak_rss_bytes();
  print_report(o, r);
  if (profile) {
    double total = 0;
    for (double t : r.seconds) total += t;
    print_profile(timings, o.steps, total / static_cast<double>(o.steps), o.device);
  }
  if (!o.json_path.empty()) write_json(o, r);
  return 0;
}

}  // namespace t5zero::cli::bench
