// ZeRO's partition layout, as DeepSpeed lays it out: a parameter of `numel` elements, flattened,
// is split into s = ceil(numel / W) elements per rank, the last ranks' parts zero-padded; rank r
// holds elements [r·s, r·s + length) with length = clamp(numel − r·s, 0, s). The ZeRO store, the
// checkpoints and `t5zero consolidate` all use this one definition.
#pragma once

#include <algorithm>
#include <cstdint>

namespace t5zero::dist {

struct FlatPart {
  int64_t offset = 0;  // first element of the flattened parameter this rank holds
  int64_t numel = 0;   // how many it holds (0 for a rank past the end of a small parameter)
};

// Elements per rank, padding included.
inline int64_t zero_shard_size(int64_t numel, int64_t world) {
  return (numel + world - 1) / world;
}

inline FlatPart zero_flat_part(int64_t numel, int64_t rank, int64_t world) {
  const int64_t per_rank = zero_shard_size(numel, world);
  const int64_t offset = rank * per_rank;
  return {offset, std::clamp<int64_t>(numel - offset, 0, per_rank)};
}

}  // namespace t5zero::dist
