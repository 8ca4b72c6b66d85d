// t5zero bench: speed measurements. --ops: op micro-benchmarks against BLAS called directly;
// --model_id: the CPU training step (forward + loss + backward) of a T5, whose PyTorch twin is
// tools/bench/bench_model_cpu.py (tools/bench/bench_model_cpu.sh runs both and prints the ratio).
#include <cblas.h>
#include <omp.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "autograd/op_profile.h"
#include "commands.h"
#include "flags.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "tensor/ops.h"

namespace t5zero::cli {

namespace {

double seconds_of(const std::function<void()>& run) {
  auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Warm-up runs last at least this long: OpenBLAS's pthreads spin for up to 2^28 cycles (about
// 0.1 s) after the library loads and after each multi-threaded call before they sleep, and a
// figure taken in that window times ours against a spinning thread.
constexpr double kMinWarmupSeconds = 0.3;

// Median wall times of `ours` and `baseline`, each over `repeats` runs after `warmups` unmeasured
// ones (and at least kMinWarmupSeconds of them). All of ours run first, then all of the
// baseline's, so the baseline's spinning pthreads never overlap ours.
std::pair<double, double> median_seconds(const std::function<void()>& ours,
                                         const std::function<void()>& baseline, int warmups,
                                         int repeats) {
  auto measure = [&](const std::function<void()>& run) {
    double warm = 0;
    for (int i = 0; i < warmups || warm < kMinWarmupSeconds; ++i) warm += seconds_of(run);
    std::vector<double> seconds;
    for (int i = 0; i < repeats; ++i) seconds.push_back(seconds_of(run));
    return median(seconds);
  };
  const double ours_seconds = measure(ours);
  return {ours_seconds, measure(baseline)};
}

Tensor random_f32(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Tensor t = Tensor::zeros(shape, DType::f32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = uniform(rng);
  return t;
}

struct MatmulCase {
  int64_t m, n, k;
  bool transpose_b;  // B stored [N, K], as a linear layer's weight
};

// ops::matmul and cblas_sgemm on the same buffers: C[M, N] = A[M, K] · B (row-major). ops::matmul
// splits the GEMM over the OpenMP team, each thread calling BLAS single-threaded; the baseline is
// one BLAS call with `blas_threads` OpenBLAS threads.
void bench_matmul(const MatmulCase& c, int blas_threads, int warmups, int repeats) {
  Tensor a = random_f32({c.m, c.k}, 1);
  Tensor b = random_f32(c.transpose_b ? Shape{c.n, c.k} : Shape{c.k, c.n}, 2);
  Tensor ours_out;
  Tensor blas_out = Tensor::zeros({c.m, c.n}, DType::f32);
  const int m = static_cast<int>(c.m), n = static_cast<int>(c.n), k = static_cast<int>(c.k);
  auto [ours, blas] = median_seconds(
      [&] { ours_out = ops::matmul(a, b, false, c.transpose_b); },
      [&] {
        openblas_set_num_threads(blas_threads);  // ops::matmul set it to 1
        cblas_sgemm(CblasRowMajor, CblasNoTrans, c.transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
                    1.0f, a.data<float>(), k, b.data<float>(), c.transpose_b ? k : n, 0.0f,
                    blas_out.data<float>(), n);
      },
      warmups, repeats);
  const double flops =
      2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k);
  // The two split the work differently across threads, and OpenBLAS's kernels round
  // differently with the split: equal to a few float ulps of the largest value, not bit for bit.
  const float* po = ours_out.data<float>();
  const float* pb = blas_out.data<float>();
  double max_diff = 0, max_value = 0;
  for (int64_t i = 0; i < c.m * c.n; ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(po[i]) - pb[i]));
    max_value = std::max(max_value, std::fabs(static_cast<double>(pb[i])));
  }
  std::printf("  %5lld x %5lld x %5lld  %-6s %12.1f %14.1f %10.3f   %.1e\n",
              static_cast<long long>(c.m), static_cast<long long>(c.n), static_cast<long long>(c.k),
              c.transpose_b ? "B^T" : "B", flops / ours * 1e-9, flops / blas * 1e-9, blas / ours,
              max_value > 0 ? max_diff / max_value : max_diff);
}

// The BLAS build and the kernel family it picked for this CPU, and a hint when that leaves
// AVX-512 unused: OpenBLAS releases older than the CPU fall back to their AVX2 (Haswell) kernels.
void print_blas() {
  const std::string core = openblas_get_corename();
  std::printf("BLAS: %s; kernels: %s\n", openblas_get_config(), core.c_str());
  const bool avx512_kernels =
      core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
  if (__builtin_cpu_supports("avx512f") && !avx512_kernels) {
    std::printf(
        "note: this CPU has AVX-512 but OpenBLAS chose its %s kernels; "
        "OPENBLAS_CORETYPE=SkylakeX in the environment selects the AVX-512 ones\n",
        core.c_str());
  }
}

void run_ops_bench(int warmups, int repeats) {
  print_blas();
  const int blas_threads = openblas_get_num_threads();
  std::printf(
      "matmul f32: C[M x N] = A[M x K] . B[K x N]  (B^T: B stored [N x K], as nn.Linear)\n");
  std::printf(
      "threads: ops::matmul OpenMP %d (BLAS single-threaded in each), cblas_sgemm "
      "OpenBLAS %d; median of %d runs after %d warm-up\n",
      omp_get_max_threads(), blas_threads, repeats, warmups);
  std::printf(
      "      M x     N x     K  B      ops::matmul   cblas_sgemm  ours/BLAS   max |diff|\n");
  std::printf("                                  GFLOP/s       GFLOP/s   (speed)    / max |C|\n");
  const MatmulCase cases[] = {
      {512, 512, 512, false}, {2048, 2048, 512, false}, {2048, 2048, 512, true}};
  for (const MatmulCase& c : cases) bench_matmul(c, blas_threads, warmups, repeats);
}

// ---- the training step ----------------------------------------------------------------------

struct StepShape {
  int64_t batch, source, target;
};

// Model FLOPs of one training step (forward + backward = 3 x forward), as DESIGN.md counts them
// for encoder-decoders: 6 x weights x tokens for each weight on the tokens it multiplies (the
// cross-attention K/V projections on encoder tokens), plus the attention products (q.k^T and
// p.v, 2 x 2 x q_len x k_len x inner each forward), plus the LM head. Embedding lookups,
// norms and elementwise ops are not counted.
double step_model_flops(const T5Config& c, const StepShape& s) {
  const double d = static_cast<double>(c.d_model), inner = static_cast<double>(c.inner_dim());
  const double ffn = (c.is_gated_act ? 3.0 : 2.0) * d * static_cast<double>(c.d_ff);
  const double enc_tokens = static_cast<double>(s.batch * s.source);
  const double dec_tokens = static_cast<double>(s.batch * s.target);
  const double src = static_cast<double>(s.source), tgt = static_cast<double>(s.target);
  const double encoder_block = 6.0 * (4.0 * d * inner + ffn) * enc_tokens  // q k v o, FFN
                               + 3.0 * 4.0 * enc_tokens * src * inner;     // attention
  const double decoder_block = 6.0 * (4.0 * d * inner + ffn) * dec_tokens  // self q k v o, FFN
                               + 6.0 * 2.0 * d * inner * dec_tokens        // cross q, o
                               + 6.0 * 2.0 * d * inner * enc_tokens        // cross k, v
                               + 3.0 * 4.0 * dec_tokens * tgt * inner      // self-attention
                               + 3.0 * 4.0 * dec_tokens * src * inner;     // cross-attention
  const double lm_head = 6.0 * d * static_cast<double>(c.vocab_size) * dec_tokens;
  return static_cast<double>(c.num_layers) * encoder_block +
         static_cast<double>(c.num_decoder_layers) * decoder_block + lm_head;
}

// Token ids uniform in [0, vocab) from a fixed seed (the same batch on every run).
Tensor random_ids(int64_t rows, int64_t cols, int64_t vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> id(0, vocab - 1);
  std::vector<int64_t> values(static_cast<size_t>(rows * cols));
  for (int64_t& v : values) v = id(rng);
  return Tensor::from_vector(values, {rows, cols});
}

// User + system CPU time of every thread of this process.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// The profile of the measured steps, per step, against their mean wall time.
void print_profile(const std::vector<autograd::OpTiming>& timings, int64_t steps,
                   double step_seconds) {
  const double per_step = 1e3 / static_cast<double>(steps);  // seconds in total -> ms per step
  std::printf("\nwhere a step's time goes (ms per step; forward = time since the previous op)\n");
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
  std::printf("  %-18s %32.1f %6.1f%%   (graph walk, frees, batch setup: mean step - sum)\n",
              "other", rest, 100.0 * rest / (step_seconds * 1e3));
}

struct ModelBenchOptions {
  std::string model_id;
  StepShape shape;
  int64_t steps, warmup;
  bool gradient_checkpointing;
  DType dtype;
  bool profile;
  uint64_t seed;
};

void run_model_bench(const ModelBenchOptions& o) {
  const models::ResolvedModel resolved = models::resolve_model(o.model_id);
  const T5Config& config = resolved.config;
  models::ParameterStore store(o.dtype);
  models::T5ForConditionalGeneration model(config, store);
  const bool builtin = resolved.id.source == ModelSource::builtin;
  if (builtin) {
    models::initialize_parameters(store, o.seed);
  } else {
    models::load_t5_weights(resolved.id.folder, model);
  }

  std::mt19937_64 rng(o.seed);
  const Tensor input_ids = random_ids(o.shape.batch, o.shape.source, config.vocab_size, rng);
  const Tensor labels = random_ids(o.shape.batch, o.shape.target, config.vocab_size, rng);
  const Tensor attention_mask = Tensor::full({o.shape.batch, o.shape.source}, 1, DType::i64);

  std::printf("model %s (%s), %s, %lld parameters, dropout %g%s\n", o.model_id.c_str(),
              builtin ? "built-in, random init" : resolved.id.folder.c_str(), dtype_name(o.dtype),
              static_cast<long long>(store.numel()), config.dropout_rate,
              o.gradient_checkpointing ? ", gradient checkpointing" : "");
  print_blas();
  std::printf(
      "batch %lld x source %lld / target %lld tokens; threads: %d (OpenMP; BLAS runs "
      "single-threaded in each)\n",
      static_cast<long long>(o.shape.batch), static_cast<long long>(o.shape.source),
      static_cast<long long>(o.shape.target), omp_get_max_threads());

  models::ForwardOptions options;
  options.training = true;  // dropout at HF's sites with p = config.dropout_rate
  options.dropout_seed = o.seed;
  options.gradient_checkpointing = o.gradient_checkpointing;
  double first_loss = 0;
  auto step = [&](int64_t index) {
    options.step = static_cast<uint64_t>(index);
    store.zero_grad();
    const models::T5Output out =
        model.forward(input_ids, attention_mask, Tensor(), labels, options);
    out.loss.backward();
    const double loss = out.loss.data().item();
    T5_CHECK(std::isfinite(loss), "bench: step ", index, " gave a non-finite loss ", loss);
    if (index == 0) first_loss = loss;
  };

  std::unique_ptr<autograd::OpProfile> profile;
  if (o.profile) profile = std::make_unique<autograd::OpProfile>();
  for (int64_t i = 0; i < o.warmup; ++i) step(i);
  if (profile) profile->clear();
  std::vector<double> seconds, cpu_seconds;
  for (int64_t i = 0; i < o.steps; ++i) {
    if (profile) profile->restart_forward_clock();
    const double cpu_start = process_cpu_seconds();
    seconds.push_back(seconds_of([&] { step(o.warmup + i); }));
    cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
  }
  std::vector<autograd::OpTiming> timings;
  if (profile) timings = profile->timings();

  const double med = median(seconds);
  const double tokens = static_cast<double>(o.shape.batch * (o.shape.source + o.shape.target));
  const double flops = step_model_flops(config, o.shape);
  std::printf("loss at step 0: %.4f\n", first_loss);
  std::printf(
      "step (forward + loss + backward): median %.3f s over %lld steps (min %.3f, max "
      "%.3f) after %lld warm-up\n",
      med, static_cast<long long>(o.steps), *std::min_element(seconds.begin(), seconds.end()),
      *std::max_element(seconds.begin(), seconds.end()), static_cast<long long>(o.warmup));
  std::printf(
      "process CPU time per step: median %.3f s (all threads; with other load on the "
      "machine, a steadier figure of the work than wall time)\n",
      median(cpu_seconds));
  std::printf("tokens/s: %.0f (source + target tokens)\n", tokens / med);
  std::printf("model FLOPs: %.4g GFLOP per step, %.1f GFLOP/s\n", flops * 1e-9, flops / med * 1e-9);
  std::printf("peak resident memory: %.0f MiB\n", peak_rss_mib());
  if (profile) {
    double total = 0;
    for (double t : seconds) total += t;
    print_profile(timings, o.steps, total / static_cast<double>(o.steps));
  }
}

int64_t at_least(const FlagSet& flags, const std::string& name, int64_t minimum) {
  const int64_t v = flags.get_int(name);
  if (v < minimum) {
    throw UsageError("--" + name + ": expected >= " + std::to_string(minimum) + ", got " +
                     std::to_string(v));
  }
  return v;
}

}  // namespace

