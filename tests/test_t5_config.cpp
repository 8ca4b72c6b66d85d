// config.json and generation_config.json: values as transformers reads them (fixtures made by
// tools/reference/make_t5_config_fixtures.py), files as transformers writes them, and errors
// that name the file and key.
#include <doctest/doctest.h>

#include "io/json.h"
#include "io/t5_config.h"
#include "models/architectures.h"
#include "temp_folder.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;

namespace {

const std::string kFixtures = std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/t5_config/";

// Compares a parsed config with the fields transformers read from the same file.
void check_matches_transformers(const T5Config& c, const JsonValue& expected) {
  CHECK(c.vocab_size == expected.get_int("vocab_size"));
  CHECK(c.d_model == expected.get_int("d_model"));
  CHECK(c.d_kv == expected.get_int("d_kv"));
  CHECK(c.d_ff == expected.get_int("d_ff"));
  CHECK(c.num_layers == expected.get_int("num_layers"));
  CHECK(c.num_decoder_layers == expected.get_int("num_decoder_layers"));
  CHECK(c.num_heads == expected.get_int("num_heads"));
  CHECK(c.relative_attention_num_buckets == expected.get_int("relative_attention_num_buckets"));
  CHECK(c.relative_attention_max_distance == expected.get_int("relative_attention_max_distance"));
  CHECK(c.dropout_rate == expected.get_double("dropout_rate"));
  CHECK(c.layer_norm_epsilon == expected.get_double("layer_norm_epsilon"));
  CHECK(c.initializer_factor == expected.get_double("initializer_factor"));
  CHECK(c.feed_forward_proj == expected.get_string("feed_forward_proj"));
  CHECK(c.is_gated_act == expected.get_bool("is_gated_act"));
  const std::string act = expected.get_string("dense_act_fn");
  CHECK(activation_name(c.dense_act_fn) == (act == "swish" ? std::string("silu") : act));
  CHECK(c.tie_word_embeddings == expected.get_bool("tie_word_embeddings"));
  CHECK(c.pad_token_id == expected.get_int("pad_token_id"));
  CHECK(c.eos_token_id == expected.get_int("eos_token_id"));
  // transformers leaves an absent decoder_start_token_id as None; T5 starts from the pad id.
  const JsonValue start = expected.at("decoder_start_token_id");
  CHECK(c.decoder_start_token_id == (start.is_null() ? c.pad_token_id : start.as_int()));
}

// The Error message of parsing `json` as a file named config.json ("" if none).
std::string parse_error(const std::string& json) {
  TempFolder folder("t5_config_error");
  write_file_bytes(folder.file("config.json"), json);
  try {
    parse_t5_config(folder.file("config.json"));
  } catch (const Error& e) {
    const std::string message = e.what();
    // Drop the temporary folder so messages read "config.json: ...".
    return message.substr(message.find("config.json"));
  }
  return "";
}

const std::string kMinimal = R"("d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 4)";

}  // namespace

TEST_CASE("config.json files read as transformers reads them") {
  const JsonValue expected = JsonValue::parse_file(kFixtures + "parse/expected.json");
  REQUIRE(expected.size() == 11);
  for (const auto& entry : expected.as_object()) {
    const std::string& name = entry.first;
    CAPTURE(name);
    check_matches_transformers(parse_t5_config(kFixtures + "parse/" + name + ".json"),
                               entry.second);
  }
}

TEST_CASE("hub configs give the built-in FLAN architectures") {
  for (const char* size : {"small", "base", "large", "xl", "xxl"}) {
    CAPTURE(size);
    const T5Config hub = parse_t5_config(kFixtures + "parse/flan_t5_" + size + "_hub.json");
    const T5Config builtin = models::builtin_architecture(std::string("flan-t5-") + size);
    CHECK(t5_config_json(hub) == t5_config_json(builtin));
    CHECK(hub.dense_act_fn == Activation::gelu_new);
    CHECK(hub.is_gated_act);
    CHECK_FALSE(hub.tie_word_embeddings);
  }
  const T5Config small = parse_t5_config(kFixtures + "parse/flan_t5_small_hub.json");
  CHECK(small.inner_dim() == 384);  // 6 heads × 64, not d_model 512
}

