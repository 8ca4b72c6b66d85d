// The whole T5 on a GPU against the CPU model with the same weights and batch: logits, loss and
// every parameter gradient, with dropout off and on, with and without gradient checkpointing, in
// f32 and bf16; the fixture models against transformers; cached decoding and greedy and beam
// generation token for token; and that the GPU runs the fused kernels. Runs only with a CUDA
// device (cuda_test_main.cpp skips with exit 77 otherwise).
//
// What is asserted, with err(a, b) = max |a − b| / max |b| over a tensor (b the reference):
//   f32: logits and loss err ≤ 1e-5, every gradient err ≤ 1e-4 — the tolerances the CPU model
//     meets against transformers (test_t5_model). The GPU differs from the CPU only in the order
//     of sums (cuBLASLt, block reductions) and CUDA's exp/tanh, a few f32 ulps per op.
//   checkpointing on vs off on the GPU: loss and gradients err ≤ 1e-6, as on the CPU.
//   bf16: a 1-ulp rounding difference (2^-8..2^-7 relative) in one op moves everything after it,
//     so bf16 is judged by its accuracy: both bf16 models are compared with the f32 CPU model
//     holding the same (bf16-valued) weights, in relative L2 norm, and the GPU's error must be at
//     most twice the CPU's plus one bf16 spacing (2^-7), for the logits, the loss and every
//     gradient; the bf16 logits also agree directly within err ≤ 3e-2 (a few ulps of the largest).
//   generation (f32): the GPU's token ids equal the CPU's.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/op_profile.h"
#include "autograd/variable.h"
#include "io/json.h"
#include "io/safetensors_reader.h"
#include "io/t5_config.h"
#include "models/architectures.h"
#include "models/kv_cache.h"
#include "models/parameter_store.h"
#include "models/t5_batch.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_generate.h"
#include "models/t5_init.h"
#include "models/t5_model.h"

using namespace t5zero;
using namespace t5zero::models;

namespace {

const Device kGpu = Device::cuda(0);
const std::string kFixtures = T5ZERO_SOURCE_DIR "/tests/fixtures/t5/";
const std::vector<std::string> kFixtureNames = {"flan_gated", "t5v1_relu_tied", "uneven_layers",
                                                "inner_dim"};
// Gated-gelu untied, relu tied (t5 v1.0), and inner dim ≠ d_model with 2 + 3 layers.
const std::vector<std::string> kTinyModels = {"t5-tiny", "t5-tiny-relu", "t5-micro"};

constexpr double kLogitsTolerance = 1e-5;
constexpr double kGradTolerance = 1e-4;
constexpr double kCheckpointTolerance = 1e-6;
constexpr double kBf16Spacing = 0.0078125;  // 2^-7: the largest relative gap between bf16 values
constexpr double kBf16LogitsTolerance = 3e-2;

// max |a − b| / max |b|; infinite when a holds a NaN or an infinity.
double max_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// ‖a − b‖₂ / ‖b‖₂; infinite when a holds a NaN or an infinity.
double l2_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) return std::numeric_limits<double>::infinity();
    diff += (x[i] - y[i]) * (x[i] - y[i]);
    norm += y[i] * y[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

struct Model {
  T5Config config;
  std::unique_ptr<ParameterStore> store;
  std::unique_ptr<T5ForConditionalGeneration> model;
};

Model make_model(const T5Config& config, DType dtype, Device device) {
  Model m;
  m.config = config;
  m.store = std::make_unique<ParameterStore>(dtype, device);
  m.model = std::make_unique<T5ForConditionalGeneration>(config, *m.store);
  return m;
}

// A tiny built-in architecture with random weights (seeded).
Model random_model(const std::string& name) {
  Model m = make_model(builtin_architecture(name), DType::f32, Device::cpu());
  initialize_parameters(*m.store, 1234);
  return m;
}

// The same architecture and weights (converted to dtype) in a store on `device`.
Model copy_model(const Model& from, DType dtype, Device device) {
  Model m = make_model(from.config, dtype, device);
  REQUIRE(m.store->size() == from.store->size());
  for (ParamId id : from.store->ids()) {
    REQUIRE(m.store->spec(id).name == from.store->spec(id).name);
    m.store->assign(id, from.store->variable(id).data().to(dtype));
  }
  return m;
}

// Three rows: sources of 9, 7 and 5 tokens padded to 9; labels of 6, 5 and 4 tokens, the rest
// -100. Ids stay below `vocab`.
T5Batch test_batch(int64_t vocab) {
  const int64_t range = std::min<int64_t>(vocab, 250) - 2;
  std::vector<int64_t> ids, mask, labels;
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t s = 0; s < 9; ++s) {
      const bool real = s < 9 - 2 * b;
      ids.push_back(real ? (b * 37 + s * 11) % range + 2 : 0);
      mask.push_back(real ? 1 : 0);
    }
    for (int64_t t = 0; t < 6; ++t)
      labels.push_back(t < 6 - b ? (b * 13 + t * 7) % range + 2 : -100);
  }
  return T5Batch{Tensor::from_vector(ids, {3, 9}), Tensor::from_vector(mask, {3, 9}),
                 Tensor::from_vector(labels, {3, 6})};
}

