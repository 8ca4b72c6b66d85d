// MappedFile: a whole file mapped into memory, unmapped when the last owner lets go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace t5zero {

class MappedFile {
 public:
  // Maps `path` copy-on-write: pages are read from the file only when touched, and a tensor
  // viewing the mapping may be written without ever changing the file.
  static std::shared_ptr<MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  // Null for an empty file (mmap cannot map zero bytes).
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace t5zero