TEST_CASE("feed_forward_proj variants") {
  T5Config c;
  set_feed_forward_proj(c, "gated-gelu");
  CHECK((c.is_gated_act && c.dense_act_fn == Activation::gelu_new));
  set_feed_forward_proj(c, "gelu");
  CHECK((!c.is_gated_act && c.dense_act_fn == Activation::gelu));
  set_feed_forward_proj(c, "gated-silu");
  CHECK((c.is_gated_act && c.dense_act_fn == Activation::silu));
  set_feed_forward_proj(c, "relu");
  CHECK((!c.is_gated_act && c.dense_act_fn == Activation::relu));
  set_feed_forward_proj(c, "gated-relu");
  CHECK((c.is_gated_act && c.dense_act_fn == Activation::relu));
  set_feed_forward_proj(c, "gelu_new");
  CHECK((!c.is_gated_act && c.dense_act_fn == Activation::gelu_new));
  CHECK(c.feed_forward_proj == "gelu_new");
  CHECK_THROWS_WITH_AS(
      set_feed_forward_proj(c, "gated-gelu-fast", "f"),
      "f: 'gated-gelu-fast' is not a valid activation of the dense layer: expected "
      "'gated-{ACT_FN}' or '{ACT_FN}', e.g. 'gated-gelu' or 'relu'",
      Error);
  CHECK_THROWS_AS(set_feed_forward_proj(c, "fast-gelu"), Error);
  CHECK_THROWS_WITH_AS(
      set_feed_forward_proj(c, "gated-mish", "f"),
      "f: unsupported activation 'mish' (t5zero implements relu, gelu, gelu_new, silu/swish)",
      Error);
}

TEST_CASE("written config.json equals transformers' save_pretrained output byte for byte") {
  for (const char* name : {"flan-t5-small", "flan-t5-base", "flan-t5-large", "flan-t5-xl",
                           "flan-t5-xxl", "t5-tiny-relu"}) {
    CAPTURE(name);
    const std::string expected = read_file_bytes(kFixtures + "written/" + name + ".config.json");
    REQUIRE_FALSE(expected.empty());
    CHECK(t5_config_json(models::builtin_architecture(name)) == expected);
  }
  TempFolder folder("t5_config_write");
  T5Config c = models::builtin_architecture("t5-micro");
  c.dropout_rate = 0.0;
  c.layer_norm_epsilon = 1e-5;
  c.torch_dtype = "bfloat16";
  write_t5_config(c, folder.file("config.json"));
  const T5Config back = parse_t5_config(folder.file("config.json"));
  CHECK(t5_config_json(back) == t5_config_json(c));
  CHECK(back.num_decoder_layers == 3);
  CHECK(back.torch_dtype == "bfloat16");
  CHECK(back.layer_norm_epsilon == 1e-5);
  c.d_model = 0;
  CHECK_THROWS_WITH_AS(write_t5_config(c, folder.file("bad.json")),
                       doctest::Contains("bad.json: key 'd_model': expected an integer > 0, got 0"),
                       Error);
  CHECK(folder.entries() == std::vector<std::string>{"config.json"});
}

TEST_CASE("defaults, null and token id lists") {
  const std::string path_json = "{" + kMinimal + "}";
  TempFolder folder("t5_config_defaults");
  write_file_bytes(folder.file("config.json"), path_json);
  const T5Config c = parse_t5_config(folder.file("config.json"));
  CHECK(c.vocab_size == 32128);
  CHECK(c.d_kv == 64);
  CHECK(c.num_decoder_layers == 2);
  CHECK(c.tie_word_embeddings);
  CHECK(c.feed_forward_proj == "relu");
  CHECK(c.torch_dtype == "float32");
  write_file_bytes(
      folder.file("config.json"),
      "{" + kMinimal + R"(, "num_decoder_layers": null, "eos_token_id": [7], "pad_token_id": 3,
                   "torch_dtype": null})");
  const T5Config d = parse_t5_config(folder.file("config.json"));
  CHECK(d.num_decoder_layers == 2);
  CHECK(d.eos_token_id == 7);
  CHECK(d.decoder_start_token_id == 3);  // absent: the pad id
}

