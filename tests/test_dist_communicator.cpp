// The one-process communicator (gathers and reductions copy, nothing is sent), the argument
// checks every communicator shares, the rank-order sum, and the MPI entry points without MPI.
// The MPI communicator itself is tested under mpirun (mpi_test_communicator.cpp).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/communicator_rank_order_sum.h"

using namespace t5zero;
using dist::Communicator;

namespace {

// Values with a fractional part, distinct per element; exact in bf16 for small n and base.
std::vector<float> sample(int64_t n, float base) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = base + 0.5f * static_cast<float>(i) - 3.25f;
  return v;
}

}  // namespace

TEST_CASE("one process: rank 0 of 1") {
  auto comm = dist::make_single_process_communicator();
  CHECK(comm->rank() == 0);
  CHECK(comm->size() == 1);
}

TEST_CASE("one process: all_gather copies local into out, any dtype") {
  auto comm = dist::make_single_process_communicator();
  for (DType dtype : {DType::f32, DType::bf16, DType::f64, DType::i64}) {
    CAPTURE(dtype_name(dtype));
    const Tensor local = Tensor::from_vector(sample(7, 10), {7}, dtype);
    Tensor out = Tensor::full({7}, -99, dtype);
    comm->all_gather(local, out);
    CHECK(out.to_vector<double>() == local.to_vector<double>());
  }
  // Shapes may differ as long as the element counts match: a [2, 3] parameter's flat gather.
  const Tensor local = Tensor::from_vector(sample(6, 1), {2, 3});
  Tensor out = Tensor::zeros({6});
  comm->all_gather(local, out);
  CHECK(out.to_vector<float>() == sample(6, 1));
}

TEST_CASE("one process: an in-place all_gather leaves the data; other overlaps are refused") {
  auto comm = dist::make_single_process_communicator();
  Tensor out = Tensor::from_vector(sample(5, 2), {5});
  const Tensor local = out.narrow(0, 0, 5);
  comm->all_gather(local, out);
  CHECK(out.to_vector<float>() == sample(5, 2));

  Tensor wide = Tensor::zeros({8});
  Tensor window = wide.narrow(0, 1, 4);
  Tensor out4 = wide.narrow(0, 0, 4);
  CHECK_THROWS_WITH(comm->all_gather(window, out4),
                    doctest::Contains("`local` overlaps `out` but is not rank 0's slot"));
}

TEST_CASE("all_gather refuses bad arguments with messages that name them") {
  auto comm = dist::make_single_process_communicator();
  const Tensor local = Tensor::zeros({4});
  Tensor short_out = Tensor::zeros({3});
  CHECK_THROWS_WITH(comm->all_gather(local, short_out),
                    doctest::Contains("`out` has 3 elements, expected world size 1 x local 4"));
  Tensor bf16_out = Tensor::zeros({4}, DType::bf16);
  CHECK_THROWS_WITH(comm->all_gather(local, bf16_out),
                    doctest::Contains("`out` is bf16, `local` is f32"));
  const Tensor strided = Tensor::zeros({4, 2}).transpose(0, 1);
  Tensor out8 = Tensor::zeros({8});
  CHECK_THROWS_WITH(comm->all_gather(strided, out8),
                    doctest::Contains("all_gather: `local` must be contiguous"));
  Tensor undefined;
  CHECK_THROWS_WITH(comm->all_gather(local, undefined),
                    doctest::Contains("`out` is an undefined tensor"));
}

TEST_CASE("one process: reduce_scatter_sum widens bf16 to f32 exactly and keeps f32 and f64") {
  auto comm = dist::make_single_process_communicator();
  const std::vector<float> values = sample(9, 3);
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Tensor in = Tensor::from_vector(values, {9}, dtype);
    Tensor out = Tensor::full({9}, -1, DType::f32);
    comm->reduce_scatter_sum(in, out);
    CHECK(out.to_vector<float>() == values);
  }
  const std::vector<double> precise = {1.0 + 1e-15, -2.5, 1e300};
  const Tensor in64 = Tensor::from_vector(precise, {3});
  Tensor out64 = Tensor::zeros({3}, DType::f64);
  comm->reduce_scatter_sum(in64, out64);
  CHECK(out64.to_vector<double>() == precise);
}

TEST_CASE("reduce_scatter_sum refuses bad arguments with messages that name them") {
  auto comm = dist::make_single_process_communicator();
  const Tensor bf16_in = Tensor::zeros({4}, DType::bf16);
  Tensor bf16_out = Tensor::zeros({4}, DType::bf16);
  CHECK_THROWS_WITH(comm->reduce_scatter_sum(bf16_in, bf16_out),
                    doctest::Contains("`out` is bf16, expected f32 for bf16 `in`"));
  const Tensor f64_in = Tensor::zeros({4}, DType::f64);
  Tensor f32_out = Tensor::zeros({4});
  CHECK_THROWS_WITH(comm->reduce_scatter_sum(f64_in, f32_out),
                    doctest::Contains("`out` is f32, expected f64 for f64 `in`"));
  const Tensor int_in = Tensor::zeros({4}, DType::i32);
  CHECK_THROWS_WITH(comm->reduce_scatter_sum(int_in, f32_out),
                    doctest::Contains("`in` is i32, expected f32, bf16 or f64"));
  const Tensor f32_in = Tensor::zeros({5});
  CHECK_THROWS_WITH(comm->reduce_scatter_sum(f32_in, f32_out),
                    doctest::Contains("`out` has 4 elements, expected 5"));
}