// One forward and backward; results copied to the host.
struct Result {
  Device device;  // where the logits were computed
  Tensor logits;
  Tensor loss;
  Tensor encoder_hidden;
  std::map<std::string, Tensor> grads;  // undefined where a parameter got no gradient
};

Result run(const Model& m, const T5Batch& batch, const ForwardOptions& options = {}) {
  m.store->zero_grad();
  const T5Output out =
      m.model->forward(batch.input_ids, batch.attention_mask, Tensor(), batch.labels, options);
  out.loss.backward();
  Result r;
  r.device = out.logits.data().device();
  r.logits = out.logits.data().to(Device::cpu());
  r.loss = out.loss.data().to(Device::cpu()).reshape({1});
  r.encoder_hidden = out.encoder_hidden.data().to(Device::cpu());
  for (ParamId id : m.store->ids()) {
    const Tensor& g = m.store->variable(id).grad();
    r.grads[m.store->spec(id).name] = g.defined() ? g.to(Device::cpu()) : Tensor();
  }
  return r;
}

// The GPU result against the CPU's in f32: err ≤ 1e-5 for logits and loss, ≤ 1e-4 per gradient.
void check_f32_match(const Result& gpu, const Result& cpu) {
  CHECK(gpu.device == kGpu);
  CHECK(max_error(gpu.logits, cpu.logits) <= kLogitsTolerance);
  CHECK(max_error(gpu.loss, cpu.loss) <= kLogitsTolerance);
  CHECK(max_error(gpu.encoder_hidden, cpu.encoder_hidden) <= kLogitsTolerance);
  REQUIRE(gpu.grads.size() == cpu.grads.size());
  for (const auto& [name, grad] : cpu.grads) {
    CAPTURE(name);
    const Tensor& ours = gpu.grads.at(name);
    REQUIRE(ours.defined() == grad.defined());
    if (grad.defined()) CHECK(max_error(ours, grad) <= kGradTolerance);
  }
}

std::vector<std::vector<int64_t>> rows_of(const Tensor& t) {
  REQUIRE(t.dim() == 2);
  const std::vector<int64_t> flat = t.to_vector<int64_t>();
  std::vector<std::vector<int64_t>> rows;
  for (int64_t r = 0; r < t.size(0); ++r) {
    rows.emplace_back(flat.begin() + r * t.size(1), flat.begin() + (r + 1) * t.size(1));
  }
  return rows;
}

std::vector<std::vector<int64_t>> json_rows(const JsonValue& array) {
  std::vector<std::vector<int64_t>> rows;
  for (const JsonValue& row : array.as_array()) {
    rows.emplace_back();
    for (const JsonValue& v : row.as_array()) rows.back().push_back(v.as_int());
  }
  return rows;
}

ForwardOptions training_options() {
  ForwardOptions o;
  o.training = true;  // dropout p = 0.1 at every HF site
  o.dropout_seed = 7;
  o.step = 3;
  o.first_sample = 5;
  return o;
}

