// The T5 model against transformers 4.26 (fixtures from tools/reference/make_t5_fixtures.py):
// logits, loss and every gradient in f32; checkpointing; parameter scopes; loading and saving
// model folders; random initialisation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "io/sharded_checkpoint.h"
#include "io/t5_config.h"
#include "models/parameter_store.h"
#include "models/t5_batch.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "temp_folder.h"

namespace fs = std::filesystem;
using namespace t5zero;
using namespace t5zero::models;
using t5zero::testing::TempFolder;

namespace {

const std::string kFixtures = T5ZERO_SOURCE_DIR "/tests/fixtures/t5/";
const std::vector<std::string> kFixtureNames = {"flan_gated", "t5v1_relu_tied", "uneven_layers",
                                                "inner_dim"};
constexpr double kLogitsTolerance = 1e-5;  // relative to the tensor's max |value|
constexpr double kGradTolerance = 1e-4;

// max |ours − theirs| / max |theirs|, the "relative, scaled by the tensor's max".
double relative_error(const Tensor& ours, const Tensor& theirs) {
  REQUIRE(ours.shape() == theirs.shape());
  const std::vector<double> a = ours.to_vector<double>(), b = theirs.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// A fixture model folder loaded into a fresh store (or the given one).
struct Fixture {
  std::string folder;
  T5Config config;
  std::unique_ptr<ParameterStore> store;
  std::unique_ptr<T5ForConditionalGeneration> model;
  WeightsLoadReport report;
  T5Batch batch;
};

Fixture load_fixture(const std::string& name,
                     std::unique_ptr<ParameterStore> store = std::make_unique<ParameterStore>()) {
  Fixture f;
  f.folder = kFixtures + name;
  f.config = parse_t5_config(f.folder + "/config.json");
  f.store = std::move(store);
  f.model = std::make_unique<T5ForConditionalGeneration>(f.config, *f.store);
  f.report = load_t5_weights(f.folder, *f.model);
  f.batch = read_t5_batch_json(f.folder + "/batch.json");
  return f;
}

T5Output run(const Fixture& f, const ForwardOptions& options = {}) {
  f.store->zero_grad();
  T5Output out = f.model->forward(f.batch.input_ids, f.batch.attention_mask, Tensor(),
                                  f.batch.labels, options);
  out.loss.backward();
  return out;
}

std::map<std::string, Tensor> gradients(const ParameterStore& store) {
  std::map<std::string, Tensor> grads;
  for (ParamId id : store.ids()) grads[store.spec(id).name] = store.variable(id).grad().clone();
  return grads;
}

// Every tensor of a safetensors file, for rewriting it with changes.
std::vector<std::pair<std::string, Tensor>> read_all(const std::string& path) {
  const SafetensorsReader reader = SafetensorsReader::open(path);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const SafetensorsTensorInfo& info : reader.tensors()) {
    tensors.emplace_back(info.name, reader.load(info.name, TensorLoad::copy));
  }
  return tensors;
}

// A copy of a fixture folder's config.json with the given tensors as its model.safetensors.
void write_folder(const fs::path& folder, const std::string& fixture,
                  const std::vector<std::pair<std::string, Tensor>>& tensors) {
  fs::create_directories(folder);
  fs::copy_file(kFixtures + fixture + "/config.json", folder / "config.json",
                fs::copy_options::overwrite_existing);
  save_safetensors((folder / "model.safetensors").string(), tensors);
}

// With T5ZERO_KEEP_SAVED_MODELS=DIR, a saved folder is also copied to DIR/<name> with the batch
// and the logits t5zero computed from it, for tools/reference/check_saved_folder.py to load in
// transformers and compare.
void keep_for_transformers_check(const fs::path& folder, const std::string& name,
                                 const T5Batch& batch, const Tensor& logits) {
  const char* keep = std::getenv("T5ZERO_KEEP_SAVED_MODELS");
  if (keep == nullptr || *keep == '\0') return;
  const fs::path target = fs::path(keep) / name;
  fs::remove_all(target);
  fs::create_directories(target);
  fs::copy(folder, target, fs::copy_options::recursive);
  save_safetensors((target / "t5zero_logits.safetensors").string(),
                   {{"logits", logits},
                    {"input_ids", batch.input_ids},
                    {"attention_mask", batch.attention_mask},
                    {"labels", batch.labels}});
}

// A store that behaves as ZeRO-3 does to memory: a released parameter's data is replaced by NaNs
// (its values wait aside), a gathered one gets its values back, loading writes the values aside.
// Any computation that reads a parameter outside its scope — in forward or backward — turns into
// NaNs.
class ReleasingStore : public ParameterStore {
 public:
  // Call once every parameter is registered: from here on all are released.
  void release_all() {
    for (ParamId id : ids()) {
      values_[id.index] = variable(id).data();
      variable(id).state()->data = Tensor::full(spec(id).shape, std::nan(""), dtype());
    }
  }
  void gather(const std::vector<ParamId>& ids) override {
    ++gathers;
    for (ParamId id : ids) {
      variable(id).state()->data = values_.at(id.index);
      present.insert(id.index);
    }
  }
  // Loading writes the values kept aside, as a sharded store writes its shard.
  void assign(ParamId id, const Tensor& value) override {
    REQUIRE(value.shape() == spec(id).shape);
    values_.at(id.index).copy_(value);
  }
  void release(const std::vector<ParamId>& ids) override {
    for (ParamId id : ids) {
      variable(id).state()->data = Tensor::full(spec(id).shape, std::nan(""), dtype());
      present.erase(id.index);
    }
  }
  std::set<int32_t> present;
  int gathers = 0;

