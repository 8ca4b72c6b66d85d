#include "dist/mpi_runtime.h"

#include <cstdio>
#include <cstdlib>

#include "dist/mpi_error.h"
#include "tensor/error.h"

namespace t5zero::dist {

namespace {

// What each launcher sets in every process it starts: Open MPI, MPICH/Intel MPI (Hydra's PMI),
// PMIx launchers (Open MPI 5, srun --mpi=pmix), MVAPICH.
const char* const kLauncherVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK",
                                          "PMIX_RANK", "MV2_COMM_WORLD_SIZE"};

// The rank to name in a message when MPI is not (or no longer) initialised.
int rank_from_environment() {
  for (const char* name :
       {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const long rank = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && rank >= 0) return static_cast<int>(rank);
  }
  return 0;
}

}  // namespace

bool launched_under_mpi() {
  for (const char* name : kLauncherVariables) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

bool mpi_is_initialised() {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  return initialised && !finalised;
}

MpiRuntime::MpiRuntime() {
  if (!launched_under_mpi()) return;
  int initialised = 0;
  T5_MPI_CHECK(MPI_Initialized(&initialised));
  T5_CHECK(!initialised, "MpiRuntime: MPI is already initialised (one MpiRuntime per process)");
  int provided = 0;
  T5_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  initialised_here_ = true;
  // Only the main thread calls MPI; OpenMP threads compute between the calls.
  T5_CHECK(provided >= MPI_THREAD_FUNNELED,
           "MPI_Init_thread: asked for MPI_THREAD_FUNNELED, the MPI library provides level ",
           provided);
  // Failed calls come back as codes that check_mpi turns into Errors naming the call, instead of
  // MPI aborting the job with its own message.
  T5_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
}

MpiRuntime::~MpiRuntime() {
  if (initialised_here_ && mpi_is_initialised()) MPI_Finalize();
}

int MpiRuntime::world_rank() const {
  if (!initialised_here_) return 0;
  int rank = 0;
  T5_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  return rank;
}

int MpiRuntime::world_size() const {
  if (!initialised_here_) return 1;
  int size = 1;
  T5_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  return size;
}

void abort_job(const std::string& message, int code) {
  const bool under_mpi = mpi_is_initialised();
  int rank = rank_from_environment();
  if (under_mpi) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fflush(stdout);
  std::fprintf(stderr, "t5zero: rank %d: %s\n", rank, message.c_str());
  std::fflush(stderr);
  // MPI_Abort makes the launcher kill every rank, including those blocked in a collective.
  if (under_mpi) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace t5zero::dist
