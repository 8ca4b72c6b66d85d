// The communicator `t5zero train` runs on: MPI_COMM_WORLD (or the world of one process), and
// NCCL for the device tensors when the build has it and every rank has a GPU of its own (NCCL
// refuses two ranks on one GPU; those share it through host memory over MPI instead).
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace t5zero {

// `device_flag` is --device (auto, cpu, cuda). Every rank calls this together.
std::unique_ptr<dist::Communicator> make_training_communicator(const std::string& device_flag);

}  // namespace t5zero