// How many times each autograd op ran in one forward pass with labels.
std::map<std::string, int64_t> forward_op_counts(const Model& m, const T5Batch& batch) {
  autograd::OpProfile profile;
  m.model->forward(batch.input_ids, batch.attention_mask, Tensor(), batch.labels);
  std::map<std::string, int64_t> counts;
  for (const autograd::OpTiming& t : profile.timings()) counts[t.op] = t.forward_calls;
  return counts;
}

}  // namespace

TEST_CASE("on a GPU each fixture model matches transformers: logits, loss, gradients, tokens") {
  for (const std::string& name : kFixtureNames) {
    CAPTURE(name);
    const std::string folder = kFixtures + name;
    Model m = make_model(parse_t5_config(folder + "/config.json"), DType::f32, kGpu);
    load_t5_weights(folder, *m.model);
    const T5Batch batch = read_t5_batch_json(folder + "/batch.json");
    const Result r = run(m, batch);
    CHECK(r.device == kGpu);

    const SafetensorsReader expected = SafetensorsReader::open(folder + "/expected.safetensors");
    CHECK(max_error(r.logits, expected.load("logits")) <= kLogitsTolerance);
    CHECK(max_error(r.loss, expected.load("loss")) <= kLogitsTolerance);
    CHECK(max_error(r.encoder_hidden, expected.load("encoder_last_hidden_state")) <=
          kLogitsTolerance);
    for (const auto& [param, grad] : r.grads) {
      CAPTURE(param);
      REQUIRE(grad.defined());
      CHECK(max_error(grad, expected.load("grad/" + param)) <= kGradTolerance);
    }

    const JsonValue generation = JsonValue::parse_file(folder + "/generation.json");
    for (const std::string mode : {"greedy", "beam"}) {
      CAPTURE(mode);
      const JsonValue e = generation.at(mode);
      GenerationOptions options;
      options.max_new_tokens = e.get_int("max_new_tokens");
      options.num_beams = e.get_int("num_beams");
      options.length_penalty = e.get_double_or("length_penalty", 1.0);
      options.early_stopping = e.get_bool_or("early_stopping", false);
      CHECK(rows_of(generate(*m.model, batch.input_ids, batch.attention_mask, options)) ==
            json_rows(e.at("sequences")));
    }
  }
}

TEST_CASE("f32 on a GPU: logits, loss and every gradient equal the CPU's, dropout off and on") {
  for (const std::string& name : kTinyModels) {
    CAPTURE(name);
    const Model cpu = random_model(name);
    const Model gpu = copy_model(cpu, DType::f32, kGpu);
    const T5Batch batch = test_batch(cpu.config.vocab_size);
    for (const ForwardOptions& options : {ForwardOptions{}, training_options()}) {
      CAPTURE(options.training);
      check_f32_match(run(gpu, batch, options), run(cpu, batch, options));
    }
    // Dropout is on in training (the same masks on both devices, which the match above shows):
    // the loss moves.
    CHECK(max_error(run(gpu, batch, training_options()).loss, run(gpu, batch).loss) > 1e-4);
  }
}

TEST_CASE("gradient checkpointing on a GPU gives the same loss and gradients, with dropout too") {
  for (const std::string& name : kTinyModels) {
    CAPTURE(name);
    const Model gpu = copy_model(random_model(name), DType::f32, kGpu);
    const T5Batch batch = test_batch(gpu.config.vocab_size);
    for (ForwardOptions options : {ForwardOptions{}, training_options()}) {
      CAPTURE(options.training);
      const Result plain = run(gpu, batch, options);
      options.gradient_checkpointing = true;
      const Result checkpointed = run(gpu, batch, options);
      CHECK(max_error(checkpointed.loss, plain.loss) <= kCheckpointTolerance);
      CHECK(max_error(checkpointed.logits, plain.logits) <= kCheckpointTolerance);
      for (const auto& [param, grad] : plain.grads) {
        CAPTURE(param);
        REQUIRE(grad.defined());
        CHECK(max_error(checkpointed.grads.at(param), grad) <= kCheckpointTolerance);
      }
    }
  }
}

