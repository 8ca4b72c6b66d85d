// Tensor: a typed, strided view of a Storage. Copies share storage; views never copy.
#pragma once

#include <iosfwd>
#include <memory>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace t5zero {

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage

  // New zero-filled contiguous tensors.
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(),
                      HostMemory host = HostMemory::aligned);
  // Contents undefined: only for outputs a kernel writes completely.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32) { return full(shape, 1, dtype); }
  // A contiguous CPU tensor holding `values` (converted to `dtype`).
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            DType dtype = dtype_of<T>());
  // A view of existing storage.
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int dim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool is_contiguous() const;
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // Address of element 0 of this view.
  void* data_ptr() const;
  template <typename T>
  T* data() const {
    T5_CHECK(dtype_ == dtype_of<T>(), "tensor data<", dtype_name(dtype_of<T>()),
             ">() on a tensor of dtype ", dtype_name(dtype_));
    return static_cast<T*>(data_ptr());
  }

  // Views (share storage).
  Tensor view(Shape shape) const;  // contiguous only; one -1 is inferred
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;  // broadcasting: size-1 dims get stride 0
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;

  // Copies.
  Tensor reshape(Shape shape) const;  // a view when contiguous, else a copy
  Tensor contiguous() const;          // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;  // itself when already that dtype
  Tensor to(Device device) const;
  void copy_(const Tensor& src);  // same shape (or broadcastable into), converting dtype
  void fill_(double value);

  // Element access for tests, tools and scalars (converted to double).
  double item() const;
  double at(const std::vector<int64_t>& index) const;
  template <typename T>
  std::vector<T> to_vector() const;

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;  // in elements
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& out, const Tensor& t);

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, DType dtype) {
  T5_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           "from_vector: ", values.size(), " values for shape ", shape_str(shape));
  Tensor raw = zeros(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), raw.data<T>());
  return raw.to(dtype);
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(Device::cpu()).to(dtype_of<T>()).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

}  // namespace t5zero
