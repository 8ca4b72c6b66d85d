// MPI_COMM_WORLD as a Communicator. Buffers move as bytes; sums happen here, in rank order, so
// results do not depend on the MPI library's algorithms. Device tensors are staged through host
// memory (a NCCL communicator would move them directly).
#include <algorithm>
#include <climits>
#include <cstddef>
#include <vector>

#include "dist/communicator.h"
#include "dist/communicator_args.h"
#include "dist/communicator_rank_order_sum.h"
#include "dist/mpi_error.h"

namespace t5zero::dist {

namespace {

constexpr int64_t kDefaultMaxMessageBytes = int64_t{1} << 30;

// `length` bytes whose extent is `stride` bytes: with count 1 per rank, rank q's block sits at
// buffer + q·stride. Lets one MPI call move piece [o, o + length) of every rank's block.
class StridedBlockType {
 public:
  StridedBlockType(int64_t length, int64_t stride) {
    MPI_Datatype block = MPI_DATATYPE_NULL;
    T5_MPI_CHECK(MPI_Type_contiguous(static_cast<int>(length), MPI_BYTE, &block));
    const int code = MPI_Type_create_resized(block, 0, static_cast<MPI_Aint>(stride), &type_);
    MPI_Type_free(&block);
    T5_MPI_CHECK(code);
    T5_MPI_CHECK(MPI_Type_commit(&type_));
  }
  ~StridedBlockType() { MPI_Type_free(&type_); }
  StridedBlockType(const StridedBlockType&) = delete;
  StridedBlockType& operator=(const StridedBlockType&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

// A host tensor for MPI to read or write: the tensor itself when on the host, else an empty
// host tensor of its shape (contents copied in only when `copy_contents`).
Tensor host_buffer(const Tensor& t, bool copy_contents) {
  if (t.device().is_cpu()) return t;
  return copy_contents ? t.to(Device::cpu()) : Tensor::empty(t.shape(), t.dtype(), Device::cpu());
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(int64_t max_message_bytes) : max_message_bytes_(max_message_bytes) {
    T5_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    T5_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_gather(const Tensor& local, Tensor& out) override {
    const int64_t n = check_all_gather_args(local, out, size_);
    const int64_t bytes = n * static_cast<int64_t>(dtype_size(local.dtype()));
    if (n > 0) {
      const bool in_place = all_gather_is_in_place(local, out, rank_);
      const Tensor host_local = in_place ? Tensor() : host_buffer(local, true);
      Tensor host_out = host_buffer(out, in_place);
      gather_bytes(in_place ? nullptr : host_local.data_ptr(), host_out.data_ptr(), bytes);
      if (!out.device().is_cpu()) out.copy_(host_out);
    }
    stats_.all_gather_bytes += (size_ - 1) * bytes;
    ++stats_.all_gather_calls;
  }

  // An all-to-all of the raw chunks (rank r receives chunk r from every rank), then the local
  // rank-order sum: each rank sends (W−1)/W of `in`, as a ring reduce-scatter would.
  void reduce_scatter_sum(const Tensor& in, Tensor& out) override {
    const int64_t n = check_reduce_scatter_args(in, out, size_);
    const int64_t bytes = n * static_cast<int64_t>(dtype_size(in.dtype()));
    if (n > 0) {
      const Tensor host_in = host_buffer(in, true);
      Tensor received = Tensor::empty({size_ * n}, in.dtype(), Device::cpu());
      exchange_chunks(host_in.data_ptr(), received.data_ptr(), bytes);
      Tensor host_out = host_buffer(out, false);
      sum_chunks_in_rank_order(received, size_, host_out);
      if (!out.device().is_cpu()) out.copy_(host_out);
    }
    stats_.reduce_scatter_bytes += (size_ - 1) * bytes;
    ++stats_.reduce_scatter_calls;
  }

  // Every rank gathers all values and sums them in rank order: MPI_Allreduce's order (and so
  // its rounding) would depend on the library's algorithm.
  void all_reduce_sum(std::span<double> values) override {
    const auto count = static_cast<int64_t>(values.size());
    const int64_t bytes = count * static_cast<int64_t>(sizeof(double));
    if (count > 0) {
      std::vector<double> all(static_cast<size_t>(size_ * count));
      gather_bytes(values.data(), all.data(), bytes);
      for (int64_t i = 0; i < count; ++i) {
        double sum = all[i];
        for (int q = 1; q < size_; ++q) sum += all[q * count + i];
        values[i] = sum;
      }
    }
    stats_.all_reduce_bytes += (size_ - 1) * bytes;
    ++stats_.all_reduce_calls;
  }

  void broadcast(std::string& bytes, int root) override {
    check_broadcast_root(root, size_);
    int64_t length = static_cast<int64_t>(bytes.size());
    T5_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD));
    if (rank_ != root) bytes.resize(static_cast<size_t>(length));
    for (int64_t offset = 0; offset < length; offset += max_message_bytes_) {
      const int64_t piece = std::min(max_message_bytes_, length - offset);
      T5_MPI_CHECK(MPI_Bcast(bytes.data() + offset, static_cast<int>(piece), MPI_BYTE, root,
                             MPI_COMM_WORLD));
    }
    if (rank_ == root) stats_.broadcast_bytes += (size_ - 1) * length;
    ++stats_.broadcast_calls;
  }

  void barrier() override { T5_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

 private:
  // Rank q's `bytes` bytes from `send` land at recv + q·bytes; send == nullptr: this rank's
  // bytes are already in its slot of recv.
  void gather_bytes(const void* send, void* recv, int64_t bytes) {
    auto* recv_bytes = static_cast<std::byte*>(recv);
    for (int64_t offset = 0; offset < bytes; offset += max_message_bytes_) {
      const int64_t piece = std::min(max_message_bytes_, bytes - offset);
      const StridedBlockType slot(piece, bytes);
      if (send == nullptr) {
        T5_MPI_CHECK(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv_bytes + offset, 1,
                                   slot.get(), MPI_COMM_WORLD));
      } else {
        T5_MPI_CHECK(MPI_Allgather(static_cast<const std::byte*>(send) + offset,
                                   static_cast<int>(piece), MPI_BYTE, recv_bytes + offset, 1,
                                   slot.get(), MPI_COMM_WORLD));
      }
    }
  }

  // `send` holds one block of `bytes` per rank; block q goes to rank q, and rank q's block for
  // this rank lands at recv + q·bytes.
  void exchange_chunks(const void* send, void* recv, int64_t bytes) {
    const auto* send_bytes = static_cast<const std::byte*>(send);
    auto* recv_bytes = static_cast<std::byte*>(recv);
    for (int64_t offset = 0; offset < bytes; offset += max_message_bytes_) {
      const int64_t piece = std::min(max_message_bytes_, bytes - offset);
      const StridedBlockType block(piece, bytes);
      T5_MPI_CHECK(MPI_Alltoall(send_bytes + offset, 1, block.get(), recv_bytes + offset, 1,
                                block.get(), MPI_COMM_WORLD));
    }
  }

  int rank_ = 0;
  int size_ = 1;
  int64_t max_message_bytes_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  return make_mpi_communicator(kDefaultMaxMessageBytes);
}

std::unique_ptr<Communicator> make_mpi_communicator(int64_t max_message_bytes) {
  T5_CHECK(mpi_is_initialised(),
           "make_mpi_communicator: MPI is not initialised (main() creates a dist::MpiRuntime, "
           "which initialises MPI when the process was launched by mpirun/mpiexec)");
  T5_CHECK(max_message_bytes >= 1 && max_message_bytes <= INT_MAX,
           "make_mpi_communicator: max_message_bytes ", max_message_bytes, " is not in [1, ",
           INT_MAX, "] (MPI counts are ints)");
  return std::make_unique<MpiCommunicator>(max_message_bytes);
}

std::unique_ptr<Communicator> make_world_communicator() {
  return mpi_is_initialised() ? make_mpi_communicator() : make_single_process_communicator();
}

}  // namespace t5zero::dist
