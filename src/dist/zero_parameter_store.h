// ZeroParameterStore: ZeRO-3's parameter partitioning behind the ParameterStore interface.
//
// Layout (as DeepSpeed's): each parameter is flattened and split into ceil(numel / W) elements
// per rank, the last rank's part zero-padded; rank r keeps elements [r·s, (r+1)·s) as its shard.
// Between uses a parameter's Variable holds nothing; a module scope's gather all-gathers the
// shards of its parameters (small ones packed into one collective) into the full tensors and its
// release drops them again (counted, so nested scopes and
// activation-checkpoint recomputation gather once). Parameters of at most
// `persistence_threshold` elements stay gathered for the whole run (DeepSpeed's
// stage3_param_persistence_threshold) and are re-gathered after each optimizer step.
//
// Gradients: when a module's backward is done (ParameterScope calls module_gradients_ready), the
// full gradient of each of its parameters is reduce-scattered — every rank receives the sum over
// ranks of its own shard, in rank order — handed to the gradient sink (the fp32 accumulators of
// MasterParameters) and dropped, so full gradients never pile up. flush_gradients does the same
// for what is left after backward (parameters read outside any scope's backward, such as the
// relative-attention-bias tables).
//
// ZeRO stages 1 and 2 are stage 3 with every parameter persistent: the optimizer state and the
// gradients are partitioned, the weights are not. With offload_param the shards live in host
// memory: gathers run there and the full tensor moves to the device; gradients come to the host
// to be reduce-scattered.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <vector>

#include "dist/communicator.h"
#include "models/parameter_store.h"

namespace t5zero::dist {

struct ZeroOptions {
  int stage = 3;                      // 1, 2 or 3
  int64_t persistence_threshold = 0;  // stage 3: parameters with at most this many elements
                                      // stay gathered
  bool offload_param = false;         // stage 3: shards in host memory (DeepSpeed's
                                      // offload_param), gathered to the device when used
  bool pin_memory = false;            // offloaded shards in page-locked memory (faster copies)
};

class ZeroParameterStore : public models::ParameterStore {
 public:
  ZeroParameterStore(DType dtype, Device device, Communicator& comm, ZeroOptions options);

  Communicator& communicator() const { return comm_; }
  const ZeroOptions& options() const { return options_; }

  // Elements per rank of parameter `id` (padding included) and whether it stays gathered.
  int64_t shard_size(models::ParamId id) const;
  bool persistent(models::ParamId id) const;

  void gather(const std::vector<models::ParamId>& ids) override;
  void release(const std::vector<models::ParamId>& ids) override;
  void assign(models::ParamId id, const Tensor& value) override;

  Tensor local_part(models::ParamId id) const override;
  Device local_device() const override { return shard_device_; }
  int64_t local_offset(models::ParamId id) const override;
  void local_parts_updated() override;

  void module_gradients_ready(const std::vector<models::ParamId>& ids) override;
  void flush_gradients() override;

  // Writes one JSON line per partition event to `out` (null: stop): gather, release,
  // reduce_scatter and refresh, with the parameter, the bytes it sent, what is gathered now and
  // the time — the sequence a teacher walks through (`t5zero train --zero_trace FILE`).
  void set_trace(std::ostream* out);

  // Bytes this rank holds now: shards (always) and gathered full parameters (right now / at
  // most so far).
  int64_t shard_bytes() const;
  int64_t gathered_bytes() const { return gathered_bytes_; }
  int64_t peak_gathered_bytes() const { return peak_gathered_bytes_; }
  // Wall time spent in this store's all-gathers and reduce-scatters (staging copies included).
  double communication_seconds() const { return communication_seconds_; }

 protected:
  Tensor initial_data(const models::ParameterSpec& spec) const override;

 private:
  struct Partition {
    int64_t numel = 0;
    int64_t shard_size = 0;
    Tensor shard;          // [shard_size], this rank's elements (+ zero padding)
    int gather_count = 0;  // open gathers
    bool persistent = false;
  };
  Partition& partition(models::ParamId id);
  const Partition& partition(models::ParamId id) const;
  // Makes partitions_ cover every registered parameter (they are added one by one).
  void sync_partitions() const;
  // Where each parameter's shard sits when shards are packed side by side; sets *total.
  std::vector<int64_t> packed_offsets(const std::vector<models::ParamId>& ids, int64_t* total);
  // Gathers `ids` (a module's absent parameters, or every persistent one): large shards in a
  // collective each, the small ones packed into one.
  void all_gather_into_variables(const std::vector<models::ParamId>& ids);
  void all_gather_packed(const std::vector<models::ParamId>& ids);
  void drop_full_data(models::ParamId id);
  // Reduce-scatters the gradients `ids` hold, grouped as gathers are.
  void reduce_scatter_gradients(const std::vector<models::ParamId>& ids);
  void reduce_scatter_packed(const std::vector<models::ParamId>& ready);
  void trace(const char* event, models::ParamId id, int64_t bytes_sent);

  Communicator& comm_;
  ZeroOptions options_;
  Device shard_device_;
  mutable std::vector<Partition> partitions_;
  int64_t gathered_bytes_ = 0;
  int64_t peak_gathered_bytes_ = 0;
  double communication_seconds_ = 0;
  std::ostream* trace_ = nullptr;
  int64_t trace_sequence_ = 0;
  std::chrono::steady_clock::time_point trace_start_;
};

}  // namespace t5zero::dist
