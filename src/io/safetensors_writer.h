// Safetensors writing, as huggingface/safetensors writes: tensors ordered by dtype (widest
// first, the format's Dtype order) then name, header JSON padded with spaces to a multiple of
// 8 bytes so data starts aligned, "__metadata__" {"format": "pt"} as transformers expects. The
// file is written under a temporary name and renamed when complete.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/safetensors_reader.h"
#include "tensor/tensor.h"

namespace t5zero {

// What a tensor will be in the file, declared before its data exists (so a large checkpoint
// is written one tensor at a time).
struct TensorSpec {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t nbytes() const { return static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype); }
};

// The metadata transformers writes, and checks for when loading ("format": "pt").
std::map<std::string, std::string> default_safetensors_metadata();

class SafetensorsWriter {
 public:
  // Lays out the file and writes its header; names must be unique and not "__metadata__".
  SafetensorsWriter(const std::string& path, std::vector<TensorSpec> specs,
                    std::map<std::string, std::string> metadata = default_safetensors_metadata());

  // Writes one declared tensor, in any order; `tensor` must have the declared shape and is
  // converted to the declared dtype.
  void write(const std::string& name, const Tensor& tensor);
  // Renames the finished file into place; every declared tensor must have been written.
  // Without commit (an exception, say) the destructor removes the temporary file.
  void commit();

  const SafetensorsLayout& layout() const { return layout_; }

 private:
  AtomicFile file_;
  SafetensorsLayout layout_;
  std::vector<DType> dtypes_;  // parallel to layout_.tensors
  std::vector<bool> written_;
  std::map<std::string, size_t> index_;
};

// Declares, writes and commits `tensors` in one call.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      std::map<std::string, std::string> metadata = default_safetensors_metadata());

}  // namespace t5zero
