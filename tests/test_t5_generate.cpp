// Generation against transformers 4.26's generate(), token for token (fixtures from
// tools/reference/make_generate_fixture.py and make_t5_fixtures.py); the KV cache against the
// full decoder; batched against one input at a time; parameter scopes during generation.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "io/json.h"
#include "io/t5_config.h"
#include "models/kv_cache.h"
#include "models/parameter_store.h"
#include "models/t5_batch.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_generate.h"
#include "models/t5_model.h"
#include "tensor/ops.h"

using namespace t5zero;
using namespace t5zero::models;

namespace {

const std::string kGenerateFixtures = T5ZERO_SOURCE_DIR "/tests/fixtures/generate/";
const std::string kModelFixtures = T5ZERO_SOURCE_DIR "/tests/fixtures/t5/";
const std::vector<std::string> kModelFixtureNames = {"flan_gated", "t5v1_relu_tied",
                                                     "uneven_layers", "inner_dim"};

using Rows = std::vector<std::vector<int64_t>>;

struct LoadedModel {
  std::unique_ptr<ParameterStore> store;
  std::unique_ptr<T5ForConditionalGeneration> model;
};

LoadedModel load_model(const std::string& folder,
                       std::unique_ptr<ParameterStore> store = std::make_unique<ParameterStore>()) {
  LoadedModel m;
  m.store = std::move(store);
  m.model = std::make_unique<T5ForConditionalGeneration>(parse_t5_config(folder + "/config.json"),
                                                         *m.store);
  load_t5_weights(folder, *m.model);
  return m;
}

Rows json_rows(const JsonValue& array) {
  Rows rows;
  for (const JsonValue& row : array.as_array()) {
    rows.emplace_back();
    for (const JsonValue& v : row.as_array()) rows.back().push_back(v.as_int());
  }
  return rows;
}

Tensor rows_tensor(const Rows& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return Tensor::from_vector(
      flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows.front().size())});
}

Rows tensor_rows(const Tensor& t) {
  REQUIRE(t.dim() == 2);
  const std::vector<int64_t> flat = t.to_vector<int64_t>();
  Rows rows(static_cast<size_t>(t.size(0)));
  for (int64_t r = 0; r < t.size(0); ++r) {
    rows[static_cast<size_t>(r)].assign(flat.begin() + r * t.size(1),
                                        flat.begin() + (r + 1) * t.size(1));
  }
  return rows;
}

// generate() keyword arguments of a fixture case, over the model's generation_config.json.
GenerationOptions options_from_json(const JsonValue& json, const std::string& folder) {
  const T5Config config = parse_t5_config(folder + "/config.json");
  GenerationOptions o = generation_options(parse_generation_config(
      folder + "/generation_config.json", generation_config_from_model(config)));
  for (const auto& [key, value] : json.as_object()) {
    if (key == "num_beams") {
      o.num_beams = value.as_int();
    } else if (key == "max_length") {
      o.max_length = value.as_int();
    } else if (key == "max_new_tokens") {
      o.max_new_tokens = value.as_int();
    } else if (key == "min_length") {
      o.min_length = value.as_int();
    } else if (key == "no_repeat_ngram_size") {
      o.no_repeat_ngram_size = value.as_int();
    } else if (key == "length_penalty") {
      o.length_penalty = value.as_double();
    } else if (key == "early_stopping") {
      o.early_stopping = value.as_bool();
    } else {
      FAIL("fixture option ", key, " is not known to this test");
    }
  }
  return o;
}

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

// A row without its trailing pad (0) tokens after the start token.
std::vector<int64_t> trimmed(std::vector<int64_t> row) {
  while (row.size() > 1 && row.back() == 0) row.pop_back();
  return row;
}

