#include "tensor/tensor.h"

#include <algorithm>
#include <numeric>
#include <ostream>

#include "tensor/cpu/cpu_ops.h"
#ifdef T5ZERO_CUDA
#include "tensor/cuda/cuda_ops.h"
#endif

namespace t5zero {

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {
  T5_CHECK(shape_.size() == strides_.size(), "tensor: shape ", shape_str(shape_), " and strides ",
           shape_str(strides_), " differ in rank");
  for (int64_t s : shape_) T5_CHECK(s >= 0, "tensor: negative size in shape ", shape_str(shape_));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device, HostMemory host) {
  for (int64_t s : shape) T5_CHECK(s >= 0, "zeros: negative size in shape ", shape_str(shape));
  size_t nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(Storage::allocate(nbytes, device, host), shape, contiguous_strides(shape), 0,
                dtype);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) T5_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  size_t nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(Storage::allocate(nbytes, device, HostMemory::aligned, /*zero_fill=*/false), shape,
                contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = zeros(shape, dtype);
  if (value != 0) t.fill_(value);
  return t;
}

int64_t Tensor::size(int64_t dim) const {
  return shape_[normalize_dim(dim, this->dim(), "size")];
}

int64_t Tensor::stride(int64_t dim) const {
  return strides_[normalize_dim(dim, this->dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  T5_CHECK(defined(), "data_ptr() of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

Tensor Tensor::view(Shape shape) const {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      T5_CHECK(infer < 0, "view: more than one -1 in ", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    T5_CHECK(known > 0 && numel() % known == 0, "view: cannot infer -1 in ", shape_str(shape),
             " for ", numel(), " elements");
    shape[infer] = numel() / known;
  }
  T5_CHECK(shape_numel(shape) == numel(), "view: shape ", shape_str(shape), " does not hold the ",
           numel(), " elements of ", shape_str(shape_));
  T5_CHECK(is_contiguous(), "view: tensor of shape ", shape_str(shape_),
           " is not contiguous; use reshape");
  return Tensor(storage_, shape, contiguous_strides(shape), offset_, dtype_);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  int a = normalize_dim(dim0, dim(), "transpose");
  int b = normalize_dim(dim1, dim(), "transpose");
  Shape shape = shape_, strides = strides_;
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  T5_CHECK(static_cast<int>(order.size()) == dim(), "permute: ", order.size(),
           " dimensions given for a tensor of rank ", dim());
  Shape shape(order.size()), strides(order.size());
  std::vector<bool> seen(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    int d = normalize_dim(order[i], dim(), "permute");
    T5_CHECK(!seen[d], "permute: dimension ", d, " repeated");
    seen[d] = true;
    shape[i] = shape_[d];
    strides[i] = strides_[d];
  }
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  int d = normalize_dim(dim, this->dim(), "narrow");
  T5_CHECK(start >= 0 && length >= 0 && start + length <= shape_[d], "narrow: [", start, ", ",
           start + length, ") outside dimension ", d, " of size ", shape_[d]);
  Shape shape = shape_;
  shape[d] = length;
  return Tensor(storage_, shape, strides_, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  int d = normalize_dim(dim, this->dim(), "slice");
  T5_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = shape_, strides = strides_;
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  return Tensor(storage_, shape, strides, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  int d = normalize_dim(dim, this->dim(), "select");
  if (index < 0) index += shape_[d];
  T5_CHECK(index >= 0 && index < shape_[d], "select: index ", index, " outside dimension ", d,
           " of size ", shape_[d]);
  Shape shape = shape_, strides = strides_;
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return Tensor(storage_, shape, strides, offset_ + index * strides_[d], dtype_);
}

Tensor Tensor::expand(const Shape& shape) const {
  T5_CHECK(shape.size() >= shape_.size(), "expand: cannot expand ", shape_str(shape_), " to ",
           shape_str(shape));
  size_t lead = shape.size() - shape_.size();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < shape_.size(); ++i) {
    int64_t want = shape[lead + i];
    if (shape_[i] == want) {
      strides[lead + i] = strides_[i];
    } else {
      T5_CHECK(shape_[i] == 1, "expand: cannot expand ", shape_str(shape_), " to ",
               shape_str(shape));
    }
  }
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t dim) const {
  int d = normalize_dim(dim, this->dim() + 1, "unsqueeze");
  Shape shape = shape_, strides = strides_;
  int64_t stride = d < this->dim() ? shape_[d] * strides_[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t dim) const {
  int d = normalize_dim(dim, this->dim(), "squeeze");
  T5_CHECK(shape_[d] == 1, "squeeze: dimension ", d, " has size ", shape_[d], ", not 1");
  Shape shape = shape_, strides = strides_;
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return Tensor(storage_, shape, strides, offset_, dtype_);
}

Tensor Tensor::reshape(Shape shape) const {
  return is_contiguous() ? view(shape) : contiguous().view(shape);
}

Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor out = empty(shape_, dtype_, device);
  out.copy_(*this);
  return out;
}

// Same device: that backend's strided copy. Across devices (only with CUDA compiled in): the
// CUDA backend's transfer, which also converts dtype and strides.
void Tensor::copy_(const Tensor& src) {
  const Tensor source = src.shape() == shape_ ? src : src.expand(shape_);
  if (device().is_cpu() && src.device().is_cpu()) {
    cpu::copy(*this, source);
    return;
  }
#ifdef T5ZERO_CUDA
  if (device() == src.device()) {
    cuda::copy(*this, source);
  } else {
    cuda::copy_across_devices(*this, source);
  }
#else
  fail("copy_: ", src.device().str(), " -> ", device().str(),
       ": this t5zero was built without CUDA (configure with -DT5ZERO_CUDA=ON)");
#endif
}

void Tensor::fill_(double value) {
  if (device().is_cpu()) {
    cpu::fill(*this, value);
    return;
  }
#ifdef T5ZERO_CUDA
  cuda::fill(*this, value);
#else
  fail("fill_ on ", device().str(), ": this t5zero was built without CUDA");
#endif
}

double Tensor::at(const std::vector<int64_t>& index) const {
  T5_CHECK(static_cast<int>(index.size()) == dim(), "at: ", index.size(),
           " indices for a tensor of rank ", dim());
  if (!device().is_cpu()) return to(Device::cpu()).at(index);
  int64_t off = 0;
  for (int d = 0; d < dim(); ++d) {
    T5_CHECK(index[d] >= 0 && index[d] < shape_[d], "at: index ", index[d], " outside dimension ",
             d, " of size ", shape_[d]);
    off += index[d] * strides_[d];
  }
  return T5_DISPATCH_ALL(dtype_, "at", [&]() -> double {
    return static_cast<double>(load(static_cast<const scalar_t*>(data_ptr())[off]));
  });
}

double Tensor::item() const {
  T5_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape_), " has ", numel(),
           " elements, not 1");
  return at(Shape(dim(), 0));
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "Tensor(undefined)";
  out << "Tensor(" << dtype_name(t.dtype()) << ", " << shape_str(t.shape()) << ", "
      << t.device().str() << ")";
  std::vector<double> values = t.to(Device::cpu()).to_vector<double>();
  constexpr size_t kShown = 64;  // enough to debug, short enough to read
  out << " [";
  for (size_t i = 0; i < values.size() && i < kShown; ++i) out << (i ? ", " : "") << values[i];
  if (values.size() > kShown) out << ", ... (" << values.size() << " values)";
  return out << "]";
}

}  // namespace t5zero
