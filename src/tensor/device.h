// Where a tensor's storage lives.
#pragma once

#include <string>

namespace t5zero {

enum class DeviceType { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;  // CUDA ordinal; 0 for cpu

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string str() const {
    return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
  }
};

// True when this binary was built with the CUDA backend (T5ZERO_CUDA).
bool cuda_compiled();
// Number of CUDA devices visible at run time; 0 without a driver or a GPU.
int cuda_device_count();

}  // namespace t5zero