// Releases parameters as ZeRO-3 does to memory: a released parameter's data is NaN, so reading
// one outside its module's scope shows in the results.
class ReleasingStore : public ParameterStore {
 public:
  void release_all() {
    for (ParamId id : ids()) {
      values_[id.index] = variable(id).data().clone();
      variable(id).state()->data = Tensor::full(spec(id).shape, std::nan(""), dtype());
    }
  }
  void gather(const std::vector<ParamId>& ids) override {
    for (ParamId id : ids) variable(id).state()->data = values_.at(id.index);
  }
  void release(const std::vector<ParamId>& ids) override {
    for (ParamId id : ids) {
      variable(id).state()->data = Tensor::full(spec(id).shape, std::nan(""), dtype());
    }
  }

 private:
  std::map<int32_t, Tensor> values_;
};

}  // namespace

TEST_CASE("generate matches transformers token for token on every fixture case") {
  int cases = 0;
  for (const std::string name : {"flan_like", "t5v1_tied"}) {
    const std::string folder = kGenerateFixtures + name;
    const LoadedModel m = load_model(folder);
    const JsonValue fixture = JsonValue::parse_file(folder + "/cases.json");
    const Tensor input_ids = rows_tensor(json_rows(fixture.at("input_ids")));
    const Tensor attention_mask = rows_tensor(json_rows(fixture.at("attention_mask")));
    for (const JsonValue& c : fixture.at("cases").as_array()) {
      const std::string case_name = name + "/" + c.get_string("name");
      CAPTURE(case_name);
      const GenerationOptions options = options_from_json(c.at("options"), folder);
      const Rows expected = json_rows(c.at("sequences"));
      CHECK(tensor_rows(generate(*m.model, input_ids, attention_mask, options)) == expected);
      ++cases;
    }
  }
  CHECK(cases == 38);
}

TEST_CASE("generate matches transformers' greedy and beam outputs on each model fixture") {
  for (const std::string& name : kModelFixtureNames) {
    CAPTURE(name);
    const std::string folder = kModelFixtures + name;
    const LoadedModel m = load_model(folder);
    const T5Batch batch = read_t5_batch_json(folder + "/batch.json");
    const JsonValue expected = JsonValue::parse_file(folder + "/generation.json");
    for (const std::string mode : {"greedy", "beam"}) {
      CAPTURE(mode);
      const JsonValue e = expected.at(mode);
      GenerationOptions options;
      options.max_new_tokens = e.get_int("max_new_tokens");
      options.num_beams = e.get_int("num_beams");
      options.length_penalty = e.get_double_or("length_penalty", 1.0);
      options.early_stopping = e.get_bool_or("early_stopping", false);
      CHECK(tensor_rows(generate(*m.model, batch.input_ids, batch.attention_mask, options)) ==
            json_rows(e.at("sequences")));
    }
  }
}

TEST_CASE("decoding with the KV cache gives the full decoder's logits at every position") {
  for (const std::string& name : kModelFixtureNames) {
    CAPTURE(name);
    const std::string folder = kModelFixtures + name;
    const LoadedModel m = load_model(folder);
    const T5Batch batch = read_t5_batch_json(folder + "/batch.json");
    const Tensor decoder_ids = shift_right(batch.labels, 0, 0);
    const int64_t length = decoder_ids.size(1);
    autograd::NoGradGuard no_grad;
    const autograd::Variable encoded = m.model->encode(batch.input_ids, batch.attention_mask);
    const Tensor full = m.model->decode(decoder_ids, encoded, batch.attention_mask).data();

    // One position per step, as generation feeds them, and in chunks of 3 (queries that see each
    // other causally as well as the cache).
    for (int64_t chunk : {int64_t{1}, int64_t{3}}) {
      CAPTURE(chunk);
      DecoderCache cache = m.model->start_decoding(encoded, batch.attention_mask, length);
      for (int64_t start = 0; start < length; start += chunk) {
        const int64_t n = std::min(chunk, length - start);
        CAPTURE(start);
        CHECK(cache.length() == start);
        const Tensor step =
            m.model->decode_step(decoder_ids.narrow(1, start, n).contiguous(), cache).data();
        CHECK(relative_error(step, full.narrow(1, start, n).contiguous()) < 1e-5);
      }
      CHECK(cache.length() == length);
      // The cache is full: one more position is an error, not a silent reallocation.
      CHECK_THROWS_WITH_AS(m.model->decode_step(decoder_ids.narrow(1, 0, 1).contiguous(), cache),
                           doctest::Contains("exceed the capacity"), Error);
    }
  }
}

