// The node-local rank that picks this process's GPU, from the launchers' environment variables.
#include <doctest/doctest.h>

#include <cstdlib>

#include "tensor/error.h"
#include "tensor/local_rank.h"

using namespace t5zero;

namespace {
const char* const kVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                  "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK"};
void clear_all() {
  for (const char* v : kVariables) unsetenv(v);
}
}  // namespace

TEST_CASE("no launcher: no local rank") {
  clear_all();
  CHECK_FALSE(local_rank_from_environment().has_value());
}

TEST_CASE("each launcher's variable is read; Open MPI's wins over the generic LOCAL_RANK") {
  clear_all();
  setenv("LOCAL_RANK", "3", 1);
  CHECK(local_rank_from_environment() == 3);
  setenv("SLURM_LOCALID", "5", 1);
  CHECK(local_rank_from_environment() == 5);
  setenv("MPI_LOCALRANKID", "6", 1);
  CHECK(local_rank_from_environment() == 6);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "7", 1);
  CHECK(local_rank_from_environment() == 7);
  clear_all();
}

TEST_CASE("a malformed value is an error naming the variable") {
  clear_all();
  for (const char* bad : {"", "x", "-1", "2a", "99999999999"}) {
    CAPTURE(bad);
    setenv("LOCAL_RANK", bad, 1);
    CHECK_THROWS_WITH_AS(local_rank_from_environment(), doctest::Contains("LOCAL_RANK"), Error);
  }
  clear_all();
}
