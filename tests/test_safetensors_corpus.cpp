// Feeds every file of the committed corpus tests/fixtures/safetensors_corpus/ (made by
// tools/reference/make_safetensors_fixtures.py, also the fuzz target's seed corpus) to the fuzz
// entry: valid_* files must load completely, bad_* files must be refused with t5zero::Error.
#include <doctest/doctest.h>

#include <filesystem>

#include "../tools/fuzz/safetensors_fuzz_input.h"
#include "temp_folder.h"

using namespace t5zero;

TEST_CASE("the safetensors corpus: valid files load, malformed ones raise Error") {
  const std::filesystem::path corpus =
      std::filesystem::path(T5ZERO_SOURCE_DIR) / "tests/fixtures/safetensors_corpus";
  int valid = 0;
  int malformed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    const std::string name = entry.path().filename().string();
    const std::string bytes = t5zero::testing::read_file_bytes(entry.path().string());
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    CAPTURE(name);
    if (name.starts_with("valid_")) {
      CHECK_NOTHROW(fuzz::read_safetensors_input(data, bytes.size()));
      ++valid;
    } else if (name.starts_with("bad_")) {
      CHECK_THROWS_AS(fuzz::read_safetensors_input(data, bytes.size()), Error);
      ++malformed;
    } else {
      FAIL("corpus file without a valid_ or bad_ prefix: ", name);
    }
  }
  // The corpus as generated: an emptied folder must not pass.
  CHECK(valid == 8);
  CHECK(malformed == 34);
}

TEST_CASE("every prefix of a valid file is refused, never read past its end") {
  const std::string bytes = t5zero::testing::read_file_bytes(
      std::string(T5ZERO_SOURCE_DIR) +
      "/tests/fixtures/safetensors_corpus/valid_bf16_i32_u8_f64.safetensors");
  REQUIRE(bytes.size() > 100);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  CHECK_NOTHROW(fuzz::read_safetensors_input(data, bytes.size()));
  for (size_t size = 0; size < bytes.size(); ++size) {
    CAPTURE(size);
    CHECK_THROWS_AS(fuzz::read_safetensors_input(data, size), Error);
  }
}
