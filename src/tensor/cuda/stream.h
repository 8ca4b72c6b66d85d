// Devices, streams and events. Every CUDA op runs on the calling thread's current stream of its
// device: the legacy default stream unless a StreamGuard says otherwise (as torch's default
// stream), so ops issued by one thread run in order without any synchronization.
#pragma once

#include <cuda_runtime.h>

#include "tensor/device.h"

namespace t5zero::cuda {

// Makes `device` current for the scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  explicit DeviceGuard(Device device) : DeviceGuard(device.index) {}
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

// An owned stream, non-blocking with respect to the legacy default stream.
class Stream {
 public:
  // priority: 0 is the default; lower numbers are higher priority
  // (cudaDeviceGetStreamPriorityRange).
  explicit Stream(int device, int priority = 0);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
  int device_ = 0;
};

// An owned event; `timing` events can measure elapsed time, the others are cheaper to record.
class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream);
  // Work submitted to `stream` after this call waits for the recorded point.
  void wait(cudaStream_t stream) const;
  void synchronize() const;
  bool done() const;
  // Milliseconds from `start` to this event (both timing events, both completed).
  float elapsed_ms_since(const Event& start) const;

 private:
  cudaEvent_t event_ = nullptr;
};

// The calling thread's current stream on `device`.
cudaStream_t current_stream(int device);

// Makes `stream` the calling thread's current stream on its device for the scope.
class StreamGuard {
 public:
  StreamGuard(int device, cudaStream_t stream);
  explicit StreamGuard(const Stream& stream) : StreamGuard(stream.device(), stream.get()) {}
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  int device_;
  cudaStream_t previous_;
};

}  // namespace t5zero::cuda
