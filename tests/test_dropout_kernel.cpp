// The CPU dropout kernel draws Philox blocks 64 at a time, in chunks aligned to global elements
// and split across threads: every element's keep flag must still be philox_uniform_at(seed,
// offset + i) >= p, for offsets inside a block and a chunk, and lengths that end mid-chunk.
#include <doctest/doctest.h>
#include <omp.h>

#include <cstdint>
#include <vector>

#include "tensor/ops.h"
#include "tensor/philox.h"

using namespace t5zero;

TEST_CASE("every keep flag is the Philox uniform of its global element, on 1 and 3 threads") {
  const int saved = omp_get_max_threads();
  const uint64_t seed = 0x0123456789abcdefull;
  // 70001 elements: above the parallel grain; offsets at, just after and inside chunk edges, and
  // past 2^32 (the block counter's high word).
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{257}, uint64_t{1000003},
                          (uint64_t{1} << 34) + 6}) {
    for (int threads : {1, 3}) {
      CAPTURE(offset);
      CAPTURE(threads);
      omp_set_num_threads(threads);
      const double p = 0.3;
      const int64_t n = 70001;
      const std::vector<uint8_t> mask =
          ops::dropout_mask({n}, p, seed, offset).to_vector<uint8_t>();
      const std::vector<float> dropped =
          ops::dropout(Tensor::ones({n}, DType::f32), p, seed, offset).to_vector<float>();
      int64_t wrong_mask = 0, wrong_value = 0;
      const float kept = static_cast<float>(1.0 / (1.0 - p));
      for (int64_t i = 0; i < n; ++i) {
        const bool keep = !(philox_uniform_at(seed, offset + static_cast<uint64_t>(i)) < p);
        wrong_mask += mask[i] != (keep ? 1 : 0);
        wrong_value += dropped[i] != (keep ? kept : 0.0f);
      }
      CHECK(wrong_mask == 0);
      CHECK(wrong_value == 0);
    }
  }
  omp_set_num_threads(saved);
}
