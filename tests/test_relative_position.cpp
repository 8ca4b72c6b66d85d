// T5 relative position buckets against the tables of HF's _relative_position_bucket (FLAN-T5: 32
// buckets, max distance 128) and a fixture generated with transformers itself
// (tools/reference/make_relative_position_fixture.py).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/relative_position.h"

using namespace t5zero;

namespace {

// Distances [first, last] that share one bucket.
struct Range {
  int64_t first, last;
  int bucket;
};

int bidirectional(int64_t rel) {
  return relative_position_bucket(rel, true, 32, 128);
}
int causal(int64_t rel) {
  return relative_position_bucket(rel, false, 32, 128);
}

// Checks every distance of every range, so each boundary is checked from both sides.
template <typename Bucket>
void check_ranges(const std::vector<Range>& ranges, Bucket&& bucket_of_distance) {
  for (const Range& r : ranges) {
    for (int64_t n = r.first; n <= r.last; ++n) {
      CAPTURE(n);
      CHECK(bucket_of_distance(n) == r.bucket);
    }
  }
}

}  // namespace

TEST_CASE("bidirectional, key before the query: the log buckets start at 8, last bucket 15") {
  // n = query - key, rel = -n.
  std::vector<Range> ranges = {{8, 11, 8},   {12, 15, 9},  {16, 22, 10}, {23, 31, 11},
                               {32, 45, 12}, {46, 63, 13}, {64, 90, 14}, {91, 1000, 15}};
  for (int n = 0; n < 8; ++n) ranges.push_back({n, n, n});
  check_ranges(ranges, [](int64_t n) { return bidirectional(-n); });
}

TEST_CASE("bidirectional, key after the query: offset by 16, but n = 0 stays in bucket 0") {
  std::vector<Range> ranges = {{0, 0, 0},    {8, 11, 24},  {12, 15, 25},
                               {16, 22, 26}, {23, 31, 27}, {32, 45, 28},
                               {46, 63, 29}, {64, 90, 30}, {91, 1000, 31}};
  for (int n = 1; n < 8; ++n) ranges.push_back({n, n, 16 + n});
  check_ranges(ranges, [](int64_t n) { return bidirectional(n); });
}

TEST_CASE("the exact-integer distances 16, 32, 64 land in the upper bucket") {
  // log(n/8)/log(16)·8 is exactly 2, 4, 6 here; an ulp low would truncate one bucket down.
  CHECK(bidirectional(-16) == 10);
  CHECK(bidirectional(-32) == 12);
  CHECK(bidirectional(-64) == 14);
  CHECK(bidirectional(16) == 26);
  CHECK(bidirectional(32) == 28);
  CHECK(bidirectional(64) == 30);
}

TEST_CASE("causal: future keys share bucket 0, 16 exact buckets, last bucket 31") {
  std::vector<Range> ranges = {{16, 18, 16}, {19, 20, 17}, {21, 23, 18},  {24, 26, 19},
                               {27, 30, 20}, {31, 34, 21}, {35, 39, 22},  {40, 45, 23},
                               {46, 51, 24}, {52, 58, 25}, {59, 66, 26},  {67, 76, 27},
                               {77, 86, 28}, {87, 98, 29}, {99, 112, 30}, {113, 1000, 31}};
  for (int n = 0; n < 16; ++n) ranges.push_back({n, n, n});
  check_ranges(ranges, [](int64_t n) { return causal(-n); });
  for (int64_t rel = 1; rel <= 300; ++rel) {
    CAPTURE(rel);
    CHECK(causal(rel) == 0);
  }
}

TEST_CASE("every bucket for |rel| <= 300 equals transformers' (fixture)") {
  const std::string path =
      std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/relative_position/buckets.txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    int num_buckets = 0, max_distance = 0, bidir = 0, expected = 0;
    int64_t rel = 0;
    REQUIRE((fields >> num_buckets >> max_distance >> bidir >> rel >> expected));
    CAPTURE(line);
    CHECK(relative_position_bucket(rel, bidir != 0, num_buckets, max_distance) == expected);
    ++checked;
  }
  CHECK(checked == 2 * 2 * 601);  // two configurations, both directions, rel in [-300, 300]
}

TEST_CASE("relative_position_buckets: [q, k] table of key - (offset + query)") {
  Tensor table = relative_position_buckets(5, 7, true, 32, 128);
  REQUIRE(table.dtype() == DType::i64);
  REQUIRE(table.shape() == Shape{5, 7});
  for (int64_t q = 0; q < 5; ++q) {
    for (int64_t k = 0; k < 7; ++k) {
      CHECK(table.at({q, k}) == bidirectional(k - q));
    }
  }
  // Incremental decoding: the query at absolute position 139 against keys 0..139 is the last row
  // of the full 140 x 140 causal table.
  Tensor full = relative_position_buckets(140, 140, false, 32, 128);
  Tensor step = relative_position_buckets(1, 140, false, 32, 128, 139);
  REQUIRE(step.shape() == Shape{1, 140});
  for (int64_t k = 0; k < 140; ++k) {
    CAPTURE(k);
    CHECK(step.at({0, k}) == full.at({139, k}));
    CHECK(step.at({0, k}) == causal(k - 139));
  }
  CHECK(relative_position_buckets(0, 4, true, 32, 128).shape() == Shape{0, 4});
}

TEST_CASE("configurations without exact buckets are refused") {
  CHECK_THROWS_WITH(relative_position_bucket(3, true, 2, 128),
                    doctest::Contains("num_buckets = 2 leaves no exact buckets"));
  CHECK_THROWS_WITH(relative_position_bucket(3, false, 32, 16),
                    doctest::Contains("max_distance = 16 must exceed the exact range 16"));
  CHECK_THROWS_WITH(relative_position_buckets(-1, 3, true, 32, 128),
                    doctest::Contains("query_length -1"));
}
