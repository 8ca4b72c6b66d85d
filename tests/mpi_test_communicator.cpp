// The MPI communicator under mpirun (ctest runs it with 2 and 3 ranks). Every rank knows what
// every other rank sends (a function of rank and index), so each checks its own results against
// a locally computed expectation; sums are expected bit for bit in rank order. Each check runs
// with the default communicator and with one that splits transfers into 7-byte MPI calls.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "dist/communicator.h"

using namespace t5zero;
using dist::Communicator;

namespace {

Communicator* g_world = nullptr;  // make_mpi_communicator()
Communicator* g_split = nullptr;  // at most 7 bytes per MPI call and rank pair

std::vector<Communicator*> communicators() {
  return {g_world, g_split};
}

// What rank q holds at element i: exact in bf16, distinct per rank and element (mod 16).
float value(int q, int64_t i) {
  return static_cast<float>(q * 16 + static_cast<int>(i % 16)) * 0.5f - 7.0f;
}

// Rank q's reduce_scatter input at flat index j (chunk j / n belongs to that rank). The first
// element of every chunk is 1, 1e8, -1e8, ... so the f32 sum depends on the order: in rank order
// (1 + 1e8) - 1e8 = 0, while (1e8 - 1e8) + 1 = 1.
float scatter_value(int q, int64_t j, int64_t n) {
  if (j % n == 0) return q == 0 ? 1.0f : (q % 2 == 1 ? 1e8f : -1e8f);
  return value(q, j) * 1.1f + 0.01f * static_cast<float>(j);
}

std::vector<float> scatter_input(int q, int world, int64_t n) {
  std::vector<float> v(static_cast<size_t>(world * n));
  for (int64_t j = 0; j < world * n; ++j) v[j] = scatter_value(q, j, n);
  return v;
}

// The rank-order sum of chunk r over ranks, in Acc, of the inputs as converted to `dtype`.
template <typename Acc>
std::vector<Acc> expected_scatter_sum(int r, int world, int64_t n, DType dtype) {
  std::vector<Acc> sum(static_cast<size_t>(n));
  for (int q = 0; q < world; ++q) {
    const std::vector<Acc> in =
        Tensor::from_vector(scatter_input(q, world, n), {world * n}, dtype).to_vector<Acc>();
    for (int64_t i = 0; i < n; ++i) sum[i] = q == 0 ? in[r * n + i] : sum[i] + in[r * n + i];
  }
  return sum;
}

}  // namespace

