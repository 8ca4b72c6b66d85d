// Routing an op to the backend of its inputs. Today every op runs on the CPU backend; the CUDA
// backend plugs in here, op by op, so callers of tensor/ops.h never change.
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

// For ops whose CUDA kernel has not landed yet: a clear error instead of a wrong result.
inline void require_cpu(const char* op, std::initializer_list<const Tensor*> inputs) {
  Device d = common_device(op, inputs);
  T5_CHECK(d.is_cpu(), op, ": no kernel for ", d.str(), " yet; move the inputs to the CPU");
}

}  // namespace t5zero