 private:
  std::map<int32_t, Tensor> values_;
};

}  // namespace

TEST_CASE("T5 logits, loss and every gradient match transformers on each fixture config") {
  for (const std::string& name : kFixtureNames) {
    CAPTURE(name);
    const Fixture f = load_fixture(name);
    const SafetensorsReader expected = SafetensorsReader::open(f.folder + "/expected.safetensors");
    const T5Output out = run(f);

    CHECK(relative_error(out.logits.data(), expected.load("logits")) < kLogitsTolerance);
    CHECK(relative_error(out.loss.data().reshape({1}), expected.load("loss")) < kLogitsTolerance);
    CHECK(relative_error(out.encoder_hidden.data(), expected.load("encoder_last_hidden_state")) <
          kLogitsTolerance);

    // The parameters are exactly transformers' (names and shapes), each gradient within 1e-4.
    std::set<std::string> expected_names;
    for (const SafetensorsTensorInfo& info : expected.tensors()) {
      if (info.name.rfind("grad/", 0) == 0) expected_names.insert(info.name.substr(5));
    }
    std::set<std::string> our_names;
    for (ParamId id : f.store->ids()) our_names.insert(f.store->spec(id).name);
    CHECK(our_names == expected_names);
    for (ParamId id : f.store->ids()) {
      const std::string& param = f.store->spec(id).name;
      CAPTURE(param);
      if (!expected_names.count(param)) continue;
      const Tensor theirs = expected.load("grad/" + param);
      REQUIRE(f.store->variable(id).grad().defined());
      CHECK(f.store->spec(id).shape == theirs.shape());
      CHECK(relative_error(f.store->variable(id).grad(), theirs) < kGradTolerance);
    }
  }
}