TEST_CASE("rank and size are MPI_COMM_WORLD's") {
  CHECK(g_world->size() == std::atoi(std::getenv("OMPI_COMM_WORLD_SIZE")));
  CHECK(g_world->rank() == std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")));
  CHECK(g_world->size() >= 2);
}

TEST_CASE("all_gather puts rank q's elements at [q·n, (q+1)·n), every dtype, odd n") {
  for (Communicator* comm : communicators()) {
    const int r = comm->rank(), world = comm->size();
    for (DType dtype : {DType::f32, DType::bf16, DType::f64, DType::i64}) {
      for (int64_t n : {1, 5, 13}) {
        CAPTURE(std::string(dtype_name(dtype)));
        CAPTURE(n);
        std::vector<float> mine(static_cast<size_t>(n)), all(static_cast<size_t>(world * n));
        for (int64_t i = 0; i < n; ++i) mine[i] = value(r, i);
        for (int q = 0; q < world; ++q) {
          for (int64_t i = 0; i < n; ++i) all[q * n + i] = value(q, i);
        }
        const Tensor local = Tensor::from_vector(mine, {n}, dtype);
        Tensor out = Tensor::full({world * n}, -1000, dtype);
        comm->all_gather(local, out);
        // As `dtype` holds them (i64 truncates the halves).
        CHECK(out.to_vector<float>() ==
              Tensor::from_vector(all, {world * n}, dtype).to_vector<float>());
      }
    }
  }
}

TEST_CASE("all_gather in place: local is this rank's slot of out") {
  for (Communicator* comm : communicators()) {
    const int r = comm->rank(), world = comm->size();
    const int64_t n = 7;
    Tensor out = Tensor::full({world * n}, -1000);
    Tensor local = out.narrow(0, r * n, n);
    for (int64_t i = 0; i < n; ++i) local.data<float>()[i] = value(r, i);
    comm->all_gather(local, out);
    for (int q = 0; q < world; ++q) {
      for (int64_t i = 0; i < n; ++i) CHECK(out.data<float>()[q * n + i] == value(q, i));
    }
    // Off by one element: refused on every rank before anything is sent.
    Tensor shifted = out.narrow(0, r * n + 1, n - 1);
    Tensor short_out = out.narrow(0, 0, world * (n - 1));
    CHECK_THROWS_WITH(comm->all_gather(shifted, short_out),
                      doctest::Contains("`local` overlaps `out` but is not rank"));
  }
}

TEST_CASE("reduce_scatter_sum: rank r gets chunk r summed over ranks in rank order") {
  for (Communicator* comm : communicators()) {
    const int r = comm->rank(), world = comm->size();
    for (int64_t n : {1, 3, 11}) {
      CAPTURE(n);
      // f32 in, f32 out; bf16 in, f32 out: bit-exact rank-order sums.
      for (DType dtype : {DType::f32, DType::bf16}) {
        CAPTURE(std::string(dtype_name(dtype)));
        const Tensor in = Tensor::from_vector(scatter_input(r, world, n), {world * n}, dtype);
        Tensor out = Tensor::full({n}, -1000);
        comm->reduce_scatter_sum(in, out);
        const std::vector<float> expected = expected_scatter_sum<float>(r, world, n, dtype);
        CHECK(out.to_vector<float>() == expected);
        // The order-revealing first element: 1 + 1e8 = 1e8 in f32, so the sum is 0 for 3 ranks
        // (a different order would give 1); for 2 ranks it is 1e8.
        if (dtype == DType::f32) CHECK(expected[0] == (world == 2 ? 1e8f : 0.0f));
      }
      const Tensor in64 = Tensor::from_vector(scatter_input(r, world, n), {world * n}, DType::f64);
      Tensor out64 = Tensor::zeros({n}, DType::f64);
      comm->reduce_scatter_sum(in64, out64);
      CHECK(out64.to_vector<double>() == expected_scatter_sum<double>(r, world, n, DType::f64));
    }
    // n elements on this rank but a multiple of the world size: the same error on every rank.
    const Tensor odd = Tensor::zeros({comm->size() * 2 + 1});
    Tensor out2 = Tensor::zeros({2});
    CHECK_THROWS_WITH(comm->reduce_scatter_sum(odd, out2),
                      doctest::Contains("not a multiple of the world size"));
  }
}

TEST_CASE("all_reduce_sum: the rank-order sum on every rank") {
  for (Communicator* comm : communicators()) {
    const int r = comm->rank(), world = comm->size();
    // Element 0 reveals the order as in reduce_scatter; element 1 is exact; element 2 rounds.
    auto mine = [](int q) {
      return std::vector<double>{q == 0 ? 1.0 : (q % 2 == 1 ? 1e17 : -1e17), q + 0.5, 0.1 * q};
    };
    std::vector<double> values = mine(r);
    std::vector<double> expected = mine(0);
    for (int q = 1; q < world; ++q) {
      for (size_t i = 0; i < expected.size(); ++i) expected[i] += mine(q)[i];
    }
    comm->all_reduce_sum(values);
    CHECK(values == expected);
    std::vector<double> none;
    comm->all_reduce_sum(none);
  }
}

TEST_CASE("broadcast: the root's bytes, any length, zero bytes included, to every rank") {
  for (Communicator* comm : communicators()) {
    const int r = comm->rank(), world = comm->size();
    for (int root = 0; root < world; ++root) {
      for (size_t length : {size_t{0}, size_t{1}, size_t{6}, size_t{1000}}) {
        CAPTURE(root);
        CAPTURE(length);
        std::string sent(length, '\0');
        for (size_t i = 0; i < length; ++i) sent[i] = static_cast<char>((i * 7 + root) % 256);
        std::string bytes = r == root ? sent : std::string(37, 'x');
        comm->broadcast(bytes, root);
        CHECK(bytes == sent);
      }
    }
    std::string unused;
    CHECK_THROWS_WITH(comm->broadcast(unused, world), doctest::Contains("is not a rank"));
  }
}

TEST_CASE("barrier: no rank leaves before the last one arrives") {
  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: one clock for the whole machine
  const int r = g_world->rank(), world = g_world->size();
  const int late = world - 1;
  double arrived = 0;
  if (r == late) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    arrived = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  }
  g_world->barrier();
  const double left = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  // Each rank's departure, and the late rank's arrival, to everyone.
  std::vector<double> times(static_cast<size_t>(2 * world), 0.0);
  times[r] = left;
  times[world + r] = arrived;
  g_world->all_reduce_sum(times);
  for (int q = 0; q < world; ++q) CHECK(times[q] >= times[world + late]);
}