TEST_CASE("bf16 on a GPU is as accurate as bf16 on the CPU, dropout off and on") {
  for (const std::string& name : kTinyModels) {
    CAPTURE(name);
    const Model cpu_bf16 = copy_model(random_model(name), DType::bf16, Device::cpu());
    const Model gpu_bf16 = copy_model(cpu_bf16, DType::bf16, kGpu);
    const Model reference = copy_model(cpu_bf16, DType::f32, Device::cpu());  // bf16 weights
    const T5Batch batch = test_batch(reference.config.vocab_size);
    for (const ForwardOptions& options : {ForwardOptions{}, training_options()}) {
      CAPTURE(options.training);
      const Result gpu = run(gpu_bf16, batch, options);
      const Result cpu = run(cpu_bf16, batch, options);
      const Result exact = run(reference, batch, options);
      CHECK(gpu.device == kGpu);
      CHECK(gpu.logits.dtype() == DType::bf16);
      CHECK(max_error(gpu.logits, cpu.logits) <= kBf16LogitsTolerance);
      auto check_accuracy = [](const Tensor& ours, const Tensor& cpu_bf16_result,
                               const Tensor& f32_result) {
        const double gpu_error = l2_error(ours, f32_result);
        const double cpu_error = l2_error(cpu_bf16_result, f32_result);
        CAPTURE(gpu_error);
        CAPTURE(cpu_error);
        CHECK(gpu_error <= 2 * cpu_error + kBf16Spacing);
      };
      check_accuracy(gpu.logits, cpu.logits, exact.logits);
      check_accuracy(gpu.loss, cpu.loss, exact.loss);
      for (const auto& [param, grad] : exact.grads) {
        CAPTURE(param);
        REQUIRE(grad.defined());
        REQUIRE(gpu.grads.at(param).defined());
        check_accuracy(gpu.grads.at(param), cpu.grads.at(param), grad);
      }
    }
  }
}

TEST_CASE("the GPU model runs the fused kernels where the CPU runs their compositions") {
  const Model cpu = random_model("t5-tiny");  // gated-gelu, 2 + 2 blocks
  const Model gpu = copy_model(cpu, DType::f32, kGpu);
  const T5Batch batch = test_batch(cpu.config.vocab_size);
  // Attention layers: 2 encoder self, 2 decoder self, 2 decoder cross; one relative bias per
  // stack; one gated FFN per block.
  const std::map<std::string, int64_t> on_gpu = forward_op_counts(gpu, batch);
  auto count = [](const std::map<std::string, int64_t>& counts, const std::string& op) {
    auto it = counts.find(op);
    return it == counts.end() ? int64_t{0} : it->second;
  };
  CHECK(count(on_gpu, "attention_probs") == 6);
  CHECK(count(on_gpu, "relative_position_bias") == 2);
  CHECK(count(on_gpu, "gated_gelu") == 4);
  CHECK(count(on_gpu, "cross_entropy") == 1);
  CHECK(count(on_gpu, "rms_norm") == 2 * 2 + 2 * 3 + 2);  // per sublayer, plus the final norms
  CHECK(count(on_gpu, "softmax") == 0);
  CHECK(count(on_gpu, "gelu_new") == 0);
  const std::map<std::string, int64_t> on_cpu = forward_op_counts(cpu, batch);
  CHECK(count(on_cpu, "softmax") == 6);
  CHECK(count(on_cpu, "gelu_new") == 4);
  CHECK(count(on_cpu, "attention_probs") == 0);
  CHECK(count(on_cpu, "gated_gelu") == 0);
}

