#include "io/safetensors_reader.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>

#include "io/json.h"
#include "io/mapped_file.h"

namespace t5zero {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; t5zero reads it in place");

namespace {

struct DTypeEntry {
  const char* name;
  size_t size;
};

// Whole-byte dtypes of the format (huggingface/safetensors Dtype); sub-byte F4/F6 are refused.
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"C64", 8}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};

std::optional<DType> loadable_dtype(std::string_view name) {
  if (name == "F32") return DType::f32;
  if (name == "F64") return DType::f64;
  if (name == "BF16") return DType::bf16;
  if (name == "I32") return DType::i32;
  if (name == "I64") return DType::i64;
  if (name == "U8") return DType::u8;
  return std::nullopt;
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// IEEE binary16 → binary32, exact (every half is a float).
float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {  // inf / NaN
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::string tensor_label(const std::string& source, const std::string& name) {
  return source + ": tensor '" + name + "'";
}

SafetensorsTensorInfo parse_tensor_entry(const std::string& name, const JsonValue& entry,
                                         const std::string& source) {
  const std::string label = tensor_label(source, name);
  const JsonValue fields = entry.relabeled(label);
  if (!fields.is_object()) {
    fields.fail_here("expected an object with dtype, shape and data_offsets, got ",
                     fields.type_name());
  }
  SafetensorsTensorInfo info;
  info.name = name;
  info.dtype = fields.get_string("dtype");
  const std::optional<size_t> itemsize = safetensors_dtype_size(info.dtype);
  if (!itemsize) fail(label, ": unknown dtype '", info.dtype, "'");
  info.itemsize = *itemsize;

  // Multiplied in order with overflow checks, as tensor.rs does: [2^62, 8, 0] is refused too.
  uint64_t numel = 1;
  for (const JsonValue& dim : fields.at("shape").as_array()) {
    const int64_t size = dim.as_int();
    if (size < 0) dim.fail_here("expected a size >= 0, got ", size);
    info.shape.push_back(size);
    const auto factor = static_cast<uint64_t>(size);
    if (factor != 0 &&
        numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / factor) {
      fail(label, ": shape ", shape_str(info.shape), "... has too many elements");
    }
    numel *= factor;
  }
  if (numel > std::numeric_limits<uint64_t>::max() / info.itemsize) {
    fail(label, ": shape ", shape_str(info.shape), " has too many bytes");
  }

  const JsonValue offsets = fields.at("data_offsets");
  const std::vector<JsonValue> bounds = offsets.as_array();
  if (bounds.size() != 2) {
    offsets.fail_here("expected [begin, end], got ", bounds.size(), " numbers");
  }
  const int64_t begin = bounds[0].as_int();
  const int64_t end = bounds[1].as_int();
  if (begin < 0 || end < begin) {
    offsets.fail_here("expected 0 <= begin <= end, got [", begin, ", ", end, "]");
  }
  info.begin = static_cast<uint64_t>(begin);
  info.end = static_cast<uint64_t>(end);
  const uint64_t nbytes = numel * info.itemsize;
  if (info.end - info.begin != nbytes) {
    fail(label, ": shape ", shape_str(info.shape), " of ", info.dtype, " needs ", numel, " × ",
         info.itemsize, " = ", nbytes, " bytes, but data_offsets [", info.begin, ", ", info.end,
         "] span ", info.end - info.begin);
  }
  return info;
}

std::map<std::string, std::string> parse_metadata(const JsonValue& value) {
  std::map<std::string, std::string> metadata;
  for (const auto& [key, text] : value.as_object()) metadata[key] = text.as_string();
  return metadata;
}

}  // namespace

std::optional<size_t> safetensors_dtype_size(std::string_view dtype) {
  for (const DTypeEntry& entry : kDTypes) {
    if (dtype == entry.name) return entry.size;
  }
  return std::nullopt;
}

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::bf16:
      return "BF16";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::u8:
      return "U8";
  }
  fail("safetensors: no name for dtype ", static_cast<int>(dtype));
}

