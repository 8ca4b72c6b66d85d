// Storage: one allocation shared by every tensor that views it.
#pragma once

#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace t5zero {

// How host memory is obtained: plain aligned pages, or page-locked for fast DMA to a GPU.
enum class HostMemory { aligned, pinned };

class Storage {
 public:
  // Allocation of `nbytes` on `device`, zero-filled unless `zero_fill` is false (for outputs a
  // kernel overwrites entirely: skipping the fill saves a pass over memory and its page faults).
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device,
                                           HostMemory host = HostMemory::aligned,
                                           bool zero_fill = true);
  // Wraps memory owned elsewhere (an mmap'd file, say); `keep_alive` owns it.
  static std::shared_ptr<Storage> wrap(void* data, size_t nbytes, Device device,
                                       std::shared_ptr<void> keep_alive);

  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return host_ == HostMemory::pinned; }

 private:
  Storage() = default;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  HostMemory host_ = HostMemory::aligned;
  bool owned_ = true;
  std::shared_ptr<void> keep_alive_;
};

}  // namespace t5zero
