#include "tensor/local_rank.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "tensor/error.h"

namespace t5zero {

std::optional<int> local_rank_from_environment() {
  static const char* const kVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                           "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                           "LOCAL_RANK"};
  for (const char* name : kVariables) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    errno = 0;
    const long rank = std::strtol(value, &end, 10);
    T5_CHECK(end != value && *end == '\0' && errno == 0 && rank >= 0 && rank <= INT_MAX,
             "environment variable ", name,
             ": expected a non-negative integer (a node-local rank), "
             "got \"",
             value, "\"");
    return static_cast<int>(rank);
  }
  return std::nullopt;
}

}  // namespace t5zero
