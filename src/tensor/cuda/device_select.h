// Which GPU this process uses: its node-local rank modulo the GPUs it sees, as DeepSpeed's
// launcher does with LOCAL_RANK. Declared without CUDA headers, so the trainer calls it in any
// build; without CUDA compiled in it throws.
#pragma once

namespace t5zero::cuda {

// Makes device (local rank mod device count) current for this thread and returns its index (the
// local rank is 0 without a launcher). Throws when no CUDA device is visible.
int select_device_for_local_rank();

}  // namespace t5zero::cuda
