#include "io/sharded_checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <regex>

#include "io/atomic_file.h"
#include "io/json.h"
#include "io/json_writer.h"

namespace t5zero {

namespace fs = std::filesystem;

namespace {

std::string join_path(const std::string& folder, const std::string& file) {
  return (fs::path(folder) / file).string();
}

// A weight_map value must name a file inside the folder, never a path out of it.
void check_shard_file_name(const JsonValue& where, const std::string& file) {
  if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
      file.find('\\') != std::string::npos) {
    where.fail_here("expected a shard file name inside the folder, got '", file, "'");
  }
}

bool is_shard_file_name(const std::string& file) {
  static const std::regex pattern(R"(model-\d{5}-of-\d{5}\.safetensors)");
  return std::regex_match(file, pattern);
}

}  // namespace

std::string shard_file_name(size_t k, size_t n) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k, n);
  return name;
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  // transformers' convert_file_size_to_int: GiB/MiB/KiB are powers of 2, GB/MB/KB powers of 10,
  // and a lower-case final "b" (e.g. "5Gb") means bits.
  struct Unit {
    const char* suffix;
    uint64_t bytes;
  };
  static constexpr Unit kUnits[] = {{"GIB", 1ull << 30},   {"MIB", 1ull << 20}, {"KIB", 1ull << 10},
                                    {"GB", 1'000'000'000}, {"MB", 1'000'000},   {"KB", 1'000}};
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string digits = text;
  uint64_t multiplier = 1;
  bool bits = false;
  for (const Unit& unit : kUnits) {
    const std::string suffix = unit.suffix;
    if (upper.size() > suffix.size() && upper.ends_with(suffix)) {
      digits = text.substr(0, text.size() - suffix.size());
      multiplier = unit.bytes;
      bits = suffix.size() == 2 && text.back() == 'b';
      break;
    }
  }
  const bool all_digits = !digits.empty() && digits.size() <= 18 &&
                          digits.find_first_not_of("0123456789") == std::string::npos;
  if (!all_digits) {
    fail(what, ": expected a size such as 10GB, 500MiB or a number of bytes, got '", text, "'");
  }
  const uint64_t count = std::stoull(digits);
  T5_CHECK(count <= std::numeric_limits<uint64_t>::max() / multiplier, what, ": size '", text,
           "' is too large");
  const uint64_t bytes = count * multiplier / (bits ? 8 : 1);
  T5_CHECK(bytes > 0, what, ": expected a size above 0 bytes, got '", text, "'");
  return bytes;
}

ShardedCheckpointReader ShardedCheckpointReader::open(const std::string& folder) {
  ShardedCheckpointReader reader;
  reader.folder_ = folder;
  T5_CHECK(fs::is_directory(folder), folder, ": expected a checkpoint folder, found ",
           fs::exists(folder) ? "a file" : "nothing");
  const std::string single = join_path(folder, kSafetensorsWeightsName);
  const std::string index_path = join_path(folder, kSafetensorsIndexName);
  if (fs::exists(single)) {
    reader.shards_.push_back(SafetensorsReader::open(single));
    for (const SafetensorsTensorInfo& info : reader.shards_[0].tensors()) {
      reader.shard_of_[info.name] = 0;
    }
    return reader;
  }
  if (!fs::exists(index_path)) {
    const bool has_bin = fs::exists(join_path(folder, "pytorch_model.bin")) ||
                         fs::exists(join_path(folder, "pytorch_model.bin.index.json"));
    fail(folder, ": no ", kSafetensorsWeightsName, " and no ", kSafetensorsIndexName,
         has_bin ? " (only pytorch_model.bin, which t5zero does not read: convert it with "
                   "transformers' save_pretrained(folder, safe_serialization=True))"
                 : "");
  }

  const JsonValue index = JsonValue::parse_file(index_path);
  std::map<std::string, size_t> shard_index;  // file name → position in shards_
  for (const auto& [name, file_value] : index.at("weight_map").as_object()) {
    const std::string file = file_value.as_string();
    check_shard_file_name(file_value, file);
    auto [it, added] = shard_index.emplace(file, reader.shards_.size());
    if (added) reader.shards_.push_back(SafetensorsReader::open(join_path(folder, file)));
    const SafetensorsReader& shard = reader.shards_[it->second];
    if (!shard.contains(name)) {
      fail(index_path, ": tensor '", name, "' is mapped to ", file, ", which does not hold it");
    }
    reader.shard_of_[name] = it->second;
  }
  for (size_t i = 0; i < reader.shards_.size(); ++i) {
    for (const SafetensorsTensorInfo& info : reader.shards_[i].tensors()) {
      auto mapped = reader.shard_of_.find(info.name);
      if (mapped == reader.shard_of_.end()) {
        fail(reader.shards_[i].source(), ": tensor '", info.name, "' is not listed in ",
             index_path);
      }
      if (mapped->second != i) {
        fail(reader.shards_[i].source(), ": tensor '", info.name, "' is also in ",
             reader.shards_[mapped->second].source(), ", where ", index_path, " maps it");
      }
    }
  }
  return reader;
}

