// libFuzzer target for the safetensors reader (build: tools/fuzz/CMakeLists.txt, T5ZERO_FUZZ=ON
// with clang). Seed corpus: tests/fixtures/safetensors_corpus/.
#include <cstddef>
#include <cstdint>

#include "safetensors_fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    t5zero::fuzz::read_safetensors_input(data, size);
  } catch (const t5zero::Error&) {
    // A refused file is the expected outcome for most inputs.
  }
  return 0;
}