TEST_CASE(
    "the fixture folders load: embedding aliases accepted, stray cross-attention bias ignored") {
  // Each fixture stores the embedding differently (see make_t5_fixtures.py); all must load, and
  // nothing they hold is reported unexpected.
  for (const std::string& name : kFixtureNames) {
    CAPTURE(name);
    const Fixture f = load_fixture(name);
    CHECK(f.report.unexpected.empty());
  }
  const SafetensorsReader tied =
      SafetensorsReader::open(kFixtures + "t5v1_relu_tied/model.safetensors");
  CHECK_FALSE(tied.contains("shared.weight"));
  CHECK(tied.contains("decoder.embed_tokens.weight"));
  CHECK(tied.contains("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"));
  const Fixture f = load_fixture("t5v1_relu_tied");
  CHECK_FALSE(f.store->contains("lm_head.weight"));
  CHECK(relative_error(f.store->variable(f.store->id("shared.weight")).data(),
                       tied.load("decoder.embed_tokens.weight")) == 0);
}

TEST_CASE("loading renamed embeddings gives the same logits; unknown tensors are reported") {
  const Fixture reference = load_fixture("flan_gated");
  const Tensor reference_logits = run(reference).logits.data();
  for (const std::string alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
    CAPTURE(alias);
    TempFolder dir("t5_alias");
    auto tensors = read_all(reference.folder + "/model.safetensors");
    for (auto& [name, value] : tensors) {
      if (name == "shared.weight") name = alias;
    }
    tensors.emplace_back("encoder.block.0.extra.weight", Tensor::ones({2}));
    write_folder(dir.path, "flan_gated", tensors);
    ParameterStore store;
    T5ForConditionalGeneration model(reference.config, store);
    const WeightsLoadReport report = load_t5_weights(dir.path.string(), model);
    CHECK(report.unexpected == std::vector<std::string>{"encoder.block.0.extra.weight"});
    const Tensor logits = model
                              .forward(reference.batch.input_ids, reference.batch.attention_mask,
                                       Tensor(), reference.batch.labels)
                              .logits.data();
    CHECK(relative_error(logits, reference_logits) == 0);
  }
}

TEST_CASE("missing and mis-shaped tensors are one error listing them all") {
  TempFolder dir("t5_broken");
  auto tensors = read_all(kFixtures + "flan_gated/model.safetensors");
  std::vector<std::pair<std::string, Tensor>> broken;
  for (auto& [name, value] : tensors) {
    if (name == "shared.weight" || name == "decoder.block.1.layer.2.DenseReluDense.wo.weight") {
      continue;  // missing
    }
    if (name == "encoder.block.0.layer.0.SelfAttention.q.weight") {
      value = Tensor::zeros({value.size(0), value.size(1) + 1});
    }
    broken.emplace_back(name, value);
  }
  write_folder(dir.path, "flan_gated", broken);
  const T5Config config = parse_t5_config(kFixtures + "flan_gated/config.json");
  ParameterStore store;
  T5ForConditionalGeneration model(config, store);
  std::string message;
  try {
    load_t5_weights(dir.path.string(), model);
  } catch (const Error& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find(dir.path.string()) != std::string::npos);
  CHECK(message.find("2 missing") != std::string::npos);
  CHECK(message.find("shared.weight (or encoder.embed_tokens.weight or "
                     "decoder.embed_tokens.weight)") != std::string::npos);
  CHECK(message.find("decoder.block.1.layer.2.DenseReluDense.wo.weight") != std::string::npos);
  CHECK(message.find("1 mis-shaped") != std::string::npos);
  CHECK(message.find("encoder.block.0.layer.0.SelfAttention.q.weight (expected [32, 32], found "
                     "[32, 33]") != std::string::npos);

  // A tied config needs no lm_head.weight; an untied one does.
  TempFolder untied("t5_untied");
  std::vector<std::pair<std::string, Tensor>> without_head;
  for (auto& [name, value] : tensors) {
    if (name != "lm_head.weight") without_head.emplace_back(name, value);
  }
  write_folder(untied.path, "flan_gated", without_head);
  ParameterStore store2;
  T5ForConditionalGeneration model2(config, store2);
  CHECK_THROWS_WITH_AS(load_t5_weights(untied.path.string(), model2),
                       doctest::Contains("1 missing tensor(s): lm_head.weight"), Error);
}

