#include "dist/zero_parameter_store.h"

#include <algorithm>
#include <limits>

#include "dist/zero_partition.h"
#include "tensor/caching_allocator.h"
#include "tensor/error.h"

namespace t5zero::dist {

using models::ParamId;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Shards at least this large travel in a collective of their own: packing them would copy more
// bytes than the call it saves costs. Smaller ones (biases, norms, small projections) share one.
constexpr int64_t kPackBelowBytes = 256 * 1024;

}  // namespace

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

std::vector<int64_t> ZeroParameterStore::packed_offsets(const std::vector<ParamId>& ids,
                                                        int64_t* total) {
  std::vector<int64_t> offsets;
  *total = 0;
  for (ParamId id : ids) {
    offsets.push_back(*total);
    *total += partition(id).shard_size;
  }
  return offsets;
}

void ZeroParameterStore::all_gather_packed(const std::vector<ParamId>& ids) {
  if (ids.empty()) return;
  MemoryCategoryScope category(MemoryCategory::parameters);
  const int64_t world = comm_.size();
  // One all-gather for the module: each rank sends its shards packed side by side, and the
  // result [W, Σ s] holds every parameter's full flat tensor as its own block of columns.
  int64_t total = 0;
  const std::vector<int64_t> offsets = packed_offsets(ids, &total);
  Tensor packed = partition(ids[0]).shard;
  if (ids.size() > 1) {
    packed = Tensor::empty({total}, dtype(), shard_device_);
    for (size_t i = 0; i < ids.size(); ++i) {
      const Partition& p = partition(ids[i]);
      packed.narrow(0, offsets[i], p.shard_size).copy_(p.shard);
    }
  }
  Tensor full = Tensor::empty({world * total}, dtype(), shard_device_);
  const auto comm_start = std::chrono::steady_clock::now();
  comm_.all_gather(packed, full);
  communication_seconds_ += seconds_since(comm_start);
  const Tensor columns = full.view({world, total});
  for (size_t i = 0; i < ids.size(); ++i) {
    const ParamId id = ids[i];
    const Partition& p = partition(id);
    const Tensor flat = ids.size() == 1
                            ? full
                            : columns.narrow(1, offsets[i], p.shard_size).contiguous().view({-1});
    // Offloaded shards are gathered on the host; the full tensor moves to where it is used.
    Tensor data = flat.narrow(0, 0, p.numel).view(spec(id).shape).to(device());
    autograd::Variable& v = mutable_variable(id);
    const int64_t sent = (world - 1) * p.shard_size * static_cast<int64_t>(dtype_size(dtype()));
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
}

void ZeroParameterStore::all_gather_into_variables(const std::vector<ParamId>& ids) {
  std::vector<ParamId> small;
  for (ParamId id : ids) {
    if (partition(id).shard_size * static_cast<int64_t>(dtype_size(dtype())) >= kPackBelowBytes) {
      all_gather_packed({id});
    } else {
      small.push_back(id);
    }
  }
  all_gather_packed(small);
}

void ZeroParameterStore::drop_full_data(ParamId id) {
  const Partition& p = partition(id);
  mutable_variable(id).state()->data = Tensor::empty({0}, dtype(), device());
  gathered_bytes_ -= p.numel * static_cast<int64_t>(dtype_size(dtype()));
  trace("release", id, 0);
}

void ZeroParameterStore::gather(const std::vector<ParamId>& ids) {
  std::vector<ParamId> absent;
  for (ParamId id : ids) {
    Partition& p = partition(id);
    if (p.persistent) continue;
    if (p.gather_count++ == 0) absent.push_back(id);
  }
  all_gather_into_variables(absent);
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
  std::vector<ParamId> persistent;
  for (ParamId id : ids()) {
    if (partition(id).persistent) persistent.push_back(id);
  }
  all_gather_into_variables(persistent);
}

void ZeroParameterStore::reduce_scatter_packed(const std::vector<ParamId>& ready) {
  if (ready.empty()) return;
  MemoryCategoryScope category(MemoryCategory::communication);
  const int64_t world = comm_.size();
  const DType grad_dtype = variable(ready[0]).grad().dtype();
  // One reduce-scatter for the module: row r of [W, Σ s] holds chunk r of every gradient (each
  // flattened and zero-padded to W·s), so rank r receives the rank-ordered sums of its shards.
  int64_t total = 0;
  const std::vector<int64_t> offsets = packed_offsets(ready, &total);
  // A single gradient is its own padded buffer; several are copied into their columns.
  Tensor packed;
  if (ready.size() > 1) packed = Tensor::zeros({world, total}, grad_dtype, device());
  for (size_t i = 0; i < ready.size(); ++i) {
    autograd::Variable& v = mutable_variable(ready[i]);
    const Partition& p = partition(ready[i]);
    T5_CHECK(v.grad().dtype() == grad_dtype, "ZeRO store: gradients of one module in ",
             dtype_name(grad_dtype), " and ", dtype_name(v.grad().dtype()));
    const Tensor flat = v.grad().contiguous().view({p.numel});
    Tensor padded = flat;  // W equal chunks already when nothing needs padding
    if (p.numel != world * p.shard_size) {
      padded = Tensor::zeros({world * p.shard_size}, grad_dtype, device());
      padded.narrow(0, 0, p.numel).copy_(flat);
    }
    if (ready.size() > 1) {
      packed.narrow(1, offsets[i], p.shard_size).copy_(padded.view({world, p.shard_size}));
    } else {
      packed = padded;
    }
    v.zero_grad();
  }
  packed = packed.to(shard_device_);  // offload_param: reduced on the host, beside the shards
  const DType sum_dtype = grad_dtype == DType::f64 ? DType::f64 : DType::f32;
  Tensor summed = Tensor::empty({total}, sum_dtype, shard_device_);
  const auto comm_start = std::chrono::steady_clock::now();
  comm_.reduce_scatter_sum(packed.view({world * total}), summed);
  communication_seconds_ += seconds_since(comm_start);
  for (size_t i = 0; i < ready.size(); ++i) {
    const Partition& p = partition(ready[i]);
    trace("reduce_scatter", ready[i],
          (world - 1) * p.shard_size * static_cast<int64_t>(dtype_size(grad_dtype)));
    deliver(ready[i], summed.narrow(0, offsets[i], local_part(ready[i]).numel()));
  }
}

void ZeroParameterStore::reduce_scatter_gradients(const std::vector<ParamId>& ids) {
  std::vector<ParamId> small;
  for (ParamId id : ids) {
    const autograd::Variable& v = variable(id);
    if (!v.grad().defined()) continue;
    if (partition(id).shard_size * static_cast<int64_t>(dtype_size(v.grad().dtype())) >=
        kPackBelowBytes) {
      reduce_scatter_packed({id});
    } else {
      small.push_back(id);
    }
  }
  reduce_scatter_packed(small);
}

void ZeroParameterStore::module_gradients_ready(const std::vector<ParamId>& ids) {
  reduce_scatter_gradients(ids);
}

void ZeroParameterStore::flush_gradients() {
  // Every rank walks the parameters in the same order, so the collectives pair up.
  reduce_scatter_gradients(ids());
}

int64_t ZeroParameterStore::shard_bytes() const {
  int64_t total = 0;
  for (ParamId id : ids()) {
    total += partition(id).shard_size * static_cast<int64_t>(dtype_size(dtype()));
  }
  return total;
}

}  // namespace t5zero::dist