int run_bench(int argc, char** argv) {
  FlagSet flags("bench", "Measure speed; every figure is printed next to its baseline.");
  flags.add_bool("ops", false, "op micro-benchmarks (matmul GFLOP/s against BLAS called directly)");
  flags.add_string("model_id", "",
                   "time a training step (forward + loss + backward) of this model: a built-in "
                   "architecture (random init, e.g. flan-t5-small), a model folder or a hub id");
  flags.add_int("batch_size", 4, "training step: rows per batch");
  flags.add_int("source_length", 512, "training step: encoder tokens per row");
  flags.add_int("target_length", 128, "training step: decoder tokens (labels) per row");
  flags.add_int("steps", 5, "training step: measured steps (the median is printed)");
  flags.add_int("warmup", 1, "unmeasured steps (or runs, with --ops) before measuring");
  flags.add_bool("gradient_checkpointing", false,
                 "training step: recompute each block in backward");
  flags.add_string("dtype", "f32", "training step: parameter and activation dtype, f32 or bf16");
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
    run_ops_bench(static_cast<int>(warmup), static_cast<int>(at_least(flags, "repeats", 1)));
    return 0;
  }
  ModelBenchOptions o;
  o.model_id = model_id;
  o.shape = StepShape{at_least(flags, "batch_size", 1), at_least(flags, "source_length", 1),
                      at_least(flags, "target_length", 1)};
  o.steps = at_least(flags, "steps", 1);
  o.warmup = warmup;
  o.gradient_checkpointing = flags.get_bool("gradient_checkpointing");
  const std::string dtype = flags.get_string("dtype");
  if (dtype != "f32" && dtype != "bf16") {
    throw UsageError("--dtype: expected f32 or bf16, got '" + dtype + "'");
  }
  o.dtype = dtype == "f32" ? DType::f32 : DType::bf16;
  o.profile = flags.get_bool("profile");
  o.seed = static_cast<uint64_t>(flags.get_int("seed"));
  run_model_bench(o);
  return 0;
}

}  // namespace t5zero::cli