TEST_CASE("inputs already on the GPU give the results of inputs on the host") {
  const Model gpu = copy_model(random_model("t5-micro"), DType::f32, kGpu);
  const T5Batch host = test_batch(gpu.config.vocab_size);
  const T5Batch device{host.input_ids.to(kGpu), host.attention_mask.to(kGpu), host.labels.to(kGpu)};
  for (const ForwardOptions& options : {ForwardOptions{}, training_options()}) {
    CAPTURE(options.training);
    const Result from_host = run(gpu, host, options);
    const Result from_device = run(gpu, device, options);
    CHECK(max_error(from_device.logits, from_host.logits) == 0);
    CHECK(max_error(from_device.loss, from_host.loss) == 0);
    for (const auto& [param, grad] : from_host.grads) {
      CAPTURE(param);
      CHECK(max_error(from_device.grads.at(param), grad) == 0);
    }
  }
  // Decoder inputs given directly, on the GPU, instead of labels.
  const Tensor expected = run(gpu, host).logits;
  const autograd::NoGradGuard no_grad;
  const Tensor decoder_ids = shift_right(host.labels, 0, 0).to(kGpu);
  const Tensor logits =
      gpu.model->forward(device.input_ids, device.attention_mask, decoder_ids, Tensor())
          .logits.data();
  CHECK(logits.device() == kGpu);
  CHECK(max_error(logits.to(Device::cpu()), expected) == 0);
}

TEST_CASE("cached decoding on a GPU gives the CPU's logits at every step") {
  for (const std::string& name : kTinyModels) {
    CAPTURE(name);
    const Model cpu = random_model(name);
    const Model gpu = copy_model(cpu, DType::f32, kGpu);
    const T5Batch batch = test_batch(cpu.config.vocab_size);
    const Tensor decoder_ids = shift_right(batch.labels, 0, 0);
    const int64_t length = decoder_ids.size(1);
    const autograd::NoGradGuard no_grad;
    DecoderCache cpu_cache = cpu.model->start_decoding(
        cpu.model->encode(batch.input_ids, batch.attention_mask), batch.attention_mask, length + 1);
    DecoderCache gpu_cache = gpu.model->start_decoding(
        gpu.model->encode(batch.input_ids, batch.attention_mask), batch.attention_mask, length + 1);
    for (int64_t t = 0; t < length; ++t) {
      CAPTURE(t);
      const Tensor ids = decoder_ids.narrow(1, t, 1).contiguous();
      const Tensor on_gpu = gpu.model->decode_step(ids, gpu_cache).data();
      CHECK(on_gpu.device() == kGpu);
      CHECK(max_error(on_gpu.to(Device::cpu()), cpu.model->decode_step(ids, cpu_cache).data()) <=
            kLogitsTolerance);
    }
    // Rows reordered and one dropped (host indices, as generation gives them), then one more
    // step: the GPU cache moved its rows as the CPU's did.
    const Tensor keep = Tensor::from_vector(std::vector<int64_t>{2, 0}, {2});
    cpu_cache.select_rows(keep);
    gpu_cache.select_rows(keep);
    REQUIRE(gpu_cache.rows() == 2);
    const Tensor next = Tensor::from_vector(std::vector<int64_t>{5, 9}, {2, 1});
    CHECK(max_error(gpu.model->decode_step(next, gpu_cache).data().to(Device::cpu()),
                    cpu.model->decode_step(next, cpu_cache).data()) <= kLogitsTolerance);
  }
}

TEST_CASE("greedy and beam generation on a GPU give the CPU's tokens") {
  for (const std::string& name : kTinyModels) {
    CAPTURE(name);
    const Model cpu = random_model(name);
    const Model gpu = copy_model(cpu, DType::f32, kGpu);
    const T5Batch batch = test_batch(cpu.config.vocab_size);
    for (int64_t beams : {1, 3}) {
      CAPTURE(beams);
      GenerationOptions options;
      options.num_beams = beams;
      options.max_length = 10;
      const Tensor expected = generate(*cpu.model, batch.input_ids, batch.attention_mask, options);
      CHECK(rows_of(generate(*gpu.model, batch.input_ids, batch.attention_mask, options)) ==
            rows_of(expected));
      // Inputs on the GPU, and the mask inferred from pad tokens, as transformers does.
      CHECK(rows_of(generate(*gpu.model, batch.input_ids.to(kGpu), Tensor(), options)) ==
            rows_of(generate(*cpu.model, batch.input_ids, Tensor(), options)));
    }
  }
}
