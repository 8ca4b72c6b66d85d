// Safetensors reading: a file is mapped, its header validated in full before any tensor is
// touched (the checks of huggingface/safetensors tensor.rs, and a few more), and tensors are
// handed out as views of the mapping or copies. A flat element range of one tensor can be read
// alone, so a ZeRO-3 rank touches only the pages of its own partition.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace t5zero {

// The header's limit in huggingface/safetensors (MAX_HEADER_SIZE).
constexpr uint64_t kSafetensorsMaxHeaderLength = 100'000'000;

// Bytes per element of a safetensors dtype string ("F32" → 4); nullopt for strings t5zero does
// not know (whole-byte dtypes only).
std::optional<size_t> safetensors_dtype_size(std::string_view dtype);
// The safetensors spelling of a t5zero dtype (DType::bf16 → "BF16").
const char* safetensors_dtype_name(DType dtype);

struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype;  // as in the file: "F32", "BF16", "F16", ...
  size_t itemsize = 0;
  Shape shape;
  uint64_t begin = 0;  // byte range [begin, end) within the data buffer
  uint64_t end = 0;
  int64_t numel() const { return shape_numel(shape); }
};

struct SafetensorsLayout {
  uint64_t header_length = 0;
  uint64_t data_start = 0;                      // file offset of the data buffer: 8 + header_length
  std::vector<SafetensorsTensorInfo> tensors;   // sorted by data offset
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Validates the header and sizes of a whole safetensors file image (the tensor bytes are not
// read): header length within the limit and the file; JSON well-formed, an object, no repeated
// names; known dtypes; shape × itemsize = byte span; offsets contiguous from 0, no gaps or
// overlaps; 8 + header length + last end = file size. Errors name `source` and the tensor.
SafetensorsLayout parse_safetensors_layout(const uint8_t* data, size_t size,
                                           const std::string& source);

// How load() returns a tensor: a view shares the file's memory (no copy; writes to it stay in
// this process and are seen by later views of the same tensor), a copy owns fresh memory.
enum class TensorLoad { view, copy };

class SafetensorsReader {
 public:
  // Maps and validates `path`.
  static SafetensorsReader open(const std::string& path);
  // Validates an in-memory image (tests, the fuzz target); `source` names it in errors.
  static SafetensorsReader from_bytes(std::vector<uint8_t> bytes, std::string source);

  const std::string& source() const { return source_; }
  const std::vector<SafetensorsTensorInfo>& tensors() const { return layout_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return layout_.metadata; }
  uint64_t header_length() const { return layout_.header_length; }
  bool contains(const std::string& name) const { return by_name_.count(name) > 0; }
  // Error naming the file and the tensor when absent.
  const SafetensorsTensorInfo& info(const std::string& name) const;

  // The whole tensor. F32/F64/BF16/I32/I64/U8 load as themselves — a view when `mode` is view
  // and the bytes are aligned for the dtype (the format does not promise alignment), else a
  // copy; F16 is converted to a new f32 tensor (t5zero does not compute in fp16: T5 overflows
  // there, DESIGN §3) with a note on stderr; other dtypes are an error naming the tensor.
  Tensor load(const std::string& name, TensorLoad mode = TensorLoad::view) const;
  // Elements [begin, begin + count) of the flattened tensor, as a 1-D tensor; only those bytes
  // are read. Same dtype rules as load().
  Tensor load_flat_range(const std::string& name, int64_t begin, int64_t count,
                         TensorLoad mode = TensorLoad::view) const;

 private:
  SafetensorsReader(std::shared_ptr<void> owner, uint8_t* data, size_t size, std::string source);
  Tensor load_bytes(const SafetensorsTensorInfo& info, uint64_t byte_offset, const Shape& shape,
                    TensorLoad mode) const;

  std::shared_ptr<void> owner_;  // keeps `data_` alive: the mapping or the byte vector
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string source_;
  SafetensorsLayout layout_;
  std::unordered_map<std::string, size_t> by_name_;
  std::shared_ptr<std::atomic<bool>> f16_noted_;  // one note per file, shared by copies
};

}  // namespace t5zero
