// Philox-4x32-10 against the known-answer vectors published with Random123 (DEShawResearch
// random123, tests/kat_vectors, the "philox4x32 10" lines), and the element-to-word mapping that
// dropout relies on.
#include <doctest/doctest.h>

#include <cstdint>

#include "tensor/philox.h"

using namespace t5zero;

namespace {

struct KnownAnswer {
  Philox4 counter;
  uint32_t key0, key1;
  Philox4 expected;
};

constexpr KnownAnswer kVectors[] = {
    {{{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}},
     0x00000000u,
     0x00000000u,
     {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
    {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
     0xffffffffu,
     0xffffffffu,
     {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
    {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
     0xa4093822u,
     0x299f31d0u,
     {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
};

}  // namespace

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  for (const KnownAnswer& v : kVectors) {
    Philox4 out = philox4x32_10(v.counter, v.key0, v.key1);
    for (int w = 0; w < 4; ++w) {
      CAPTURE(w);
      CHECK(out.v[w] == v.expected.v[w]);
    }
  }
}

TEST_CASE("philox_uniform maps the top 24 bits of a word into [0, 1)") {
  CHECK(philox_uniform(0u) == 0.0f);
  CHECK(philox_uniform(0xffffffffu) == 16777215.0f / 16777216.0f);
  CHECK(philox_uniform(0x80000000u) == 0.5f);
  CHECK(philox_uniform(0x000000ffu) == 0.0f);  // the low 8 bits are discarded
}

TEST_CASE("philox_uniform_at reads word e % 4 of block e / 4, keyed by the seed's two halves") {
  const uint64_t seed = 0x0123456789abcdefull;
  const uint64_t block = 0x00000002fffffffeull;  // both counter words non-zero
  Philox4 counter{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}};
  Philox4 words = philox4x32_10(counter, 0x89abcdefu, 0x01234567u);
  for (uint64_t w = 0; w < 4; ++w) {
    CAPTURE(w);
    CHECK(philox_uniform_at(seed, block * 4 + w) == philox_uniform(words.v[w]));
  }
  // A different seed changes the stream.
  CHECK(philox_uniform_at(seed + 1, block * 4) != philox_uniform_at(seed, block * 4));
}