std::vector<std::string> ShardedCheckpointReader::names() const {
  std::vector<std::string> names;
  for (const auto& [name, shard] : shard_of_) names.push_back(name);
  return names;
}

const SafetensorsReader& ShardedCheckpointReader::shard(const std::string& name) const {
  auto found = shard_of_.find(name);
  if (found == shard_of_.end()) fail(folder_, ": no tensor '", name, "' in the checkpoint");
  return shards_[found->second];
}

std::vector<std::vector<size_t>> plan_shards(const std::vector<TensorSpec>& specs,
                                             uint64_t max_shard_bytes) {
  T5_CHECK(max_shard_bytes > 0, "plan_shards: the shard size limit must be above 0 bytes");
  std::vector<std::vector<size_t>> shards(1);
  uint64_t shard_bytes = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const uint64_t bytes = specs[i].nbytes();
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(i);
    shard_bytes += bytes;
  }
  return shards;
}

ShardedCheckpointWriter::ShardedCheckpointWriter(const std::string& folder,
                                                 const std::vector<TensorSpec>& specs,
                                                 uint64_t max_shard_bytes,
                                                 std::map<std::string, std::string> metadata)
    : folder_(folder) {
  // As save_pretrained: the folder is created when missing.
  std::error_code error;
  fs::create_directories(folder, error);
  T5_CHECK(fs::is_directory(folder), folder, ": cannot create the folder",
           error ? ": " + error.message() : std::string());
  const std::vector<std::vector<size_t>> plan = plan_shards(specs, max_shard_bytes);
  for (size_t k = 0; k < plan.size(); ++k) {
    const std::string file =
        plan.size() == 1 ? kSafetensorsWeightsName : shard_file_name(k + 1, plan.size());
    std::vector<TensorSpec> shard_specs;
    for (size_t i : plan[k]) {
      shard_specs.push_back(specs[i]);
      T5_CHECK(shard_of_.emplace(specs[i].name, k).second, folder, ": tensor '", specs[i].name,
               "' declared twice");
      total_bytes_ += specs[i].nbytes();
    }
    writers_.push_back(std::make_unique<SafetensorsWriter>(join_path(folder, file),
                                                           std::move(shard_specs), metadata));
    shard_files_.push_back(file);
  }
}

void ShardedCheckpointWriter::write(const std::string& name, const Tensor& tensor) {
  auto found = shard_of_.find(name);
  T5_CHECK(found != shard_of_.end(), folder_, ": tensor '", name, "' was not declared");
  writers_[found->second]->write(name, tensor);
}

void ShardedCheckpointWriter::commit() {
  for (auto& writer : writers_) writer->commit();
  const bool sharded = writers_.size() > 1;
  // A stale single file would be read instead of the new index; remove it before the index
  // appears, so a crash in between leaves an unreadable folder, never a silently old one.
  const std::string stale =
      join_path(folder_, sharded ? kSafetensorsWeightsName : kSafetensorsIndexName);
  fs::remove(stale);
  if (sharded) {
    // As transformers writes it: json.dumps(index, indent=2, sort_keys=True) + "\n".
    JsonWriter json(2);
    json.begin_object();
    json.key("metadata").begin_object().key("total_size").value(total_bytes_).end_object();
    json.key("weight_map").begin_object();
    for (const auto& [name, shard] : shard_of_) json.key(name).value(shard_files_[shard]);
    json.end_object();
    json.end_object();
    write_file_atomically(join_path(folder_, kSafetensorsIndexName), json.text() + "\n");
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(folder_)) {
    const std::string file = entry.path().filename().string();
    if (entry.is_regular_file() && is_shard_file_name(file) &&
        std::find(shard_files_.begin(), shard_files_.end(), file) == shard_files_.end()) {
      fs::remove(entry.path());
    }
  }
}

void save_sharded_checkpoint(const std::string& folder,
                             const std::vector<std::pair<std::string, Tensor>>& tensors,
                             uint64_t max_shard_bytes) {
  std::vector<TensorSpec> specs;
  for (const auto& [name, tensor] : tensors) {
    T5_CHECK(tensor.defined(), folder, ": tensor '", name, "' is undefined");
    specs.push_back({name, tensor.dtype(), tensor.shape()});
  }
  ShardedCheckpointWriter writer(folder, specs, max_shard_bytes);
  for (const auto& [name, tensor] : tensors) writer.write(name, tensor);
  writer.commit();
}

}  // namespace t5zero
