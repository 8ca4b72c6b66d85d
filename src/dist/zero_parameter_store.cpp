#include "dist/zero_parameter_store.h"

#include <algorithm>
#include <limits>

#include "dist/zero_partition.h"
#include "tensor/caching_allocator.h"
#include "tensor/error.h"

namespace t5zero::dist {

using models::ParamId;

ZeroParameterStore::ZeroParameterStore(DType dtype, Device device, Communicator& comm,
                                       ZeroOptions options)
    : ParameterStore(dtype, device),
      comm_(comm),
      options_(options),
      shard_device_(options.offload_param ? Device::cpu() : device) {
  T5_CHECK(options.stage >= 1 && options.stage <= 3, "ZeRO: stage ", options.stage,
           ": expected 1, 2 or 3");
  T5_CHECK(options.persistence_threshold >= 0, "ZeRO: persistence threshold ",
           options.persistence_threshold, ": expected >= 0");
  T5_CHECK(!options.offload_param || options.stage == 3,
           "ZeRO: offload_param needs stage 3, got stage ", options.stage);
  if (options_.stage < 3) options_.persistence_threshold = std::numeric_limits<int64_t>::max();
}

Tensor ZeroParameterStore::initial_data(const models::ParameterSpec& spec) const {
  // Persistent parameters are always whole; the others start released.
  if (shape_numel(spec.shape) <= options_.persistence_threshold) {
    return Tensor::zeros(spec.shape, dtype(), device());
  }
  return Tensor::empty({0}, dtype(), device());
}

void ZeroParameterStore::sync_partitions() const {
  const int64_t world = comm_.size();
  while (static_cast<int64_t>(partitions_.size()) < size()) {
    const ParamId id{static_cast<int32_t>(partitions_.size())};
    Partition p;
    p.numel = shape_numel(spec(id).shape);
    p.shard_size = zero_shard_size(p.numel, world);
    MemoryCategoryScope category(MemoryCategory::parameters);
    // Page-locked only where a GPU copies from it.
    const bool pinned = options_.pin_memory && shard_device_.is_cpu() && device().is_cuda();
    p.shard = Tensor::zeros({p.shard_size}, dtype(), shard_device_,
                            pinned ? HostMemory::pinned : HostMemory::aligned);
    p.persistent = p.numel <= options_.persistence_threshold;
    partitions_.push_back(std::move(p));
  }
}

ZeroParameterStore::Partition& ZeroParameterStore::partition(ParamId id) {
  sync_partitions();
  T5_CHECK(id.index >= 0 && id.index < static_cast<int32_t>(partitions_.size()),
           "ZeRO store: parameter id ", id.index, " out of range");
  return partitions_[static_cast<size_t>(id.index)];
}

const ZeroParameterStore::Partition& ZeroParameterStore::partition(ParamId id) const {
  return const_cast<ZeroParameterStore*>(this)->partition(id);
}

int64_t ZeroParameterStore::shard_size(ParamId id) const {
  return partition(id).shard_size;
}

bool ZeroParameterStore::persistent(ParamId id) const {
  return partition(id).persistent;
}

int64_t ZeroParameterStore::local_offset(ParamId id) const {
  return comm_.rank() * partition(id).shard_size;
}

Tensor ZeroParameterStore::local_part(ParamId id) const {
  const Partition& p = partition(id);
  // The shard without its padding: what this rank's optimizer updates.
  return p.shard.narrow(0, 0, zero_flat_part(p.numel, comm_.rank(), comm_.size()).numel);
}

void ZeroParameterStore::set_trace(std::ostream* out) {
  trace_ = out;
  trace_sequence_ = 0;
  trace_start_ = std::chrono::steady_clock::now();
}

void ZeroParameterStore::trace(const char* event, ParamId id, int64_t bytes_sent) {
  if (trace_ == nullptr) return;
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - trace_start_)
          .count();
  *trace_ << "{\"seq\": " << trace_sequence_++ << ", \"us\": " << static_cast<int64_t>(us)
          << ", \"event\": \"" << event << "\", \"param\": \"" << spec(id).name
          << "\", \"sent_bytes\": " << bytes_sent << ", \"gathered_bytes\": " << gathered_bytes_
          << "}\n";
}

