#include "tensor/storage.h"

#include <cstdlib>
#include <cstring>

#include "tensor/cpu/host_allocator.h"
#include "tensor/cuda_memory.h"
#include "tensor/error.h"

namespace t5zero {

namespace {
// 64 bytes: a cache line and an AVX-512 vector, so kernels may use aligned loads.
constexpr size_t kHostAlignment = 64;
}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device, HostMemory host,
                                           bool zero_fill) {
  std::shared_ptr<Storage> s(new Storage());
  s->nbytes_ = nbytes;
  s->device_ = device;
  s->host_ = host;
  size_t padded = (nbytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  if (padded == 0) padded = kHostAlignment;
  if (device.is_cuda()) {
    s->data_ = cuda_memory::device_alloc(padded, device.index);
    if (zero_fill) cuda_memory::memset_zero(s->data_, padded, device.index);
  } else if (host == HostMemory::pinned) {
    s->data_ = cuda_memory::pinned_alloc(padded);
    if (zero_fill) std::memset(s->data_, 0, padded);
  } else {
    s->data_ = cpu::host_allocate(nbytes);  // at least `padded` bytes, 64-byte aligned
    if (zero_fill) std::memset(s->data_, 0, padded);
  }
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, Device device,
                                       std::shared_ptr<void> keep_alive) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->nbytes_ = nbytes;
  s->device_ = device;
  s->owned_ = false;
  s->keep_alive_ = std::move(keep_alive);
  return s;
}

Storage::~Storage() {
  if (!owned_ || data_ == nullptr) return;
  if (device_.is_cuda()) {
    cuda_memory::device_free(data_, device_.index);
  } else if (host_ == HostMemory::pinned) {
    cuda_memory::pinned_free(data_);
  } else {
    cpu::host_free(data_, nbytes_);
  }
}

}  // namespace t5zero