SafetensorsLayout parse_safetensors_layout(const uint8_t* data, size_t size,
                                           const std::string& source) {
  if (size < 8) {
    fail(source, ": truncated: ", size,
         " bytes, but a safetensors file begins with an 8-byte header length");
  }
  SafetensorsLayout layout;
  layout.header_length = read_le64(data);
  if (layout.header_length > kSafetensorsMaxHeaderLength) {
    fail(source, ": header length ", layout.header_length, " exceeds the format's limit of ",
         kSafetensorsMaxHeaderLength, " bytes (not a safetensors file?)");
  }
  if (layout.header_length > size - 8) {
    fail(source, ": header length ", layout.header_length, " exceeds the ", size - 8,
         " bytes that follow it (truncated file?)");
  }
  layout.data_start = 8 + layout.header_length;

  const std::string_view header_text(reinterpret_cast<const char*>(data + 8), layout.header_length);
  const JsonValue header = JsonValue::parse_text(header_text, source + ": header");
  if (!header.is_object()) header.fail_here("expected a JSON object, got ", header.type_name());
  for (const auto& [name, entry] : header.as_object()) {
    if (name == "__metadata__") {
      layout.metadata = parse_metadata(entry);
    } else {
      layout.tensors.push_back(parse_tensor_entry(name, entry, source));
    }
  }

  std::sort(layout.tensors.begin(), layout.tensors.end(),
            [](const SafetensorsTensorInfo& a, const SafetensorsTensorInfo& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t expected_begin = 0;
  const SafetensorsTensorInfo* previous = nullptr;
  for (const SafetensorsTensorInfo& info : layout.tensors) {
    if (info.begin < expected_begin) {
      fail(tensor_label(source, info.name), ": data_offsets [", info.begin, ", ", info.end,
           "] overlap tensor '", previous->name, "' [", previous->begin, ", ", previous->end, "]");
    }
    if (info.begin > expected_begin) {
      fail(tensor_label(source, info.name), ": data_offsets [", info.begin, ", ", info.end,
           "] leave a gap of ", info.begin - expected_begin, " bytes after ",
           previous ? "tensor '" + previous->name + "'" : std::string("the start of the data"),
           " (tensors must be contiguous from 0)");
    }
    expected_begin = info.end;
    previous = &info;
  }
  const uint64_t data_size = size - layout.data_start;
  if (expected_begin > data_size) {
    fail(source, ": truncated: the tensors need ", expected_begin,
         " bytes of data after the header, but the file holds ", data_size);
  }
  if (expected_begin < data_size) {
    fail(source, ": ", data_size - expected_begin,
         " bytes after the last tensor's data (8 + header length + last end must equal the "
         "file size ",
         size, ")");
  }
  return layout;
}

SafetensorsReader::SafetensorsReader(std::shared_ptr<void> owner, uint8_t* data, size_t size,
                                     std::string source)
    : owner_(std::move(owner)),
      data_(data),
      size_(size),
      source_(std::move(source)),
      f16_noted_(std::make_shared<std::atomic<bool>>(false)) {
  layout_ = parse_safetensors_layout(data_, size_, source_);
  for (size_t i = 0; i < layout_.tensors.size(); ++i) {
    by_name_.emplace(layout_.tensors[i].name, i);
  }
}

SafetensorsReader SafetensorsReader::open(const std::string& path) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  uint8_t* data = file->data();
  const size_t size = file->size();
  return SafetensorsReader(std::move(file), data, size, path);
}

SafetensorsReader SafetensorsReader::from_bytes(std::vector<uint8_t> bytes, std::string source) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  uint8_t* data = owned->data();
  const size_t size = owned->size();
  return SafetensorsReader(std::move(owned), data, size, std::move(source));
}

const SafetensorsTensorInfo& SafetensorsReader::info(const std::string& name) const {
  auto found = by_name_.find(name);
  if (found == by_name_.end()) fail(tensor_label(source_, name), ": not in the file");
  return layout_.tensors[found->second];
}

Tensor SafetensorsReader::load_bytes(const SafetensorsTensorInfo& info, uint64_t byte_offset,
                                     const Shape& shape, TensorLoad mode) const {
  uint8_t* bytes = data_ + layout_.data_start + info.begin + byte_offset;
  const int64_t numel = shape_numel(shape);
  if (info.dtype == "F16") {
    if (!f16_noted_->exchange(true)) {
      std::fprintf(stderr,
                   "t5zero: note: %s holds F16 tensors (first: '%s'); loading them as f32 "
                   "(T5 overflows in fp16)\n",
                   source_.c_str(), info.name.c_str());
    }
    Tensor out = Tensor::zeros(shape, DType::f32);
    float* values = out.data<float>();
    for (int64_t i = 0; i < numel; ++i) {
      uint16_t half;
      std::memcpy(&half, bytes + 2 * i, sizeof half);
      values[i] = half_to_float(half);
    }
    return out;
  }
  const std::optional<DType> dtype = loadable_dtype(info.dtype);
  if (!dtype) {
    fail(tensor_label(source_, info.name), ": dtype ", info.dtype,
         " cannot be loaded (t5zero reads F32, F64, BF16, I32, I64, U8, and F16 as f32)");
  }
  const size_t nbytes = static_cast<size_t>(numel) * info.itemsize;
  const bool aligned = reinterpret_cast<uintptr_t>(bytes) % info.itemsize == 0;
  if (mode == TensorLoad::view && aligned) {
    return Tensor(Storage::wrap(bytes, nbytes, Device::cpu(), owner_), shape,
                  contiguous_strides(shape), 0, *dtype);
  }
  Tensor out = Tensor::zeros(shape, *dtype);
  if (nbytes > 0) std::memcpy(out.data_ptr(), bytes, nbytes);
  return out;
}

Tensor SafetensorsReader::load(const std::string& name, TensorLoad mode) const {
  const SafetensorsTensorInfo& entry = info(name);
  return load_bytes(entry, 0, entry.shape, mode);
}

Tensor SafetensorsReader::load_flat_range(const std::string& name, int64_t begin, int64_t count,
                                          TensorLoad mode) const {
  const SafetensorsTensorInfo& entry = info(name);
  const int64_t numel = entry.numel();
  if (begin < 0 || count < 0 || begin > numel || count > numel - begin) {
    fail(tensor_label(source_, name), ": element range [", begin, ", ", begin + count,
         ") is outside its ", numel, " elements");
  }
  return load_bytes(entry, static_cast<uint64_t>(begin) * entry.itemsize, {count}, mode);
}

}  // namespace t5zero
