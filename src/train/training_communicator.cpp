#include "train/training_communicator.h"

#include "tensor/device.h"
#include "tensor/local_rank.h"
#include "train/training_args.h"

namespace t5zero {

std::unique_ptr<dist::Communicator> make_training_communicator(const std::string& device_flag) {
  std::unique_ptr<dist::Communicator> world = dist::make_world_communicator();
  if (world->size() == 1 || !dist::nccl_compiled()) return world;
  const Device device = resolve_training_device(device_flag);
  // Ranks pick GPU (local rank mod count): their own exactly when every local rank is below it.
  const int local_rank = local_rank_from_environment().value_or(0);
  double sharing[] = {device.is_cuda() && local_rank < cuda_device_count() ? 0.0 : 1.0};
  world->all_reduce_sum(sharing);
  if (sharing[0] > 0) return world;
  return dist::make_nccl_communicator(device);
}

}  // namespace t5zero