TEST_CASE("checkpointing each block gives the same loss and gradients, with dropout too") {
  for (const std::string name : {"flan_gated", "t5v1_relu_tied"}) {
    CAPTURE(name);
    const Fixture f = load_fixture(name);
    ForwardOptions eval, train;
    train.training = true;
    train.dropout_seed = 1234;
    train.step = 5;
    for (const ForwardOptions& base : {eval, train}) {
      CAPTURE(base.training);
      const double loss = run(f, base).loss.data().item();
      const auto grads = gradients(*f.store);
      ForwardOptions checkpointed = base;
      checkpointed.gradient_checkpointing = true;
      CHECK(run(f, checkpointed).loss.data().item() == doctest::Approx(loss).epsilon(1e-7));
      for (const auto& [param, grad] : gradients(*f.store)) {
        CAPTURE(param);
        CHECK(relative_error(grad, grads.at(param)) < 1e-6);
      }
    }
    // Dropout is on in training (p = 0.1): the loss moves.
    CHECK(run(f, train).loss.data().item() != doctest::Approx(run(f, eval).loss.data().item()));
  }
}

TEST_CASE("dropout masks are keyed by seed, step and global sample, not by call order") {
  const Fixture f = load_fixture("flan_gated");
  ForwardOptions train;
  train.training = true;
  train.dropout_seed = 99;
  train.step = 1;
  auto logits = [&](const T5Batch& b, const ForwardOptions& o) {
    return f.model->forward(b.input_ids, b.attention_mask, Tensor(), b.labels, o).logits.data();
  };
  const Tensor first = logits(f.batch, train);
  CHECK(relative_error(logits(f.batch, train), first) == 0);  // same keys, same masks
  ForwardOptions next_step = train;
  next_step.step = 2;
  CHECK(relative_error(logits(f.batch, next_step), first) > 1e-3);
  ForwardOptions other_seed = train;
  other_seed.dropout_seed = 100;
  CHECK(relative_error(logits(f.batch, other_seed), first) > 1e-3);

  // Row 1 alone, told it is global sample 1, draws the masks it drew inside the batch: the same
  // elements drop whichever rank or micro-batch a sample lands in.
  T5Batch row1{f.batch.input_ids.narrow(0, 1, 1).contiguous(),
               f.batch.attention_mask.narrow(0, 1, 1).contiguous(),
               f.batch.labels.narrow(0, 1, 1).contiguous()};
  ForwardOptions as_sample1 = train;
  as_sample1.first_sample = 1;
  const Tensor batch_row1 = first.narrow(0, 1, 1).contiguous();
  CHECK(relative_error(logits(row1, as_sample1), batch_row1) < 1e-5);
  CHECK(relative_error(logits(row1, train), batch_row1) > 1e-3);
}

TEST_CASE("parameter scopes gather before a module's backward and release after it") {
  for (const std::string name : {"flan_gated", "t5v1_relu_tied"}) {
    CAPTURE(name);
    const Fixture plain = load_fixture(name);
    const double plain_loss = run(plain).loss.data().item();
    const auto expected = gradients(*plain.store);

    for (bool checkpointing : {false, true}) {
      CAPTURE(checkpointing);
      auto releasing = std::make_unique<ReleasingStore>();
      ReleasingStore* store = releasing.get();
      const T5Config config = parse_t5_config(kFixtures + name + "/config.json");
      Fixture f;
      f.folder = kFixtures + name;
      f.store = std::move(releasing);
      f.model = std::make_unique<T5ForConditionalGeneration>(config, *f.store);
      store->release_all();
      load_t5_weights(f.folder, *f.model);
      f.batch = plain.batch;
      CHECK(store->present.empty());

      ForwardOptions options;
      options.gradient_checkpointing = checkpointing;
      f.store->zero_grad();
      T5Output out = f.model->forward(f.batch.input_ids, f.batch.attention_mask, Tensor(),
                                      f.batch.labels, options);
      CHECK(store->present.empty());  // forward released everything it gathered
      const int forward_gathers = store->gathers;
      out.loss.backward();
      CHECK(store->present.empty());  // and so did backward
      CHECK(store->gathers > forward_gathers);
      CHECK(out.loss.data().item() == doctest::Approx(plain_loss).epsilon(1e-7));
      for (const auto& [param, grad] : gradients(*f.store)) {
        CAPTURE(param);
        CHECK(relative_error(grad, expected.at(param)) < 1e-6);
      }
    }
  }
}

