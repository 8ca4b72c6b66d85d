#include "tensor/cuda/stream.h"

#include <array>

#include "tensor/cuda/cuda_check.h"

namespace t5zero::cuda {

namespace {
// Enough for any node; a device index past it is an error.
constexpr int kMaxDevices = 64;
thread_local std::array<cudaStream_t, kMaxDevices> current_streams{};

int checked_device(int device) {
  T5_CHECK(device >= 0 && device < kMaxDevices, "cuda: device index ", device, " outside [0, ",
           kMaxDevices, ")");
  return device;
}
}  // namespace

DeviceGuard::DeviceGuard(int device) {
  T5_CUDA_CHECK(cudaGetDevice(&previous_));
  if (device != previous_) T5_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int now = previous_;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
}

Stream::Stream(int device, int priority) : device_(checked_device(device)) {
  DeviceGuard guard(device);
  T5_CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, priority));
}

Stream::~Stream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void Stream::synchronize() const {
  T5_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

Event::Event(bool timing) {
  T5_CUDA_CHECK(
      cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

Event::~Event() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

void Event::record(cudaStream_t stream) {
  T5_CUDA_CHECK(cudaEventRecord(event_, stream));
}

void Event::wait(cudaStream_t stream) const {
  T5_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0));
}

void Event::synchronize() const {
  T5_CUDA_CHECK(cudaEventSynchronize(event_));
}

bool Event::done() const {
  const cudaError_t status = cudaEventQuery(event_);
  if (status == cudaErrorNotReady) return false;
  T5_CUDA_CHECK(status);
  return true;
}

float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  T5_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

cudaStream_t current_stream(int device) {
  return current_streams[checked_device(device)];
}

StreamGuard::StreamGuard(int device, cudaStream_t stream)
    : device_(checked_device(device)), previous_(current_streams[device_]) {
  current_streams[device_] = stream;
}

StreamGuard::~StreamGuard() {
  current_streams[device_] = previous_;
}

}  // namespace t5zero::cuda
