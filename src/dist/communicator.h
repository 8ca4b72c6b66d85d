// Communicator: the collectives the ZeRO engine needs, over one process or MPI_COMM_WORLD.
// Every rank calls the same collectives in the same order with the same sizes; a rank that cannot
// (it hit an error) ends the job with abort_job instead, so the others never wait forever.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dist/mpi_runtime.h"
#include "tensor/tensor.h"

namespace t5zero::dist {

// Bytes this rank sent, by collective. Counted as the algorithm-independent payload a ring moves,
// so they can be checked against theory: all_gather and reduce_scatter_sum (W−1)·n·element size,
// all_reduce_sum (W−1)·count·8, broadcast (W−1)·bytes on the root and 0 elsewhere. Calls are
// counted on every rank, one world included.
struct CommStats {
  int64_t all_gather_bytes = 0, reduce_scatter_bytes = 0, all_reduce_bytes = 0, broadcast_bytes = 0;
  int64_t all_gather_calls = 0, reduce_scatter_calls = 0, all_reduce_calls = 0, broadcast_calls = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank passes `local` (contiguous, same numel and dtype everywhere); `out` (contiguous,
  // size()·local.numel() elements, same dtype) receives rank r's elements at [r·n, (r+1)·n).
  // `local` may be exactly out's slot of this rank (an in-place gather); any other overlap is an
  // error.
  virtual void all_gather(const Tensor& local, Tensor& out) = 0;
  // `in` (contiguous, size()·n elements, f32/bf16/f64) holds one chunk of n elements per rank;
  // rank r's `out` (n elements, f32 — f64 when `in` is f64) = Σ over ranks q = 0..size()-1, in
  // that order, of chunk r of q's `in`, accumulated in out's dtype. The fixed order makes the
  // result independent of the MPI algorithm (deterministic, same bits every run).
  virtual void reduce_scatter_sum(const Tensor& in, Tensor& out) = 0;
  // values[i] = Σ over ranks in rank order (same result on every rank).
  virtual void all_reduce_sum(std::span<double> values) = 0;
  // Rank `root`'s bytes to everyone (resized on receivers).
  virtual void broadcast(std::string& bytes, int root) = 0;
  virtual void barrier() = 0;
  const CommStats& stats() const { return stats_; }

 protected:
  CommStats stats_;
};

// The world of one process: gathers and reductions copy.
std::unique_ptr<Communicator> make_single_process_communicator();
// MPI_COMM_WORLD. Requires an initialised MpiRuntime. Device tensors are staged through host
// memory. The calls come from the thread that initialised MPI (MPI_THREAD_FUNNELED).
std::unique_ptr<Communicator> make_mpi_communicator();
// The same, with each MPI call moving at most `max_message_bytes` per rank pair (larger transfers
// go in several calls; MPI counts are ints). Tests pass a small value to exercise the splitting.
std::unique_ptr<Communicator> make_mpi_communicator(int64_t max_message_bytes);
// MPI_COMM_WORLD when an MpiRuntime initialised MPI, else the world of one process.
std::unique_ptr<Communicator> make_world_communicator();

// True when this build has the NCCL communicator (configured with -DT5ZERO_CUDA=ON
// -DT5ZERO_NCCL=ON).
bool nccl_compiled();
// MPI_COMM_WORLD with NCCL for tensors on `device` (this rank's GPU, made current by the caller):
// all_gather and reduce_scatter_sum of tensors on that device are queued on its current stream
// and return without waiting (stream order, as any op); host tensors, all_reduce_sum,
// broadcast and barrier go through MPI. Results are the MPI communicator's, bit for bit.
// Requires an initialised MpiRuntime; a build without NCCL throws, saying how to enable it.
std::unique_ptr<Communicator> make_nccl_communicator(Device device);

}  // namespace t5zero::dist
