#include "io/safetensors_writer.h"

#include <algorithm>
#include <bit>

#include "io/json_writer.h"

namespace t5zero {

static_assert(std::endian::native == std::endian::little,
              "the header length and tensor data are written as little-endian bytes in place");

namespace {

// Position of each dtype in huggingface/safetensors' Dtype enum; the writer sorts by it,
// descending, so that a file we write matches the reference byte for byte.
int dtype_rank(DType dtype) {
  switch (dtype) {
    case DType::u8:
      return 0;
    case DType::bf16:
      return 1;
    case DType::i32:
      return 2;
    case DType::f32:
      return 3;
    case DType::f64:
      return 4;
    case DType::i64:
      return 5;
  }
  return -1;
}

std::string header_json(const SafetensorsLayout& layout) {
  JsonWriter json;
  json.begin_object();
  if (!layout.metadata.empty()) {
    json.key("__metadata__").begin_object();
    for (const auto& [key, value] : layout.metadata) json.key(key).value(value);
    json.end_object();
  }
  for (const SafetensorsTensorInfo& info : layout.tensors) {
    json.key(info.name).begin_object();
    json.key("dtype").value(info.dtype);
    json.key("shape").begin_array();
    for (int64_t size : info.shape) json.value(size);
    json.end_array();
    json.key("data_offsets").begin_array().value(info.begin).value(info.end).end_array();
    json.end_object();
  }
  json.end_object();
  return json.text();
}

}  // namespace

std::map<std::string, std::string> default_safetensors_metadata() {
  return {{"format", "pt"}};
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<TensorSpec> specs,
                                     std::map<std::string, std::string> metadata)
    : file_(path) {
  std::stable_sort(specs.begin(), specs.end(), [](const TensorSpec& a, const TensorSpec& b) {
    const int rank_a = dtype_rank(a.dtype);
    const int rank_b = dtype_rank(b.dtype);
    return rank_a != rank_b ? rank_a > rank_b : a.name < b.name;
  });
  layout_.metadata = std::move(metadata);
  uint64_t offset = 0;
  for (const TensorSpec& spec : specs) {
    T5_CHECK(spec.name != "__metadata__", path, ": '__metadata__' is reserved, not a tensor name");
    T5_CHECK(index_.emplace(spec.name, layout_.tensors.size()).second, path, ": tensor '",
             spec.name, "' declared twice");
    for (int64_t size : spec.shape) {
      T5_CHECK(size >= 0, path, ": tensor '", spec.name, "': negative size in shape ",
               shape_str(spec.shape));
    }
    SafetensorsTensorInfo info;
    info.name = spec.name;
    info.dtype = safetensors_dtype_name(spec.dtype);
    info.itemsize = dtype_size(spec.dtype);
    info.shape = spec.shape;
    info.begin = offset;
    info.end = offset + spec.nbytes();
    offset = info.end;
    layout_.tensors.push_back(std::move(info));
    dtypes_.push_back(spec.dtype);
  }
  written_.assign(layout_.tensors.size(), false);

  std::string header = header_json(layout_);
  header.append((8 - header.size() % 8) % 8, ' ');
  layout_.header_length = header.size();
  layout_.data_start = 8 + header.size();
  const uint64_t length = header.size();
  file_.write_at(0, &length, sizeof length);
  file_.write_at(8, header.data(), header.size());
}

void SafetensorsWriter::write(const std::string& name, const Tensor& tensor) {
  auto found = index_.find(name);
  T5_CHECK(found != index_.end(), file_.path(), ": tensor '", name, "' was not declared");
  const size_t i = found->second;
  const SafetensorsTensorInfo& info = layout_.tensors[i];
  T5_CHECK(!written_[i], file_.path(), ": tensor '", name, "' written twice");
  T5_CHECK(tensor.defined(), file_.path(), ": tensor '", name, "' is undefined");
  T5_CHECK(tensor.shape() == info.shape, file_.path(), ": tensor '", name, "': declared shape ",
           shape_str(info.shape), ", got ", shape_str(tensor.shape()));
  const Tensor bytes = tensor.to(Device::cpu()).to(dtypes_[i]).contiguous();
  if (info.end > info.begin) {
    file_.write_at(layout_.data_start + info.begin, bytes.data_ptr(), info.end - info.begin);
  }
  written_[i] = true;
}

void SafetensorsWriter::commit() {
  for (size_t i = 0; i < written_.size(); ++i) {
    T5_CHECK(written_[i], file_.path(), ": tensor '", layout_.tensors[i].name,
             "' was declared but never written");
  }
  file_.commit();
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      std::map<std::string, std::string> metadata) {
  std::vector<TensorSpec> specs;
  for (const auto& [name, tensor] : tensors) {
    T5_CHECK(tensor.defined(), path, ": tensor '", name, "' is undefined");
    specs.push_back({name, tensor.dtype(), tensor.shape()});
  }
  SafetensorsWriter writer(path, std::move(specs), std::move(metadata));
  for (const auto& [name, tensor] : tensors) writer.write(name, tensor);
  writer.commit();
}

}  // namespace t5zero
