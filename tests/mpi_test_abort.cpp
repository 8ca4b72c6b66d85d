// The last rank calls abort_job while every other rank waits in a barrier it will never leave:
// the job must end (nonzero exit, the rank's message on stderr) instead of hanging. Run by
// mpi_test_expect_abort.cmake, which checks exactly that.
#include <cstdio>

#include "dist/communicator.h"

using namespace t5zero;

int main() {
  dist::MpiRuntime mpi;
  std::unique_ptr<dist::Communicator> comm = dist::make_mpi_communicator();
  comm->barrier();  // everyone is up: the abort below cannot race the start-up
  if (comm->rank() == comm->size() - 1) dist::abort_job("failing on purpose", 3);
  comm->barrier();
  std::printf("rank %d left the barrier\n", comm->rank());
  return 0;
}
