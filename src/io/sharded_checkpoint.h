// Hugging Face checkpoint folders: one model.safetensors, or shards model-0000k-of-0000n
// .safetensors listed by model.safetensors.index.json ({"metadata": {"total_size": bytes},
// "weight_map": {tensor: shard file}}), read and written as transformers does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"

namespace t5zero {

inline constexpr const char* kSafetensorsWeightsName = "model.safetensors";
inline constexpr const char* kSafetensorsIndexName = "model.safetensors.index.json";
// transformers' default max_shard_size in save_pretrained (4.26): "10GB".
inline constexpr uint64_t kDefaultMaxShardBytes = 10'000'000'000;

// "model-00001-of-00005.safetensors" (k counts from 1).
std::string shard_file_name(size_t k, size_t n);

// A size as transformers' max_shard_size takes it: "10GB" = 10·10^9 bytes, "500MiB" = 500·2^20,
// "2KB", a plain integer = bytes. `what` names the flag or key in errors.
uint64_t parse_byte_size(const std::string& text, const std::string& what);

class ShardedCheckpointReader {
 public:
  // Opens model.safetensors if the folder has one (transformers looks for it first), else
  // model.safetensors.index.json and every shard it names. Index and shards must agree: each
  // tensor listed once, present in the shard the index names, and no shard tensor unlisted.
  static ShardedCheckpointReader open(const std::string& folder);

  const std::string& folder() const { return folder_; }
  size_t shard_count() const { return shards_.size(); }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return shard_of_.count(name) > 0; }
  // The shard holding `name`; an error naming the folder and tensor when absent.
  const SafetensorsReader& shard(const std::string& name) const;
  const SafetensorsTensorInfo& info(const std::string& name) const {
    return shard(name).info(name);
  }
  Tensor load(const std::string& name, TensorLoad mode = TensorLoad::view) const {
    return shard(name).load(name, mode);
  }
  Tensor load_flat_range(const std::string& name, int64_t begin, int64_t count,
                         TensorLoad mode = TensorLoad::view) const {
    return shard(name).load_flat_range(name, begin, count, mode);
  }

 private:
  std::string folder_;
  std::vector<SafetensorsReader> shards_;
  std::map<std::string, size_t> shard_of_;
};

// Groups tensors into shards as transformers' shard_checkpoint: in the given order, a new shard
// starts when the next tensor would take the current one past `max_shard_bytes`; a tensor larger
// than the limit gets a shard to itself (never an empty shard before it, unlike 4.26).
std::vector<std::vector<size_t>> plan_shards(const std::vector<TensorSpec>& specs,
                                             uint64_t max_shard_bytes);

class ShardedCheckpointWriter {
 public:
  // One shard → model.safetensors, no index (as transformers); several → model-k-of-n files and
  // the index. Tensors are declared in state-dict order, which decides the shards. The folder is
  // created when missing.
  ShardedCheckpointWriter(
      const std::string& folder, const std::vector<TensorSpec>& specs,
      uint64_t max_shard_bytes = kDefaultMaxShardBytes,
      std::map<std::string, std::string> metadata = default_safetensors_metadata());

  void write(const std::string& name, const Tensor& tensor);
  // Renames every shard into place, then writes the index, and removes weight files of an older
  // save that would otherwise shadow or pollute this one (a stale model.safetensors is read
  // before any index). Without commit nothing new appears in the folder.
  void commit();

  size_t shard_count() const { return writers_.size(); }
  const std::vector<std::string>& shard_files() const { return shard_files_; }

 private:
  std::string folder_;
  std::vector<std::unique_ptr<SafetensorsWriter>> writers_;
  std::vector<std::string> shard_files_;
  std::map<std::string, size_t> shard_of_;
  uint64_t total_bytes_ = 0;
};

// Declares, writes and commits `tensors` (in state-dict order) in one call.
void save_sharded_checkpoint(const std::string& folder,
                             const std::vector<std::pair<std::string, Tensor>>& tensors,
                             uint64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace t5zero