TEST_CASE("missing, wrong-typed and invalid values name the key") {
  CHECK(parse_error("{" + kMinimal + "}").empty());
  CHECK(parse_error(R"({"d_ff": 64, "num_layers": 2, "num_heads": 4})") ==
        "config.json: missing key 'd_model'");
  CHECK(parse_error(R"({"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": "4"})") ==
        "config.json: key 'num_heads': expected an integer, got string \"4\"");
  CHECK(parse_error(R"({"d_model": 32.0, "d_ff": 64, "num_layers": 2, "num_heads": 4})") ==
        "config.json: key 'd_model': expected an integer, got number 32.0");
  CHECK(parse_error("{" + kMinimal + R"(, "d_kv": 0})") ==
        "config.json: key 'd_kv': expected an integer > 0, got 0");
  CHECK(parse_error(R"({"d_model": 32, "d_ff": -64, "num_layers": 2, "num_heads": 4})") ==
        "config.json: key 'd_ff': expected an integer > 0, got -64");
  CHECK(parse_error("{" + kMinimal + R"(, "dropout_rate": "0.1"})") ==
        "config.json: key 'dropout_rate': expected a number, got string \"0.1\"");
  CHECK(parse_error("{" + kMinimal + R"(, "dropout_rate": 1.5})") ==
        "config.json: key 'dropout_rate': expected a probability in [0, 1), got 1.5");
  CHECK(parse_error("{" + kMinimal + R"(, "layer_norm_epsilon": 0})") ==
        "config.json: key 'layer_norm_epsilon': expected a number > 0, got 0.0");
  CHECK(parse_error("{" + kMinimal + R"(, "tie_word_embeddings": "false"})") ==
        "config.json: key 'tie_word_embeddings': expected a boolean, got string \"false\"");
  CHECK(parse_error("{" + kMinimal + R"(, "feed_forward_proj": "gated-gelu-x"})")
            .starts_with(
                "config.json: key 'feed_forward_proj': 'gated-gelu-x' is not a valid activation"));
  CHECK(parse_error("{" + kMinimal + R"(, "dense_act_fn": "tanh"})") ==
        "config.json: key 'dense_act_fn': unsupported activation 'tanh' (t5zero implements relu, "
        "gelu, "
        "gelu_new, silu/swish)");
  CHECK(parse_error("{" + kMinimal + R"(, "eos_token_id": 32128})") ==
        "config.json: key 'eos_token_id': expected an id in [0, vocab_size = 32128), got 32128");
  CHECK(parse_error("{" + kMinimal + R"(, "eos_token_id": [1, 2]})") ==
        "config.json: key 'eos_token_id': expected one token id, got a list of 2");
  CHECK(parse_error("{" + kMinimal + R"(, "model_type": "bart"})") ==
        "config.json: key 'model_type': expected \"t5\" (t5zero builds T5 models), got \"bart\"");
  CHECK(parse_error("{" + kMinimal + R"(, "relative_attention_max_distance": 16})") ==
        "config.json: key 'relative_attention_max_distance': expected more than "
        "relative_attention_num_buckets / 2 = 16, got 16");
  CHECK(parse_error("{" + kMinimal + R"(, "relative_attention_num_buckets": 2})") ==
        "config.json: key 'relative_attention_num_buckets': expected an integer >= 4, got 2");
  CHECK(parse_error("{" + kMinimal + R"(, "num_layers": 3})") ==
        "config.json: key 'num_layers': appears twice");
  CHECK(parse_error("[1]") == "config.json: expected a JSON object, got array");
  CHECK(parse_error("{").starts_with("config.json: not valid JSON"));
}

TEST_CASE("generation_config.json") {
  const JsonValue expected = JsonValue::parse_file(kFixtures + "generation/expected.json");
  for (const auto& entry : expected.as_object()) {
    const std::string& name = entry.first;
    const JsonValue& fields = entry.second;
    CAPTURE(name);
    const GenerationConfig g = parse_generation_config(kFixtures + "generation/" + name + ".json");
    CHECK(g.decoder_start_token_id == fields.get_int("decoder_start_token_id"));
    CHECK(g.eos_token_id == fields.get_int("eos_token_id"));
    CHECK(g.pad_token_id == fields.get_int("pad_token_id"));
    CHECK(g.max_length == fields.get_int("max_length"));
    CHECK(g.num_beams == fields.get_int("num_beams"));
  }
  T5Config model = models::builtin_architecture("t5-micro");
  model.pad_token_id = 5;
  model.eos_token_id = 6;
  model.decoder_start_token_id = 7;
  const GenerationConfig from_model = generation_config_from_model(model);
  CHECK(from_model.pad_token_id == 5);
  CHECK(from_model.eos_token_id == 6);
  CHECK(from_model.decoder_start_token_id == 7);
  CHECK(from_model.max_length == 20);

  TempFolder folder("generation_config");
  write_file_bytes(folder.file("generation_config.json"), R"({"num_beams": 3})");
  const GenerationConfig over =
      parse_generation_config(folder.file("generation_config.json"), from_model);
  CHECK(over.num_beams == 3);
  CHECK(over.eos_token_id == 6);  // absent keys keep the model's values
  write_file_bytes(folder.file("generation_config.json"),
                   R"({"min_length": 5, "length_penalty": 2.0, "early_stopping": true,
                       "no_repeat_ngram_size": 3})");
  const GenerationConfig search = parse_generation_config(folder.file("generation_config.json"));
  CHECK(search.min_length == 5);
  CHECK(search.length_penalty == 2.0);
  CHECK(search.early_stopping);
  CHECK(search.no_repeat_ngram_size == 3);
  write_file_bytes(folder.file("generation_config.json"), R"({"no_repeat_ngram_size": -1})");
  CHECK_THROWS_WITH_AS(parse_generation_config(folder.file("generation_config.json")),
                       doctest::Contains("key 'no_repeat_ngram_size': expected an integer >= 0"),
                       Error);
  write_file_bytes(folder.file("generation_config.json"), R"({"num_beams": 0})");
  CHECK_THROWS_WITH_AS(
      parse_generation_config(folder.file("generation_config.json")),
      doctest::Contains("generation_config.json: key 'num_beams': expected an integer >= 1, got 0"),
      Error);
  write_file_bytes(folder.file("generation_config.json"), R"({"max_length": "20"})");
  CHECK_THROWS_WITH_AS(
      parse_generation_config(folder.file("generation_config.json")),
      doctest::Contains(
          "generation_config.json: key 'max_length': expected an integer, got string"),
      Error);
  CHECK_THROWS_WITH_AS(parse_generation_config(folder.file("absent.json")),
                       doctest::Contains("absent.json: cannot open"), Error);
}
