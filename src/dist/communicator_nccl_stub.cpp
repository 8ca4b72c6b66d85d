// Builds without NCCL: the NCCL communicator is refused with a message saying how to get it.
#include "dist/communicator.h"

namespace t5zero::dist {

bool nccl_compiled() {
  return false;
}

std::unique_ptr<Communicator> make_nccl_communicator(Device device) {
  fail("make_nccl_communicator(", device.str(),
       "): this t5zero was built without NCCL (configure with -DT5ZERO_CUDA=ON -DT5ZERO_NCCL=ON); "
       "make_mpi_communicator moves device tensors through host memory instead");
}

}  // namespace t5zero::dist