TEST_CASE("batched generation equals generating each input alone") {
  const std::string folder = kGenerateFixtures + "flan_like";
  const LoadedModel m = load_model(folder);
  const JsonValue fixture = JsonValue::parse_file(folder + "/cases.json");
  const Rows inputs = json_rows(fixture.at("input_ids"));
  const Rows masks = json_rows(fixture.at("attention_mask"));
  for (const JsonValue& c : fixture.at("cases").as_array()) {
    const std::string case_name = c.get_string("name");
    CAPTURE(case_name);
    const GenerationOptions options = options_from_json(c.at("options"), folder);
    const Rows batched =
        tensor_rows(generate(*m.model, rows_tensor(inputs), rows_tensor(masks), options));
    // Without a mask, pad tokens are masked, as transformers infers the mask.
    CHECK(tensor_rows(generate(*m.model, rows_tensor(inputs), Tensor(), options)) == batched);
    for (size_t r = 0; r < inputs.size(); ++r) {
      CAPTURE(r);
      int64_t n = 0;
      for (int64_t v : masks[r]) n += v;
      const Rows alone_ids{std::vector<int64_t>(inputs[r].begin(), inputs[r].begin() + n)};
      const Rows alone = tensor_rows(generate(*m.model, rows_tensor(alone_ids), Tensor(), options));
      CHECK(trimmed(alone[0]) == trimmed(batched[r]));
    }
  }
}

TEST_CASE("generation reads every parameter inside its scope (ZeRO-3 releases them)") {
  const std::string folder = kGenerateFixtures + "flan_like";
  const LoadedModel plain = load_model(folder);
  auto releasing = std::make_unique<ReleasingStore>();
  ReleasingStore* store = releasing.get();
  const LoadedModel released = load_model(folder, std::move(releasing));
  store->release_all();
  const JsonValue fixture = JsonValue::parse_file(folder + "/cases.json");
  const Tensor input_ids = rows_tensor(json_rows(fixture.at("input_ids")));
  const Tensor attention_mask = rows_tensor(json_rows(fixture.at("attention_mask")));
  GenerationOptions options;
  options.max_new_tokens = 8;
  for (int64_t beams : {1, 3}) {
    options.num_beams = beams;
    CAPTURE(beams);
    const Rows expected = tensor_rows(generate(*plain.model, input_ids, attention_mask, options));
    CHECK(tensor_rows(generate(*released.model, input_ids, attention_mask, options)) == expected);
  }
  // A NaN logit would have made argmax pick token 0 everywhere: the outputs are not trivial.
  options.num_beams = 1;
  const Rows greedy = tensor_rows(generate(*plain.model, input_ids, attention_mask, options));
  std::set<int64_t> tokens;
  for (const auto& row : greedy) tokens.insert(row.begin() + 1, row.end());
  CHECK(tokens.size() > 3);
}

TEST_CASE("KeyValueCache appends in place, selects rows, refuses to overflow") {
  KeyValueCache cache(4);
  CHECK(cache.length() == 0);
  // keys[r, h, t, d] = 100·r + 10·t + d, values the negation.
  auto block = [](int64_t rows, int64_t first, int64_t n) {
    std::vector<float> v;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = first; t < first + n; ++t)
        for (int64_t d = 0; d < 2; ++d) v.push_back(static_cast<float>(100 * r + 10 * t + d));
    return Tensor::from_vector(v, {rows, 1, n, 2});
  };
  cache.append(block(3, 0, 2), ops::neg(block(3, 0, 2)));
  cache.append(block(3, 2, 1), ops::neg(block(3, 2, 1)));
  CHECK(cache.length() == 3);
  CHECK(cache.keys().shape() == Shape{3, 1, 3, 2});
  CHECK(relative_error(cache.keys().contiguous(), block(3, 0, 3)) == 0);
  CHECK(relative_error(cache.values().contiguous(), ops::neg(block(3, 0, 3))) == 0);

  cache.select_rows(Tensor::from_vector(std::vector<int64_t>{2, 0}, {2}));
  CHECK(cache.keys().shape() == Shape{2, 1, 3, 2});
  CHECK(cache.keys().at({0, 0, 1, 1}) == 211);
  CHECK(cache.keys().at({1, 0, 2, 0}) == 20);
  CHECK(cache.values().at({0, 0, 2, 1}) == -221);

  CHECK_THROWS_WITH_AS(cache.append(block(2, 3, 2), block(2, 3, 2)),
                       doctest::Contains("3 cached + 2 new positions exceed the capacity of 4"),
                       Error);
  CHECK_THROWS_WITH_AS(cache.append(block(3, 3, 1), block(3, 3, 1)),
                       doctest::Contains("like those cached"), Error);
}