TEST_CASE("stats: the bytes each rank sends, as a ring moves them") {
  auto comm = dist::make_mpi_communicator();
  const int r = comm->rank(), world = comm->size();
  const int64_t n = 5;
  Tensor local = Tensor::zeros({n});
  Tensor gathered = Tensor::zeros({world * n});
  comm->all_gather(local, gathered);
  comm->all_gather(local, gathered);
  const Tensor bf16_in = Tensor::zeros({world * n}, DType::bf16);
  Tensor summed = Tensor::zeros({n});
  comm->reduce_scatter_sum(bf16_in, summed);
  std::vector<double> values(3, 1.0);
  comm->all_reduce_sum(values);
  std::string bytes = r == 1 ? std::string(10, 'b') : std::string();
  comm->broadcast(bytes, 1);
  comm->barrier();

  const dist::CommStats& s = comm->stats();
  CHECK(s.all_gather_calls == 2);
  CHECK(s.all_gather_bytes == 2 * (world - 1) * n * 4);
  CHECK(s.reduce_scatter_calls == 1);
  CHECK(s.reduce_scatter_bytes == (world - 1) * n * 2);
  CHECK(s.all_reduce_calls == 1);
  CHECK(s.all_reduce_bytes == (world - 1) * 3 * 8);
  CHECK(s.broadcast_calls == 1);
  CHECK(s.broadcast_bytes == (r == 1 ? (world - 1) * 10 : 0));
}

TEST_CASE("device tensors: the same results, staged through the host (or over NCCL)") {
  if (cuda_device_count() == 0) {
    MESSAGE("no CUDA device: device tensors not tested");
    return;
  }
  // Every rank of this node shares the GPUs: rank r uses device r mod count.
  const Device device = Device::cuda(g_world->rank() % cuda_device_count());
  std::vector<std::unique_ptr<Communicator>> owned;
  owned.push_back(dist::make_mpi_communicator());
  if (dist::nccl_compiled() && g_world->size() <= cuda_device_count()) {
    owned.push_back(dist::make_nccl_communicator(device));
  }
  for (const auto& comm : owned) {
    const int r = comm->rank(), world = comm->size();
    const int64_t n = 9;
    for (DType dtype : {DType::f32, DType::bf16}) {
      CAPTURE(std::string(dtype_name(dtype)));
      const Tensor in = Tensor::from_vector(scatter_input(r, world, n), {world * n}, dtype);
      Tensor out = Tensor::zeros({n}, DType::f32, device);
      comm->reduce_scatter_sum(in.to(device), out);
      CHECK(out.to_vector<float>() == expected_scatter_sum<float>(r, world, n, dtype));

      std::vector<float> mine(static_cast<size_t>(n)), all(static_cast<size_t>(world * n));
      for (int64_t i = 0; i < n; ++i) mine[i] = value(r, i);
      for (int q = 0; q < world; ++q) {
        for (int64_t i = 0; i < n; ++i) all[q * n + i] = value(q, i);
      }
      Tensor gathered = Tensor::zeros({world * n}, dtype, device);
      comm->all_gather(Tensor::from_vector(mine, {n}, dtype).to(device), gathered);
      CHECK(gathered.to_vector<float>() == all);
      // In place: this rank's slot of the device buffer.
      Tensor in_place = Tensor::zeros({world * n}, dtype, device);
      Tensor slot = in_place.narrow(0, r * n, n);
      slot.copy_(Tensor::from_vector(mine, {n}, dtype));
      comm->all_gather(slot, in_place);
      CHECK(in_place.to_vector<float>() == all);
    }
  }
}

int main(int argc, char** argv) {
  dist::MpiRuntime mpi;
  if (!mpi.active()) {
    std::printf("skipped: not launched by mpirun/mpiexec\n");
    return 77;
  }
  std::unique_ptr<Communicator> world = dist::make_mpi_communicator();
  std::unique_ptr<Communicator> split = dist::make_mpi_communicator(7);
  g_world = world.get();
  g_split = split.get();
  doctest::Context context(argc, argv);
  // Every rank runs every test (the collectives need them all); only rank 0 reports.
  if (world->rank() != 0) context.setOption("out", "/dev/null");
  const int failed = context.run();
  // A failure on any rank fails the job.
  std::vector<double> failures = {failed != 0 ? 1.0 : 0.0};
  world->all_reduce_sum(failures);
  return failures[0] > 0 ? 1 : 0;
}