void ZeroParameterStore::all_gather_into_variable(ParamId id) {
  const Partition& p = partition(id);
  MemoryCategoryScope category(MemoryCategory::parameters);
  Tensor full = Tensor::empty({p.shard_size * comm_.size()}, dtype(), shard_device_);
  comm_.all_gather(p.shard, full);
  // Offloaded shards are gathered on the host; the full tensor moves to where it is used.
  Tensor data = full.narrow(0, 0, p.numel).view(spec(id).shape).to(device());
  autograd::Variable& v = mutable_variable(id);
  const int64_t sent =
      (comm_.size() - 1) * p.shard_size * static_cast<int64_t>(dtype_size(dtype()));
  if (v.data().numel() == p.numel) {
    v.state()->data.copy_(data);  // persistent: keep the storage views already handed out
    trace("refresh", id, sent);
  } else {
    v.state()->data = data;
    gathered_bytes_ += p.numel * static_cast<int64_t>(dtype_size(dtype()));
    peak_gathered_bytes_ = std::max(peak_gathered_bytes_, gathered_bytes_);
    trace("gather", id, sent);
  }
}

void ZeroParameterStore::drop_full_data(ParamId id) {
  const Partition& p = partition(id);
  mutable_variable(id).state()->data = Tensor::empty({0}, dtype(), device());
  gathered_bytes_ -= p.numel * static_cast<int64_t>(dtype_size(dtype()));
  trace("release", id, 0);
}

void ZeroParameterStore::gather(const std::vector<ParamId>& ids) {
  for (ParamId id : ids) {
    Partition& p = partition(id);
    if (p.persistent) continue;
    if (p.gather_count++ == 0) all_gather_into_variable(id);
  }
}

void ZeroParameterStore::release(const std::vector<ParamId>& ids) {
  for (ParamId id : ids) {
    Partition& p = partition(id);
    if (p.persistent) continue;
    T5_CHECK(p.gather_count > 0, "ZeRO store: '", spec(id).name, "' released more often than ",
             "gathered");
    if (--p.gather_count == 0) drop_full_data(id);
  }
}

void ZeroParameterStore::assign(ParamId id, const Tensor& value) {
  const Partition& p = partition(id);
  T5_CHECK(value.shape() == spec(id).shape, "parameter '", spec(id).name, "': expected shape ",
           shape_str(spec(id).shape), ", got ", shape_str(value.shape()));
  const Tensor flat = value.contiguous().view({p.numel});
  Tensor part = local_part(id);
  if (part.numel() > 0) part.copy_(flat.narrow(0, local_offset(id), part.numel()));
  const Tensor& data = variable(id).data();
  if (data.numel() == p.numel) {
    Tensor whole = data;
    whole.copy_(value);
  }
}

void ZeroParameterStore::local_parts_updated() {
  // Persistent parameters are whole on every rank: make them current again. (The others are
  // gathered from the shards when next used.)
  for (ParamId id : ids()) {
    if (partition(id).persistent) all_gather_into_variable(id);
  }
}

void ZeroParameterStore::reduce_scatter_gradient(ParamId id) {
  autograd::Variable& v = mutable_variable(id);
  if (!v.grad().defined()) return;
  const Partition& p = partition(id);
  const int64_t world = comm_.size();
  MemoryCategoryScope category(MemoryCategory::communication);
  // Pad the flat gradient to W equal chunks; every rank receives the rank-ordered sum of its own.
  Tensor padded = Tensor::zeros({p.shard_size * world}, v.grad().dtype(), device());
  padded.narrow(0, 0, p.numel).copy_(v.grad().contiguous().view({p.numel}));
  v.zero_grad();
  padded = padded.to(shard_device_);  // offload_param: reduced on the host, beside the shards
  const DType sum_dtype = padded.dtype() == DType::f64 ? DType::f64 : DType::f32;
  Tensor summed = Tensor::empty({p.shard_size}, sum_dtype, shard_device_);
  comm_.reduce_scatter_sum(padded, summed);
  trace("reduce_scatter", id,
        (world - 1) * p.shard_size * static_cast<int64_t>(dtype_size(padded.dtype())));
  deliver(id, summed.narrow(0, 0, local_part(id).numel()));
}

void ZeroParameterStore::module_gradients_ready(const std::vector<ParamId>& ids) {
  for (ParamId id : ids) reduce_scatter_gradient(id);
}

void ZeroParameterStore::flush_gradients() {
  // Every rank walks the parameters in the same order, so the collectives pair up.
  for (ParamId id : ids()) reduce_scatter_gradient(id);
}

int64_t ZeroParameterStore::shard_bytes() const {
  int64_t total = 0;
  for (ParamId id : ids()) {
    total += partition(id).shard_size * static_cast<int64_t>(dtype_size(dtype()));
  }
  return total;
}

}  // namespace t5zero::dist
