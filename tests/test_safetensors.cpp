// Safetensors reading and writing: values of a file written by the reference (safetensors.torch),
// our writer reproducing it byte for byte, round trips of every dtype, views and slices, every
// validation error on a crafted file, and atomic writes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "temp_folder.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;

namespace {

const std::string kFixtures = std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/safetensors/";

// A file image: little-endian header length, header text, data.
std::string craft(const std::string& header, const std::string& data,
                  std::optional<uint64_t> header_length = std::nullopt) {
  const uint64_t length = header_length.value_or(header.size());
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &length, 8);
  return bytes + header + data;
}

std::string f32_bytes(const std::vector<float>& values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// The message of the Error that opening `bytes` as a file named `name` raises ("" if none).
std::string open_error(TempFolder& folder, const std::string& name, const std::string& bytes) {
  write_file_bytes(folder.file(name), bytes);
  try {
    SafetensorsReader::open(folder.file(name));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::pair<std::string, Tensor>> reference_tensors() {
  return {
      {"a_f32", Tensor::from_vector<float>({-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}, {2, 3})},
      {"b_f64", Tensor::from_vector<double>({1.0 / 3.0, -2.5, 1e300, -0.0}, {4})},
      {"c_bf16", Tensor::from_vector<float>({1.0f, -2.0f, 0.15625f}, {3, 1}, DType::bf16)},
      {"d_i32", Tensor::from_vector<int32_t>({-7, 0, std::numeric_limits<int32_t>::max(),
                                              std::numeric_limits<int32_t>::min()},
                                             {2, 2})},
      {"e_i64", Tensor::from_vector<int64_t>({-(int64_t{1} << 40) - 3}, {})},
      {"f_u8", Tensor::from_vector<uint8_t>({0, 1, 127, 128, 255}, {5})},
      {"g_empty", Tensor::zeros({0, 4})},
  };
}

void check_same_bits(const Tensor& a, const Tensor& b) {
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.shape() == b.shape());
  const Tensor ca = a.contiguous();
  const Tensor cb = b.contiguous();
  const size_t nbytes = static_cast<size_t>(a.numel()) * dtype_size(a.dtype());
  if (nbytes > 0) CHECK(std::memcmp(ca.data_ptr(), cb.data_ptr(), nbytes) == 0);
}

}  // namespace

TEST_CASE("reads every dtype of a file written by safetensors.torch") {
  const SafetensorsReader reader =
      SafetensorsReader::open(kFixtures + "torch_all_dtypes.safetensors");
  CHECK(reader.metadata() == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(reader.header_length() % 8 == 0);
  CHECK(reader.tensors().size() == 7);
  for (const auto& named : reference_tensors()) {
    const std::string& name = named.first;
    CAPTURE(name);
    check_same_bits(reader.load(name), named.second);
  }
  CHECK(reader.load("b_f64").to_vector<double>()[2] == 1e300);
  CHECK(std::signbit(reader.load("b_f64").to_vector<double>()[3]));
  CHECK(reader.load("e_i64").item() == static_cast<double>(-(int64_t{1} << 40) - 3));
  CHECK(reader.info("a_f32").dtype == "F32");
  CHECK(reader.info("c_bf16").shape == Shape{3, 1});
}

TEST_CASE("the writer reproduces safetensors.torch's file byte for byte") {
  TempFolder folder("safetensors_bytes");
  // Declared in an order the writer must sort (dtype rank, then name), as the reference does.
  std::vector<std::pair<std::string, Tensor>> tensors = reference_tensors();
  std::reverse(tensors.begin(), tensors.end());
  save_safetensors(folder.file("ours.safetensors"), tensors);
  const std::string ours = read_file_bytes(folder.file("ours.safetensors"));
  const std::string reference = read_file_bytes(kFixtures + "torch_all_dtypes.safetensors");
  CHECK(ours.size() == reference.size());
  CHECK(ours == reference);
}

TEST_CASE("F16 tensors load as f32, exactly") {
  const SafetensorsReader reader = SafetensorsReader::open(kFixtures + "torch_f16.safetensors");
  CHECK(reader.info("h").dtype == "F16");
  const Tensor h = reader.load("h");
  CHECK(h.dtype() == DType::f32);
  const std::vector<float> v = h.to_vector<float>();
  REQUIRE(v.size() == 8);
  CHECK(v[0] == 1.0f);
  CHECK(v[1] == -2.5f);
  CHECK(v[2] == 0.0999755859375f);       // nearest half to 0.1
  CHECK(v[3] == std::ldexp(1.0f, -24));  // smallest subnormal half
  CHECK((v[4] == 0.0f && std::signbit(v[4])));
  CHECK(v[5] == std::numeric_limits<float>::infinity());
  CHECK(v[6] == -std::numeric_limits<float>::infinity());
  CHECK(v[7] == 65504.0f);
  const std::vector<float> slice = reader.load_flat_range("h", 5, 3).to_vector<float>();
  CHECK(slice == std::vector<float>(v.begin() + 5, v.end()));
}

TEST_CASE("round trip of every dtype, views and copies") {
  TempFolder folder("safetensors_round_trip");
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<float> f32;
  for (int i = 0; i < 24; ++i) f32.push_back(std::sin(0.7f * i) * 1000.0f);
  tensors.emplace_back("w.f32", Tensor::from_vector(f32, {2, 3, 4}));
  tensors.emplace_back("w.bf16", Tensor::from_vector(f32, {4, 6}, DType::bf16));
  tensors.emplace_back("w.f64", Tensor::from_vector(std::vector<double>{1e-310, -3.25, 7.0}, {3}));
  tensors.emplace_back("ids.i32", Tensor::from_vector(std::vector<int32_t>{5, -6, 7}, {3}));
  tensors.emplace_back("ids.i64", Tensor::from_vector(std::vector<int64_t>{int64_t{1} << 62}, {1}));
  tensors.emplace_back("mask.u8", Tensor::from_vector(std::vector<uint8_t>{1, 0, 1, 1}, {2, 2}));
  tensors.emplace_back("scalar", Tensor::from_vector(std::vector<float>{2.5f}, {}));
  tensors.emplace_back("empty", Tensor::zeros({3, 0}, DType::bf16));
  // A transposed (non-contiguous) tensor is written in logical order.
  tensors.emplace_back("transposed", Tensor::from_vector(f32, {4, 6}).transpose(0, 1));
  const std::string path = folder.file("model.safetensors");
  save_safetensors(path, tensors, {{"format", "pt"}, {"note", "round trip"}});

  const SafetensorsReader reader = SafetensorsReader::open(path);
  CHECK(reader.metadata().at("note") == "round trip");
  for (const auto& named : tensors) {
    const std::string& name = named.first;
    CAPTURE(name);
    check_same_bits(reader.load(name, TensorLoad::view), named.second.contiguous());
    check_same_bits(reader.load(name, TensorLoad::copy), named.second.contiguous());
  }
  // Written by us, so padded: every view is aligned for its dtype.
  for (const SafetensorsTensorInfo& info : reader.tensors()) {
    CHECK(reinterpret_cast<uintptr_t>(reader.load(info.name).data_ptr()) % info.itemsize == 0);
  }
  const Tensor view = reader.load("w.f32", TensorLoad::view);
  const Tensor copy = reader.load("w.f32", TensorLoad::copy);
  // Writing into a view changes later views of this reader, never the file.
  view.data<float>()[0] = 42.0f;
  CHECK(reader.load("w.f32").to_vector<float>()[0] == 42.0f);
  CHECK(copy.to_vector<float>()[0] == f32[0]);
  CHECK(SafetensorsReader::open(path).load("w.f32").to_vector<float>()[0] == f32[0]);
}

TEST_CASE("a flat range of one tensor reads only those elements") {
  TempFolder folder("safetensors_slice");
  std::vector<float> values(1000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f;
  const std::string path = folder.file("w.safetensors");
  save_safetensors(path, {{"big", Tensor::from_vector(values, {10, 100})},
                          {"ids", Tensor::from_vector(std::vector<int64_t>{9, 8, 7, 6}, {4})}});
  const SafetensorsReader reader = SafetensorsReader::open(path);

  const Tensor part = reader.load_flat_range("big", 250, 334);
  CHECK(part.shape() == Shape{334});
  const std::vector<float> got = part.to_vector<float>();
  CHECK(got == std::vector<float>(values.begin() + 250, values.begin() + 584));
  CHECK(reader.load_flat_range("ids", 1, 2, TensorLoad::copy).to_vector<int64_t>() ==
        std::vector<int64_t>{8, 7});
  CHECK(reader.load_flat_range("big", 1000, 0).numel() == 0);
  // The ZeRO-3 partitions of a flattened tensor, concatenated, are the tensor.
  std::vector<float> joined;
  for (int rank = 0; rank < 3; ++rank) {
    const int64_t per_rank = (1000 + 2) / 3;
    const int64_t begin = rank * per_rank;
    const int64_t count = std::min<int64_t>(per_rank, 1000 - begin);
    const std::vector<float> shard = reader.load_flat_range("big", begin, count).to_vector<float>();
    joined.insert(joined.end(), shard.begin(), shard.end());
  }
  CHECK(joined == values);

  CHECK_THROWS_WITH_AS(
      reader.load_flat_range("big", 990, 11),
      doctest::Contains("tensor 'big': element range [990, 1001) is outside its 1000 elements"),
      Error);
  CHECK_THROWS_AS(reader.load_flat_range("big", -1, 2), Error);
  CHECK_THROWS_WITH_AS(reader.load("nope"), doctest::Contains("tensor 'nope': not in the file"),
                       Error);
}

TEST_CASE("unpadded headers leave data unaligned: loads copy") {
  TempFolder folder("safetensors_unaligned");
  // 47-byte header: data starts at offset 55, not aligned for f32.
  const std::string header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  REQUIRE(header.size() % 4 != 0);
  write_file_bytes(folder.file("u.safetensors"), craft(header, f32_bytes({1.5f, -2.0f, 3.25f})));
  const SafetensorsReader reader = SafetensorsReader::open(folder.file("u.safetensors"));
  const Tensor x = reader.load("x", TensorLoad::view);
  CHECK(reinterpret_cast<uintptr_t>(x.data_ptr()) % 4 == 0);
  CHECK(x.to_vector<float>() == std::vector<float>{1.5f, -2.0f, 3.25f});
  CHECK(reader.load_flat_range("x", 1, 2).to_vector<float>() == std::vector<float>{-2.0f, 3.25f});
}

TEST_CASE("every validation error names the file and the tensor") {
  TempFolder folder("safetensors_errors");
  const std::string two =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  const std::string data = f32_bytes({1, 2, 3, 4});
  REQUIRE(open_error(folder, "good.safetensors", craft(two, data)).empty());

  std::string e = open_error(folder, "short.safetensors", std::string("\x05\x00\x00", 3));
  CHECK(contains(e, "short.safetensors: truncated: 3 bytes"));
  e = open_error(folder, "trunc.safetensors", craft(two, data.substr(0, 13)));
  CHECK(contains(e,
                 "trunc.safetensors: truncated: the tensors need 16 bytes of data after the "
                 "header, but the file holds 13"));
  e = open_error(folder, "huge.safetensors",
                 craft(two, data, std::numeric_limits<uint64_t>::max()));
  CHECK(contains(e,
                 "huge.safetensors: header length 18446744073709551615 exceeds the format's limit "
                 "of 100000000"));
  e = open_error(folder, "limit.safetensors", craft(two, data, 100'000'001));
  CHECK(contains(e, "limit.safetensors: header length 100000001 exceeds the format's limit"));
  e = open_error(folder, "past.safetensors", craft(two, data, two.size() + data.size() + 1));
  CHECK(contains(e, "past.safetensors: header length " +
                        std::to_string(two.size() + data.size() + 1) + " exceeds the " +
                        std::to_string(two.size() + data.size()) + " bytes that follow it"));
  e = open_error(folder, "json.safetensors", craft("{\"a\": [1, 2", ""));
  CHECK(contains(e, "json.safetensors: header: not valid JSON"));
  e = open_error(folder, "array.safetensors", craft("[1, 2]", ""));
  CHECK(contains(e, "array.safetensors: header: expected a JSON object, got array"));
  e = open_error(folder, "start.safetensors",
                 craft(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data));
  CHECK(contains(e,
                 "start.safetensors: tensor 'w': data_offsets [8, 16] leave a gap of 8 bytes after "
                 "the start of the data"));
  e = open_error(
      folder, "gap.safetensors",
      craft(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
          data));
  CHECK(contains(e,
                 "gap.safetensors: tensor 'b': data_offsets [12, 16] leave a gap of 4 bytes after "
                 "tensor 'a'"));
  e = open_error(
      folder, "overlap.safetensors",
      craft(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          data.substr(0, 12)));
  CHECK(contains(
      e, "overlap.safetensors: tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"));
  e = open_error(
      folder, "reversed.safetensors",
      craft(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data.substr(0, 8)));
  CHECK(contains(e,
                 "reversed.safetensors: tensor 'a': key 'data_offsets': expected 0 <= begin <= "
                 "end, got [8, 0]"));
  e = open_error(
      folder, "dtype.safetensors",
      craft(R"({"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", data.substr(0, 8)));
  CHECK(contains(e, "dtype.safetensors: tensor 'a': unknown dtype 'F17'"));
  e = open_error(folder, "dtype_type.safetensors",
                 craft(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", data.substr(0, 8)));
  CHECK(contains(
      e, "dtype_type.safetensors: tensor 'a': key 'dtype': expected a string, got integer 4"));
  e = open_error(
      folder, "size.safetensors",
      craft(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data.substr(0, 8)));
  CHECK(contains(e,
                 "size.safetensors: tensor 'a': shape [3] of F32 needs 3 × 4 = 12 bytes, but "
                 "data_offsets [0, 8] span 8"));
  e = open_error(
      folder, "negative.safetensors",
      craft(R"({"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}})", data.substr(0, 8)));
  CHECK(contains(e,
                 "negative.safetensors: tensor 'a': key 'shape[1]': expected a size >= 0, got -1"));
  e = open_error(
      folder, "overflow.safetensors",
      craft(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
            data.substr(0, 8)));
  CHECK(contains(
      e,
      "overflow.safetensors: tensor 'a': shape [4611686018427387904, 4]... has too many elements"));
  e = open_error(
      folder, "dup.safetensors",
      craft(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
          data));
  CHECK(contains(e, "dup.safetensors: header: key 'a': appears twice"));
  e = open_error(folder, "trailing.safetensors", craft(two, data + "xyz"));
  CHECK(contains(e, "trailing.safetensors: 3 bytes after the last tensor's data"));
  e = open_error(folder, "missing.safetensors",
                 craft(R"({"a":{"dtype":"F32","shape":[2]}})", data.substr(0, 8)));
  CHECK(contains(e, "missing.safetensors: tensor 'a': missing key 'data_offsets'"));
  e = open_error(folder, "entry.safetensors", craft(R"({"a":[0,8]})", data.substr(0, 8)));
  CHECK(contains(e,
                 "entry.safetensors: tensor 'a': expected an object with dtype, shape and "
                 "data_offsets, got array"));
  CHECK(contains(open_error(folder, "empty.safetensors", ""),
                 "empty.safetensors: truncated: 0 bytes"));
}

TEST_CASE("__metadata__ is a string map, not a tensor") {
  TempFolder folder("safetensors_metadata");
  const std::string tensor = R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]})";
  write_file_bytes(
      folder.file("m.safetensors"),
      craft(R"({"__metadata__":{"format":"pt","source":"test"},)" + tensor + "}", "\x01\x02"));
  const SafetensorsReader reader = SafetensorsReader::open(folder.file("m.safetensors"));
  CHECK(reader.tensors().size() == 1);
  CHECK_FALSE(reader.contains("__metadata__"));
  CHECK(reader.metadata() ==
        std::map<std::string, std::string>{{"format", "pt"}, {"source", "test"}});
  CHECK(reader.load("a").to_vector<uint8_t>() == std::vector<uint8_t>{1, 2});

  std::string e = open_error(folder, "m1.safetensors",
                             craft(R"({"__metadata__":{"format":1},)" + tensor + "}", "\x01\x02"));
  CHECK(contains(
      e, "m1.safetensors: header: key '__metadata__.format': expected a string, got integer 1"));
  e = open_error(folder, "m2.safetensors",
                 craft(R"({"__metadata__":"pt",)" + tensor + "}", "\x01\x02"));
  CHECK(contains(
      e, "m2.safetensors: header: key '__metadata__': expected an object, got string \"pt\""));
  // Files without metadata are valid (older writers).
  write_file_bytes(folder.file("m3.safetensors"), craft("{" + tensor + "}", "\x01\x02"));
  CHECK(SafetensorsReader::open(folder.file("m3.safetensors")).metadata().empty());
}

TEST_CASE("dtypes t5zero cannot load are refused when loaded, by name") {
  TempFolder folder("safetensors_i8");
  write_file_bytes(folder.file("i8.safetensors"),
                   craft(R"({"q":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}})", "\x01\x02"));
  const SafetensorsReader reader = SafetensorsReader::open(folder.file("i8.safetensors"));
  CHECK(reader.info("q").itemsize == 1);
  CHECK_THROWS_WITH_AS(reader.load("q"),
                       doctest::Contains("i8.safetensors: tensor 'q': dtype I8 cannot be loaded"),
                       Error);
}

TEST_CASE("the writer pads the header with spaces and orders tensors as the reference") {
  TempFolder folder("safetensors_layout");
  const std::string path = folder.file("w.safetensors");
  save_safetensors(path, {{"z.u8", Tensor::zeros({3}, DType::u8)},
                          {"b.f32", Tensor::zeros({1}, DType::f32)},
                          {"a.bf16", Tensor::zeros({1}, DType::bf16)},
                          {"c.i64", Tensor::zeros({1}, DType::i64)},
                          {"d.f64", Tensor::zeros({1}, DType::f64)},
                          {"e.i32", Tensor::zeros({1}, DType::i32)}});
  const std::string bytes = read_file_bytes(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  CHECK(length % 8 == 0);
  const std::string header = bytes.substr(8, length);
  CHECK(header.substr(0, 31) == R"({"__metadata__":{"format":"pt"})");
  const size_t end = header.find_last_not_of(' ');
  CHECK(header[end] == '}');
  CHECK(length - end - 1 < 8);
  std::vector<std::string> order;
  const SafetensorsReader reader = SafetensorsReader::open(path);
  for (const SafetensorsTensorInfo& info : reader.tensors()) {
    order.push_back(info.name);
  }
  CHECK(order == std::vector<std::string>{"c.i64", "d.f64", "b.f32", "e.i32", "a.bf16", "z.u8"});
  CHECK(bytes.size() == 8 + length + 8 + 8 + 4 + 4 + 2 + 3);
}

TEST_CASE("the writer converts to the declared dtype and checks shapes") {
  TempFolder folder("safetensors_convert");
  const std::string path = folder.file("c.safetensors");
  SafetensorsWriter writer(path, {{"w", DType::bf16, {2}}});
  CHECK_THROWS_WITH_AS(writer.write("w", Tensor::zeros({3})),
                       doctest::Contains("tensor 'w': declared shape [2], got [3]"), Error);
  CHECK_THROWS_WITH_AS(writer.write("v", Tensor::zeros({2})),
                       doctest::Contains("tensor 'v' was not declared"), Error);
  writer.write("w", Tensor::from_vector(std::vector<double>{1.0 / 3.0, 2.0}, {2}));
  CHECK_THROWS_WITH_AS(writer.write("w", Tensor::zeros({2})), doctest::Contains("written twice"),
                       Error);
  writer.commit();
  const Tensor w = SafetensorsReader::open(path).load("w");
  CHECK(w.dtype() == DType::bf16);
  CHECK(w.to_vector<float>() == std::vector<float>{round_to_bf16(1.0f / 3.0f), 2.0f});
  CHECK_THROWS_WITH_AS(SafetensorsWriter(folder.file("d.safetensors"),
                                         {{"x", DType::f32, {1}}, {"x", DType::f32, {1}}}),
                       doctest::Contains("tensor 'x' declared twice"), Error);
  CHECK_THROWS_WITH_AS(
      SafetensorsWriter(folder.file("r.safetensors"), {{"__metadata__", DType::f32, {1}}}),
      doctest::Contains("'__metadata__' is reserved"), Error);
  CHECK(folder.entries() == std::vector<std::string>{"c.safetensors"});
}

TEST_CASE("a failed write leaves no partial file and keeps the old one") {
  TempFolder folder("safetensors_atomic");
  const std::string path = folder.file("model.safetensors");
  save_safetensors(path, {{"old", Tensor::ones({4})}});
  const std::string old_bytes = read_file_bytes(path);

  {  // Abandoned half-way, as when an exception unwinds through the writer.
    SafetensorsWriter writer(path, {{"a", DType::f32, {1000}}, {"b", DType::f32, {1000}}});
    writer.write("a", Tensor::ones({1000}));
    CHECK(folder.entries().size() == 2);  // the old file and the temporary
  }
  CHECK(folder.entries() == std::vector<std::string>{"model.safetensors"});
  CHECK(read_file_bytes(path) == old_bytes);

  {
    SafetensorsWriter writer(path, {{"a", DType::f32, {2}}, {"b", DType::f32, {2}}});
    writer.write("b", Tensor::ones({2}));
    CHECK_THROWS_WITH_AS(writer.commit(),
                         doctest::Contains("tensor 'a' was declared but never written"), Error);
  }
  CHECK(folder.entries() == std::vector<std::string>{"model.safetensors"});
  CHECK(read_file_bytes(path) == old_bytes);

  CHECK_THROWS_AS(save_safetensors(folder.file("new.safetensors"),
                                   {{"a", Tensor::ones({2})}, {"bad", Tensor()}}),
                  Error);
  CHECK(folder.entries() == std::vector<std::string>{"model.safetensors"});

  CHECK_THROWS_WITH_AS(
      save_safetensors(folder.file("no/such/folder/x.safetensors"), {{"a", Tensor::ones({1})}}),
      doctest::Contains("cannot create"), Error);
}
