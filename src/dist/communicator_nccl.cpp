// NCCL for the device tensors of one GPU per rank, MPI for everything else. NCCL is bootstrapped
// over MPI (rank 0's unique id, broadcast). Collectives move bytes only; the reduce-scatter sum
// is done with catalogue ops in rank order, so results equal the MPI communicator's bit for bit.
#include <nccl.h>

#include <cstddef>

#include "dist/communicator.h"
#include "dist/communicator_args.h"
#include "dist/mpi_error.h"
#include "tensor/cuda/stream.h"
#include "tensor/ops.h"

#define T5_NCCL_CHECK(call)                                                                  \
  do {                                                                                       \
    const ncclResult_t t5_nccl_status = (call);                                              \
    if (t5_nccl_status != ncclSuccess)                                                       \
      ::t5zero::fail("NCCL call failed: ", #call, ": ", ncclGetErrorString(t5_nccl_status)); \
  } while (0)

namespace t5zero::dist {

namespace {

CommStats operator+(const CommStats& a, const CommStats& b) {
  return {a.all_gather_bytes + b.all_gather_bytes, a.reduce_scatter_bytes + b.reduce_scatter_bytes,
          a.all_reduce_bytes + b.all_reduce_bytes, a.broadcast_bytes + b.broadcast_bytes,
          a.all_gather_calls + b.all_gather_calls, a.reduce_scatter_calls + b.reduce_scatter_calls,
          a.all_reduce_calls + b.all_reduce_calls, a.broadcast_calls + b.broadcast_calls};
}

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(Device device) : device_(device), mpi_(make_mpi_communicator()) {
    T5_CHECK(device.is_cuda(), "make_nccl_communicator: ", device.str(), " is not a CUDA device");
    ncclUniqueId id;
    if (mpi_->rank() == 0) T5_NCCL_CHECK(ncclGetUniqueId(&id));
    T5_MPI_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
    cuda::DeviceGuard guard(device_);
    T5_NCCL_CHECK(ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()));
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }

  void all_gather(const Tensor& local, Tensor& out) override {
    if (!on_device(local, out)) return through_mpi([&] { mpi_->all_gather(local, out); });
    const int64_t n = check_all_gather_args(local, out, size());
    const auto bytes = static_cast<size_t>(n) * dtype_size(local.dtype());
    if (n > 0) {
      // In place, NCCL reads this rank's slot of `out` itself (its in-place convention).
      const bool in_place = all_gather_is_in_place(local, out, rank());
      const void* send = in_place ? static_cast<const std::byte*>(out.data_ptr()) + rank() * bytes
                                  : local.data_ptr();
      cuda::DeviceGuard guard(device_);
      T5_NCCL_CHECK(ncclAllGather(send, out.data_ptr(), bytes, ncclUint8, comm_, stream()));
    }
    device_stats_.all_gather_bytes += (size() - 1) * static_cast<int64_t>(bytes);
    ++device_stats_.all_gather_calls;
    stats_ = mpi_->stats() + device_stats_;
  }

  // As the MPI communicator: an all-to-all of the raw chunks (grouped sends and receives), then
  // chunk 0 + chunk 1 + ... on the device, each add one catalogue op in out's dtype.
  void reduce_scatter_sum(const Tensor& in, Tensor& out) override {
    if (!on_device(in, out)) return through_mpi([&] { mpi_->reduce_scatter_sum(in, out); });
    const int64_t n = check_reduce_scatter_args(in, out, size());
    const auto bytes = static_cast<size_t>(n) * dtype_size(in.dtype());
    if (n > 0) {
      cuda::DeviceGuard guard(device_);
      Tensor received = Tensor::empty({size() * n}, in.dtype(), device_);
      const auto* send = static_cast<const std::byte*>(in.data_ptr());
      auto* recv = static_cast<std::byte*>(received.data_ptr());
      T5_NCCL_CHECK(ncclGroupStart());
      for (int q = 0; q < size(); ++q) {
        T5_NCCL_CHECK(ncclSend(send + q * bytes, bytes, ncclUint8, q, comm_, stream()));
        T5_NCCL_CHECK(ncclRecv(recv + q * bytes, bytes, ncclUint8, q, comm_, stream()));
      }
      T5_NCCL_CHECK(ncclGroupEnd());
      Tensor sum = received.narrow(0, 0, n).to(out.dtype());
      for (int q = 1; q < size(); ++q) {
        sum = ops::add(sum, received.narrow(0, q * n, n).to(out.dtype()));
      }
      out.view({n}).copy_(sum);
    }
    device_stats_.reduce_scatter_bytes += (size() - 1) * static_cast<int64_t>(bytes);
    ++device_stats_.reduce_scatter_calls;
    stats_ = mpi_->stats() + device_stats_;
  }

  void all_reduce_sum(std::span<double> values) override {
    through_mpi([&] { mpi_->all_reduce_sum(values); });
  }
  void broadcast(std::string& bytes, int root) override {
    through_mpi([&] { mpi_->broadcast(bytes, root); });
  }
  void barrier() override { mpi_->barrier(); }

 private:
  bool on_device(const Tensor& a, const Tensor& b) const {
    return a.defined() && b.defined() && a.device() == device_ && b.device() == device_;
  }
  template <typename Call>
  void through_mpi(const Call& call) {
    call();
    stats_ = mpi_->stats() + device_stats_;
  }
  cudaStream_t stream() const { return cuda::current_stream(device_.index); }

  Device device_;
  std::unique_ptr<Communicator> mpi_;
  ncclComm_t comm_ = nullptr;
  CommStats device_stats_;
};

}  // namespace

bool nccl_compiled() {
  return true;
}

std::unique_ptr<Communicator> make_nccl_communicator(Device device) {
  return std::make_unique<NcclCommunicator>(device);
}

}  // namespace t5zero::dist
