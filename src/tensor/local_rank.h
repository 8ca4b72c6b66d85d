// This process's rank among the processes of its node, as the launcher (mpirun, srun, torchrun,
// deepspeed) announces it in the environment. It picks the GPU (cuda/device_select.h).
#pragma once

#include <optional>

namespace t5zero {

// Open MPI (OMPI_COMM_WORLD_LOCAL_RANK), MPICH and Intel MPI (MPI_LOCALRANKID), MVAPICH
// (MV2_COMM_WORLD_LOCAL_RANK), Slurm (SLURM_LOCALID), torchrun and deepspeed (LOCAL_RANK),
// checked in that order; nullopt when none is set. A set variable that is not a non-negative
// integer is an error naming it.
std::optional<int> local_rank_from_environment();

}  // namespace t5zero
