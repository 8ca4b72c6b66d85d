// The one entry the safetensors fuzz target and the corpus test both drive: validate an
// in-memory file, then load every tensor as a view and as a copy and a middle slice of it, and
// check that the three agree. A malformed file must end in t5zero::Error; anything else (a
// crash, a sanitizer report, another exception) is a bug in the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "io/safetensors_reader.h"

namespace t5zero::fuzz {

inline void read_safetensors_input(const uint8_t* data, size_t size) {
  const SafetensorsReader reader =
      SafetensorsReader::from_bytes(std::vector<uint8_t>(data, data + size), "fuzz input");
  for (const SafetensorsTensorInfo& info : reader.tensors()) {
    const Tensor view = reader.load(info.name, TensorLoad::view);
    const Tensor copy = reader.load(info.name, TensorLoad::copy);
    const size_t nbytes = static_cast<size_t>(copy.numel()) * dtype_size(copy.dtype());
    if (view.shape() != info.shape || copy.shape() != info.shape ||
        (nbytes > 0 && std::memcmp(view.data_ptr(), copy.data_ptr(), nbytes) != 0)) {
      throw std::logic_error("safetensors reader: view and copy of '" + info.name + "' differ");
    }
    const int64_t begin = info.numel() / 3;
    const int64_t count = info.numel() - 2 * begin;
    const Tensor slice = reader.load_flat_range(info.name, begin, count);
    const size_t itemsize = dtype_size(copy.dtype());
    if (count > 0 && std::memcmp(slice.data_ptr(),
                                 static_cast<const uint8_t*>(copy.data_ptr()) + begin * itemsize,
                                 static_cast<size_t>(count) * itemsize) != 0) {
      throw std::logic_error("safetensors reader: slice of '" + info.name + "' differs");
    }
  }
}

}  // namespace t5zero::fuzz