TEST_CASE("a saved folder loads back to the same parameters and logits, sharded or not") {
  const Fixture f = load_fixture("inner_dim");
  const Tensor reference_logits = run(f).logits.data();
  TempFolder dir("t5_save");
  // Stand-in tokenizer files: save copies whichever exist.
  TempFolder tokenizer("t5_tokenizer");
  std::ofstream(tokenizer.path / "spiece.model") << "spiece bytes";
  std::ofstream(tokenizer.path / "tokenizer_config.json") << "{}";

  for (uint64_t max_shard_bytes : {kDefaultMaxShardBytes, uint64_t{20'000}}) {
    CAPTURE(max_shard_bytes);
    const fs::path out = dir.path / std::to_string(max_shard_bytes);
    save_t5_folder(*f.model, out.string(), {max_shard_bytes, tokenizer.path.string()});
    const bool sharded = max_shard_bytes < 1'000'000;
    CHECK(fs::exists(out / "model.safetensors") == !sharded);
    CHECK(fs::exists(out / "model.safetensors.index.json") == sharded);
    CHECK(fs::exists(out / "generation_config.json"));
    CHECK(fs::exists(out / "spiece.model"));
    CHECK(fs::exists(out / "tokenizer_config.json"));
    CHECK_FALSE(fs::exists(out / "tokenizer.json"));
    if (sharded) CHECK(ShardedCheckpointReader::open(out.string()).shard_count() > 1);

    const T5Config config = parse_t5_config((out / "config.json").string());
    CHECK(config.d_model == f.config.d_model);
    CHECK(config.num_heads * config.d_kv != config.d_model);
    ParameterStore store;
    T5ForConditionalGeneration model(config, store);
    CHECK(load_t5_weights(out.string(), model).unexpected.empty());
    for (ParamId id : store.ids()) {
      const std::string& param = store.spec(id).name;
      CAPTURE(param);
      CHECK(relative_error(store.variable(id).data(),
                           f.store->variable(f.store->id(param)).data()) == 0);
    }
    const Tensor logits =
        model.forward(f.batch.input_ids, f.batch.attention_mask, Tensor(), f.batch.labels)
            .logits.data();
    CHECK(relative_error(logits, reference_logits) == 0);
    keep_for_transformers_check(out, sharded ? "inner_dim_sharded" : "inner_dim", f.batch, logits);
  }
}

TEST_CASE("a tied model saves shared.weight only, and its logits survive the round trip") {
  const Fixture f = load_fixture("t5v1_relu_tied");
  TempFolder dir("t5_save_tied");
  save_t5_folder(*f.model, dir.path.string());
  const SafetensorsReader saved =
      SafetensorsReader::open((dir.path / "model.safetensors").string());
  CHECK(saved.contains("shared.weight"));
  CHECK_FALSE(saved.contains("lm_head.weight"));
  CHECK_FALSE(saved.contains("decoder.embed_tokens.weight"));
  CHECK(static_cast<int64_t>(saved.tensors().size()) == f.store->size());
  ParameterStore store;
  T5ForConditionalGeneration model(parse_t5_config((dir.path / "config.json").string()), store);
  load_t5_weights(dir.path.string(), model);
  const T5Output a = run(f);
  const T5Output b =
      model.forward(f.batch.input_ids, f.batch.attention_mask, Tensor(), f.batch.labels);
  CHECK(relative_error(b.logits.data(), a.logits.data()) == 0);
  keep_for_transformers_check(dir.path, "t5v1_relu_tied", f.batch, b.logits.data());
}

TEST_CASE("a randomly initialised model saves a folder that reloads to the same logits") {
  for (const std::string name : {"flan_gated", "t5v1_relu_tied"}) {
    CAPTURE(name);
    const T5Config config = parse_t5_config(kFixtures + name + "/config.json");
    const T5Batch batch = read_t5_batch_json(kFixtures + name + "/batch.json");
    ParameterStore store;
    T5ForConditionalGeneration model(config, store);
    initialize_parameters(store, 2024);
    const Tensor logits =
        model.forward(batch.input_ids, batch.attention_mask, Tensor(), batch.labels).logits.data();
    TempFolder dir("t5_save_random");
    save_t5_folder(model, dir.path.string());
    ParameterStore reloaded_store;
    T5ForConditionalGeneration reloaded(parse_t5_config((dir.path / "config.json").string()),
                                        reloaded_store);
    CHECK(load_t5_weights(dir.path.string(), reloaded).unexpected.empty());
    const Tensor reloaded_logits =
        reloaded.forward(batch.input_ids, batch.attention_mask, Tensor(), batch.labels)
            .logits.data();
    CHECK(relative_error(reloaded_logits, logits) == 0);
    keep_for_transformers_check(dir.path, "random_init_" + name, batch, logits);
  }
}

TEST_CASE("shift_right: start token first, labels moved right, -100 becomes pad") {
  const Tensor labels = Tensor::from_vector<int64_t>({5, 6, 1, -100, 7, -100, -100, 1}, {2, 4});
  CHECK(shift_right(labels, 0, 0).to_vector<int64_t>() ==
        std::vector<int64_t>{0, 5, 6, 1, 0, 7, 0, 0});
  CHECK(shift_right(labels, 3, 9).to_vector<int64_t>() ==
        std::vector<int64_t>{3, 5, 6, 1, 3, 7, 9, 9});
}

TEST_CASE("random init: transformers' _init_weights standard deviations, keyed by name") {
  T5Config config;
  config.vocab_size = 200;
  config.d_model = 64;
  config.d_kv = 16;
  config.num_heads = 3;
  config.d_ff = 96;
  config.num_layers = 1;
  config.num_decoder_layers = 1;
  set_feed_forward_proj(config, "gated-gelu");
  config.tie_word_embeddings = false;
  config.initializer_factor = 2.0;
  ParameterStore store;
  T5ForConditionalGeneration model(config, store);
  initialize_parameters(store, 7);

  // transformers 4.26 T5PreTrainedModel._init_weights, with factor 2.
  const std::map<std::string, double> expected_std = {
      {"shared.weight", 2.0},
      {"lm_head.weight", 2.0},
      {"encoder.block.0.layer.0.SelfAttention.q.weight", 2.0 / std::sqrt(64.0 * 16.0)},
      {"encoder.block.0.layer.0.SelfAttention.k.weight", 2.0 / 8.0},
      {"decoder.block.0.layer.1.EncDecAttention.v.weight", 2.0 / 8.0},
      {"decoder.block.0.layer.0.SelfAttention.o.weight", 2.0 / std::sqrt(48.0)},
      {"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 2.0 / 8.0},
      {"decoder.block.0.layer.2.DenseReluDense.wi_0.weight", 2.0 / 8.0},
      {"encoder.block.0.layer.1.DenseReluDense.wi_1.weight", 2.0 / 8.0},
      {"encoder.block.0.layer.1.DenseReluDense.wo.weight", 2.0 / std::sqrt(96.0)},
  };
  for (const auto& [name, std_expected] : expected_std) {
    CAPTURE(name);
    const ParameterSpec& spec = store.spec(store.id(name));
    CHECK(spec.init.kind == InitRecipe::Kind::normal);
    CHECK(spec.init.value == doctest::Approx(std_expected).epsilon(1e-12));
    const std::vector<double> v = store.variable(store.id(name)).data().to_vector<double>();
    double mean = 0, square = 0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    for (double x : v) square += (x - mean) * (x - mean) / static_cast<double>(v.size());
    const double n = static_cast<double>(v.size());
    CHECK(std::abs(mean) < 5 * std_expected / std::sqrt(n));
    // The sample std of n normals is within 5/sqrt(2n) of the truth, relatively, but for
    // astronomically bad luck.
    CHECK(std::abs(std::sqrt(square) / std_expected - 1) < 5 / std::sqrt(2 * n));
  }
  for (ParamId id : store.ids()) {
    const ParameterSpec& spec = store.spec(id);
    if (spec.name.ends_with("layer_norm.weight")) {
      CAPTURE(spec.name);
      CHECK(store.variable(id).data().to_vector<double>() ==
            std::vector<double>(static_cast<size_t>(config.d_model), 2.0));
    }
  }

  // Same seed, same values; another seed, others. Keyed by name: a model with more layers
  // draws the same values for the parameters both have.
  const std::string q = "encoder.block.0.layer.0.SelfAttention.q.weight";
  T5Config deeper = config;
  deeper.num_layers = 3;
  ParameterStore store2, store3;
  T5ForConditionalGeneration model2(deeper, store2), model3(config, store3);
  initialize_parameters(store2, 7);
  initialize_parameters(store3, 8);
  CHECK(relative_error(store2.variable(store2.id(q)).data(), store.variable(store.id(q)).data()) ==
        0);
  CHECK(relative_error(store2.variable(store2.id("decoder.final_layer_norm.weight")).data(),
                       store.variable(store.id("decoder.final_layer_norm.weight")).data()) == 0);
  CHECK(relative_error(store3.variable(store3.id(q)).data(), store.variable(store.id(q)).data()) >
        0.5);
}

TEST_CASE("tied configs have no lm_head parameter; untied ones do; counts match HF's formula") {
  for (const std::string& name : kFixtureNames) {
    CAPTURE(name);
    const T5Config c = parse_t5_config(kFixtures + name + "/config.json");
    ParameterStore store;
    T5ForConditionalGeneration model(c, store);
    CHECK(store.contains("lm_head.weight") == !c.tie_word_embeddings);
    // reference/t5_numerics.md §2: V·d (+ V·d untied) + L_enc·(4·d·inner + 3·d·dff or 2·d·dff
    // + 2·d) + buckets·H + d + L_dec·(8·d·inner + ffn + 3·d) + buckets·H + d.
    const int64_t ffn = (c.is_gated_act ? 3 : 2) * c.d_model * c.d_ff;
    const int64_t inner = c.num_heads * c.d_kv;
    const int64_t bias = c.relative_attention_num_buckets * c.num_heads;
    const int64_t expected =
        c.vocab_size * c.d_model * (c.tie_word_embeddings ? 1 : 2) +
        c.num_layers * (4 * c.d_model * inner + ffn + 2 * c.d_model) + bias + c.d_model +
        c.num_decoder_layers * (8 * c.d_model * inner + ffn + 3 * c.d_model) + bias + c.d_model;
    CHECK(store.numel() == expected);
  }
}

TEST_CASE("an activation t5zero does not implement is refused when the model is built") {
  T5Config config = parse_t5_config(kFixtures + "flan_gated/config.json");
  set_feed_forward_proj(config, "gated-silu");
  ParameterStore store;
  CHECK_THROWS_WITH_AS(T5ForConditionalGeneration(config, store),
                       doctest::Contains("feed_forward_proj 'gated-silu'"), Error);
}
