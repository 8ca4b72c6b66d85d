// The process's MPI lifetime, and how one rank ends the whole job. No MPI header leaks from here:
// only src/dist/*.cpp include <mpi.h>.
#pragma once

#include <string>

namespace t5zero::dist {

// Launched by mpirun/mpiexec (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK... set)?
bool launched_under_mpi();

// RAII: MPI_Init_thread(FUNNELED) when launched under MPI, MPI_Finalize at exit. Without a
// launcher it does nothing, and the process is a world of one. One per process, in main().
class MpiRuntime {
 public:
  MpiRuntime();
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  // True when this runtime initialised MPI (so make_mpi_communicator may be called).
  bool active() const { return initialised_here_; }
  // MPI_COMM_WORLD's rank and size; 0 and 1 when not active.
  int world_rank() const;
  int world_size() const;

 private:
  bool initialised_here_ = false;
};

// True between MPI_Init and MPI_Finalize, whoever called them.
bool mpi_is_initialised();

// Ends the whole job from one rank: prints "t5zero: rank R: <message>" to stderr, then MPI_Abort
// (exit code `code`) under MPI, or exits with `code` otherwise. Never returns.
[[noreturn]] void abort_job(const std::string& message, int code = 1);

}  // namespace t5zero::dist
