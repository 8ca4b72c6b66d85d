// Routing an op to the backend of its inputs: the CPU backend, or the CUDA backend
// (tensor/cuda/cuda_ops.h) when the inputs are on a GPU, so callers of tensor/ops.h never change.
#pragma once

#include <initializer_list>

#include "tensor/tensor.h"

namespace t5zero {

// The device all defined inputs share; an error names the op when they differ.
inline Device common_device(const char* op, std::initializer_list<const Tensor*> inputs) {
  const Tensor* first = nullptr;
  for (const Tensor* t : inputs) {
    if (!t->defined()) continue;
    if (first == nullptr) {
      first = t;
    } else {
      T5_CHECK(t->device() == first->device(), op, ": inputs on ", first->device().str(), " and ",
               t->device().str());
    }
  }
  return first ? first->device() : Device::cpu();
}

// For ops without a kernel on the inputs' device: a clear error instead of a wrong result.
inline void require_cpu(const char* op, std::initializer_list<const Tensor*> inputs) {
  Device d = common_device(op, inputs);
  T5_CHECK(d.is_cpu(), op, ": no kernel for ", d.str(), " yet; move the inputs to the CPU");
}

}  // namespace t5zero

// `T5_RETURN_IF_CUDA(op, call, &inputs...)` returns cuda::call when the inputs (which must share
// a device) are on a GPU, and otherwise falls through to the CPU backend's call that follows it.
// Without T5ZERO_CUDA no tensor can be on a GPU and the CUDA backend is not compiled: the inputs
// are only checked to be on the CPU.
#ifdef T5ZERO_CUDA
#include "tensor/cuda/cuda_ops.h"
#define T5_RETURN_IF_CUDA(OP, CALL, ...) \
  if (::t5zero::common_device(OP, {__VA_ARGS__}).is_cuda()) return ::t5zero::cuda::CALL
#else
#define T5_RETURN_IF_CUDA(OP, CALL, ...) ::t5zero::require_cpu(OP, {__VA_ARGS__})
#endif
