// Hugging Face checkpoint folders: shard planning, the index as transformers writes it, reading
// single and sharded folders, every index/shard disagreement, stale files, shard size strings.
#include <doctest/doctest.h>

#include <filesystem>

#include "io/json.h"
#include "io/sharded_checkpoint.h"
#include "temp_folder.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;

namespace {

// "t<i>" (built with += : GCC 12 warns wrongly about "t" + std::to_string(i), bug 105329).
std::string tensor_name(size_t i) {
  std::string name = "t";
  name += std::to_string(i);
  return name;
}

// Tensors whose values say which tensor they are: "t<i>" holds i + 0.5, i + 1.5, ...
std::vector<std::pair<std::string, Tensor>> numbered_tensors(const std::vector<int64_t>& sizes) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<float> values(static_cast<size_t>(sizes[i]));
    for (size_t k = 0; k < values.size(); ++k) values[k] = static_cast<float>(i + k) + 0.5f;
    tensors.emplace_back(tensor_name(i), Tensor::from_vector(values, {sizes[i]}));
  }
  return tensors;
}

std::vector<TensorSpec> specs_of(const std::vector<int64_t>& bytes) {
  std::vector<TensorSpec> specs;
  for (size_t i = 0; i < bytes.size(); ++i)
    specs.push_back({tensor_name(i), DType::u8, {bytes[i]}});
  return specs;
}