TEST_CASE("one process: all_reduce_sum and broadcast keep the values; a bad root is refused") {
  auto comm = dist::make_single_process_communicator();
  std::vector<double> values = {1.5, -2.0, 1e-300};
  comm->all_reduce_sum(values);
  CHECK(values == std::vector<double>{1.5, -2.0, 1e-300});
  std::string bytes("abc\0def", 7);
  comm->broadcast(bytes, 0);
  CHECK(bytes == std::string("abc\0def", 7));
  CHECK_THROWS_WITH(comm->broadcast(bytes, 1),
                    doctest::Contains("broadcast: root 1 is not a rank of a world of size 1"));
  comm->barrier();
}

TEST_CASE("one process: stats count calls and no bytes") {
  auto comm = dist::make_single_process_communicator();
  Tensor t = Tensor::zeros({4});
  Tensor g = Tensor::zeros({4});
  comm->all_gather(t, g);
  comm->all_gather(t, g);
  comm->reduce_scatter_sum(t, g);
  std::vector<double> v = {1};
  comm->all_reduce_sum(v);
  std::string s = "x";
  comm->broadcast(s, 0);
  const dist::CommStats& stats = comm->stats();
  CHECK(stats.all_gather_calls == 2);
  CHECK(stats.reduce_scatter_calls == 1);
  CHECK(stats.all_reduce_calls == 1);
  CHECK(stats.broadcast_calls == 1);
  CHECK(stats.all_gather_bytes + stats.reduce_scatter_bytes + stats.all_reduce_bytes +
            stats.broadcast_bytes ==
        0);
}

TEST_CASE("the rank-order sum adds chunk 0, then 1, then 2, in out's dtype") {
  // In f32, (1 + 1e8) - 1e8 = 0 (1e8's spacing is 8) but (1e8 - 1e8) + 1 = 1: the order shows.
  const Tensor chunks = Tensor::from_vector(std::vector<float>{1, 2, 1e8f, 3, -1e8f, 4}, {6});
  Tensor out = Tensor::zeros({2});
  dist::sum_chunks_in_rank_order(chunks, 3, out);
  CHECK(out.to_vector<float>() == std::vector<float>{0, 9});

  // bf16 terms are widened and summed in f32: 256 + 1 + 1 = 258 is not a bf16 value.
  const Tensor bf16_chunks = Tensor::from_vector(std::vector<float>{256, 1, 1}, {3}, DType::bf16);
  Tensor one = Tensor::zeros({1});
  dist::sum_chunks_in_rank_order(bf16_chunks, 3, one);
  CHECK(one.item() == 258);

  // f64: 1 + 1e-16 + 1e-16 stays 1 in rank order (1 + 2e-16 would not).
  const Tensor f64_chunks = Tensor::from_vector(std::vector<double>{1, 1e-16, 1e-16}, {3});
  Tensor f64_out = Tensor::zeros({1}, DType::f64);
  dist::sum_chunks_in_rank_order(f64_chunks, 3, f64_out);
  CHECK(f64_out.item() == 1.0);
}

TEST_CASE("launched_under_mpi reads the launchers' variables") {
  const char* const variables[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK",
                                   "MV2_COMM_WORLD_SIZE"};
  for (const char* v : variables) unsetenv(v);
  CHECK_FALSE(dist::launched_under_mpi());
  for (const char* v : variables) {
    CAPTURE(v);
    setenv(v, "2", 1);
    CHECK(dist::launched_under_mpi());
    unsetenv(v);
  }
}

TEST_CASE("without mpirun: no MPI, a world of one, and a clear error for the MPI communicator") {
  dist::MpiRuntime runtime;  // not launched by mpirun (the previous test cleared the variables)
  CHECK_FALSE(runtime.active());
  CHECK(runtime.world_size() == 1);
  CHECK_FALSE(dist::mpi_is_initialised());
  CHECK(dist::make_world_communicator()->size() == 1);
  CHECK_THROWS_WITH(dist::make_mpi_communicator(),
                    doctest::Contains("MPI is not initialised (main() creates a dist::MpiRuntime"));
}

TEST_CASE("abort_job without MPI prints the rank's message and exits with the code") {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    dist::abort_job("the data file is gone", 5);
  }
  close(pipe_fds[1]);
  std::string stderr_text;
  char buffer[256];
  for (ssize_t got; (got = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    stderr_text.append(buffer, static_cast<size_t>(got));
  }
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 5);
  CHECK(stderr_text == "t5zero: rank 0: the data file is gone\n");
}

TEST_CASE("the NCCL communicator needs NCCL compiled in, then MPI") {
  CHECK_THROWS_WITH(
      dist::make_nccl_communicator(Device::cuda(0)),
      doctest::Contains(dist::nccl_compiled() ? "MPI is not initialised" : "built without NCCL"));
}