TEST_CASE("generate refuses options transformers refuses, naming them") {
  const LoadedModel m = load_model(kGenerateFixtures + "flan_like");
  const Tensor ids = Tensor::from_vector(std::vector<int64_t>{5, 6, 1}, {1, 3});
  auto message = [&](const GenerationOptions& o) {
    try {
      generate(*m.model, ids, Tensor(), o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  GenerationOptions o;
  o.min_length = 21;
  CHECK(message(o).find("min_length (21) is larger than the maximum length (20)") !=
        std::string::npos);
  o = {};
  o.max_new_tokens = 0;
  CHECK(message(o).find("max_new_tokens must be at least 1") != std::string::npos);
  o = {};
  o.num_beams = 0;
  CHECK(message(o).find("num_beams must be at least 1") != std::string::npos);
  o = {};
  o.num_beams = 33;  // 66 candidates from a 64-token vocabulary
  CHECK(message(o).find("needs a vocabulary of at least 66 tokens") != std::string::npos);
  o = {};
  o.eos_token_id = 64;
  CHECK(message(o).find("eos_token_id 64 is outside the vocabulary [0, 64)") != std::string::npos);
  o = {};
  o.no_repeat_ngram_size = -1;
  CHECK(message(o).find("no_repeat_ngram_size must be >= 0") != std::string::npos);

  // max_new_tokens counts new tokens; max_length the whole sequence with its start token.
  o = {};
  o.max_new_tokens = 5;
  o.min_length = 6;  // no EOS before the end: the length is exactly the limit
  CHECK(generate(*m.model, ids, Tensor(), o).shape() == Shape{1, 6});
  o.max_new_tokens.reset();
  o.max_length = 6;
  CHECK(generate(*m.model, ids, Tensor(), o).shape() == Shape{1, 6});
}

TEST_CASE("in bf16 the cached decoder follows the full one, and generation runs") {
  const std::string folder = kModelFixtures + "flan_gated";
  const LoadedModel m = load_model(folder, std::make_unique<ParameterStore>(DType::bf16));
  const T5Batch batch = read_t5_batch_json(folder + "/batch.json");
  const Tensor decoder_ids = shift_right(batch.labels, 0, 0);
  const int64_t length = decoder_ids.size(1);
  autograd::NoGradGuard no_grad;
  const autograd::Variable encoded = m.model->encode(batch.input_ids, batch.attention_mask);
  const Tensor full = m.model->decode(decoder_ids, encoded, batch.attention_mask).data();
  DecoderCache cache = m.model->start_decoding(encoded, batch.attention_mask, length);
  for (int64_t t = 0; t < length; ++t) {
    CAPTURE(t);
    const Tensor step =
        m.model->decode_step(decoder_ids.narrow(1, t, 1).contiguous(), cache).data();
    CHECK(step.dtype() == DType::bf16);
    CHECK(relative_error(step, full.narrow(1, t, 1).contiguous()) < 2e-2);
  }
  GenerationOptions options;
  options.max_new_tokens = 6;
  options.num_beams = 3;
  CHECK(generate(*m.model, batch.input_ids, batch.attention_mask, options).size(0) == 2);
}