std::string open_error(const std::string& folder) {
  try {
    ShardedCheckpointReader::open(folder);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("shards are planned as transformers' shard_checkpoint, in state-dict order") {
  using Plan = std::vector<std::vector<size_t>>;
  CHECK(plan_shards(specs_of({4, 4, 4}), 8) == Plan{{0, 1}, {2}});
  CHECK(plan_shards(specs_of({4, 4, 4}), 12) == Plan{{0, 1, 2}});
  CHECK(plan_shards(specs_of({3, 20, 3, 3}), 8) == Plan{{0}, {1}, {2, 3}});  // too big: alone
  CHECK(plan_shards(specs_of({20, 1}), 8) == Plan{{0}, {1}});  // no empty shard before it
  CHECK(plan_shards(specs_of({5, 3, 1, 8, 0}), 8) == Plan{{0, 1}, {2}, {3, 4}});
  CHECK(plan_shards({}, 8) == Plan{{}});
  CHECK_THROWS_AS(plan_shards(specs_of({1}), 0), Error);
}

TEST_CASE("shard file names and size strings") {
  CHECK(shard_file_name(1, 2) == "model-00001-of-00002.safetensors");
  CHECK(shard_file_name(12, 100) == "model-00012-of-00100.safetensors");
  CHECK(parse_byte_size("10GB", "--max_shard_size") == 10'000'000'000ull);
  CHECK(parse_byte_size("5GiB", "f") == 5ull << 30);
  CHECK(parse_byte_size("500MB", "f") == 500'000'000ull);
  CHECK(parse_byte_size("3mib", "f") == 3ull << 20);
  CHECK(parse_byte_size("100KiB", "f") == 102'400ull);
  CHECK(parse_byte_size("2KB", "f") == 2'000ull);
  CHECK(parse_byte_size("2kb", "f") == 250ull);
  CHECK(parse_byte_size("5Gb", "f") == 625'000'000ull);  // lower-case b: bits, as transformers
  CHECK(parse_byte_size("123", "f") == 123ull);
  for (const char* bad :
       {"", "GB", "ten", "1.5GB", "-5GB", "0", "0MB", "5TB", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_byte_size(bad, "--max_shard_size"),
                         doctest::Contains("--max_shard_size"), Error);
  }
}

TEST_CASE("a sharded save writes k-of-n shards and the index as transformers does") {
  TempFolder folder("sharded_save");
  // 40 + 40 + 40 + 8 bytes of f32 with a 90-byte limit: shards {t0, t1}, {t2, t3}.
  const auto tensors = numbered_tensors({10, 10, 10, 2});
  save_sharded_checkpoint(folder.path.string(), tensors, 90);
  CHECK(folder.entries() == std::vector<std::string>{"model-00001-of-00002.safetensors",
                                                     "model-00002-of-00002.safetensors",
                                                     "model.safetensors.index.json"});
  const std::string index = read_file_bytes(folder.file("model.safetensors.index.json"));
  CHECK(index ==
        "{\n"
        "  \"metadata\": {\n"
        "    \"total_size\": 128\n"
        "  },\n"
        "  \"weight_map\": {\n"
        "    \"t0\": \"model-00001-of-00002.safetensors\",\n"
        "    \"t1\": \"model-00001-of-00002.safetensors\",\n"
        "    \"t2\": \"model-00002-of-00002.safetensors\",\n"
        "    \"t3\": \"model-00002-of-00002.safetensors\"\n"
        "  }\n"
        "}\n");
  const SafetensorsReader second =
      SafetensorsReader::open(folder.file("model-00002-of-00002.safetensors"));
  CHECK(second.tensors().size() == 2);
  CHECK(second.metadata().at("format") == "pt");

  const ShardedCheckpointReader reader = ShardedCheckpointReader::open(folder.path.string());
  CHECK(reader.shard_count() == 2);
  CHECK(reader.names() == std::vector<std::string>{"t0", "t1", "t2", "t3"});
  for (const auto& named : tensors) {
    const std::string& name = named.first;
    CAPTURE(name);
    CHECK(reader.load(name).to_vector<float>() == named.second.to_vector<float>());
  }
  CHECK(reader.shard("t3").source() == folder.file("model-00002-of-00002.safetensors"));
  CHECK(reader.info("t2").shape == Shape{10});
  CHECK(reader.load_flat_range("t2", 3, 4).to_vector<float>() ==
        std::vector<float>{5.5f, 6.5f, 7.5f, 8.5f});
  CHECK_THROWS_WITH_AS(reader.load("t9"), doctest::Contains("no tensor 't9' in the checkpoint"),
                       Error);
}

TEST_CASE("one shard is a plain model.safetensors, no index") {
  TempFolder folder("sharded_single");
  const auto tensors = numbered_tensors({3, 5});
  save_sharded_checkpoint(folder.path.string(), tensors);
  CHECK(folder.entries() == std::vector<std::string>{"model.safetensors"});
  const ShardedCheckpointReader reader = ShardedCheckpointReader::open(folder.path.string());
  CHECK(reader.shard_count() == 1);
  CHECK(reader.load("t1").to_vector<float>() == tensors[1].second.to_vector<float>());
  // The folder is created when missing, as save_pretrained does.
  save_sharded_checkpoint(folder.file("new/nested"), tensors);
  CHECK(ShardedCheckpointReader::open(folder.file("new/nested")).names().size() == 2);
}

TEST_CASE("a new save removes weight files of an older one") {
  TempFolder folder("sharded_stale");
  const std::string dir = folder.path.string();
  save_sharded_checkpoint(dir, numbered_tensors({1}));  // an old single file
  write_file_bytes(folder.file("model-00003-of-00009.safetensors"), "stale");
  write_file_bytes(folder.file("config.json"), "{}");
  save_sharded_checkpoint(dir, numbered_tensors({10, 10, 10}), 40);
  // The old model.safetensors would be read before the new index: it must be gone.
  CHECK(folder.entries() ==
        std::vector<std::string>{
            "config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors", "model.safetensors.index.json"});
  CHECK(ShardedCheckpointReader::open(dir).names().size() == 3);
  save_sharded_checkpoint(dir, numbered_tensors({2, 2}));
  CHECK(folder.entries() == std::vector<std::string>{"config.json", "model.safetensors"});
  CHECK(ShardedCheckpointReader::open(dir).load("t1").to_vector<float>() ==
        std::vector<float>{1.5f, 2.5f});
}

TEST_CASE("an abandoned sharded save leaves the folder as it was") {
  TempFolder folder("sharded_abandoned");
  const std::string dir = folder.path.string();
  save_sharded_checkpoint(dir, numbered_tensors({4}));
  const std::string before = read_file_bytes(folder.file("model.safetensors"));
  {
    ShardedCheckpointWriter writer(dir, {{"a", DType::f32, {8}}, {"b", DType::f32, {8}}}, 32);
    CHECK(writer.shard_count() == 2);
    writer.write("a", Tensor::ones({8}));
    CHECK_THROWS_WITH_AS(writer.write("c", Tensor::ones({8})),
                         doctest::Contains("tensor 'c' was not declared"), Error);
  }
  CHECK(folder.entries() == std::vector<std::string>{"model.safetensors"});
  CHECK(read_file_bytes(folder.file("model.safetensors")) == before);
  CHECK_THROWS_WITH_AS(
      ShardedCheckpointWriter(dir, {{"a", DType::f32, {8}}, {"a", DType::f32, {8}}}, 32),
      doctest::Contains("tensor 'a' declared twice"), Error);
  CHECK(folder.entries() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("index and shards must agree; errors name the file and the tensor") {
  TempFolder folder("sharded_errors");
  const std::string dir = folder.path.string();
  save_sharded_checkpoint(dir, numbered_tensors({10, 10}), 40);
  const std::string index_path = folder.file("model.safetensors.index.json");
  const auto write_index = [&](const std::string& weight_map) {
    write_file_bytes(index_path,
                     R"({"metadata": {"total_size": 80}, "weight_map": )" + weight_map + "}");
  };
  REQUIRE(open_error(dir).empty());

  write_index(
      R"({"t0": "model-00001-of-00002.safetensors", "t1": "model-00001-of-00002.safetensors"})");
  CHECK(open_error(dir) ==
        index_path +
            ": tensor 't1' is mapped to model-00001-of-00002.safetensors, which does not hold it");
  // The index is authoritative: a shard it does not name is never opened.
  write_index(R"({"t0": "model-00001-of-00002.safetensors"})");
  CHECK(ShardedCheckpointReader::open(dir).names() == std::vector<std::string>{"t0"});
  CHECK(ShardedCheckpointReader::open(dir).shard_count() == 1);
  write_index(
      R"({"t0": "model-00001-of-00002.safetensors", "t1": "../model-00002-of-00002.safetensors"})");
  CHECK(open_error(dir) == index_path +
                               ": key 'weight_map.t1': expected a shard file name inside the "
                               "folder, got '../model-00002-of-00002.safetensors'");
  write_index(R"({"t0": "model-00001-of-00002.safetensors", "t1": "missing.safetensors"})");
  CHECK(open_error(dir).find(dir + "/missing.safetensors: cannot open") == 0);
  write_index(R"({"t0": 3})");
  CHECK(open_error(dir) == index_path + ": key 'weight_map.t0': expected a string, got integer 3");
  write_file_bytes(index_path, R"({"metadata": {}})");
  CHECK(open_error(dir) == index_path + ": missing key 'weight_map'");
  write_file_bytes(index_path, "{");
  CHECK(open_error(dir).find(index_path + ": not valid JSON") == 0);

  // A shard holding a tensor the index does not list, or lists elsewhere.
  save_sharded_checkpoint(dir, numbered_tensors({10, 10}), 40);
  write_index(
      R"({"t0": "model-00001-of-00002.safetensors", "t1": "model-00002-of-00002.safetensors", "t9": "model-00002-of-00002.safetensors"})");
  CHECK(open_error(dir) ==
        index_path +
            ": tensor 't9' is mapped to model-00002-of-00002.safetensors, which does not hold it");
  save_safetensors(folder.file("model-00002-of-00002.safetensors"),
                   {{"t1", Tensor::ones({10})}, {"extra", Tensor::ones({1})}});
  write_index(
      R"({"t0": "model-00001-of-00002.safetensors", "t1": "model-00002-of-00002.safetensors"})");
  CHECK(open_error(dir) == folder.file("model-00002-of-00002.safetensors") +
                               ": tensor 'extra' is not listed in " + index_path);
  save_safetensors(folder.file("model-00002-of-00002.safetensors"),
                   {{"t1", Tensor::ones({10})}, {"t0", Tensor::ones({10})}});
  CHECK(open_error(dir) ==
        folder.file("model-00002-of-00002.safetensors") + ": tensor 't0' is also in " +
            folder.file("model-00001-of-00002.safetensors") + ", where " + index_path + " maps it");
}

TEST_CASE("folders without safetensors weights") {
  TempFolder folder("sharded_missing");
  const std::string dir = folder.path.string();
  CHECK(open_error(dir) == dir + ": no model.safetensors and no model.safetensors.index.json");
  write_file_bytes(folder.file("pytorch_model.bin"), "pickle");
  CHECK(
      open_error(dir).find("only pytorch_model.bin, which t5zero does not read: convert it with") !=
      std::string::npos);
  CHECK(open_error(dir + "/nope") == dir + "/nope: expected a checkpoint folder, found nothing");
  CHECK(open_error(folder.file("pytorch_model.bin")) ==
        folder.file("pytorch_model.bin") + ": expected a checkpoint folder, found a file");
}
