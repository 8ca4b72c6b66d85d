// Hashes that are the same on every machine, run and rank: they key random streams (dropout
// masks, initial weights) by names instead of by call order.
#pragma once

#include <cstdint>
#include <string_view>

namespace t5zero::models {

// 64-bit FNV-1a of a name.
inline uint64_t stable_hash(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// SplitMix64's finaliser: nearby inputs (steps 1, 2, 3) give unrelated outputs.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace t5zero::models
