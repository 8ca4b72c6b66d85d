// AtomicFile: a file written under a temporary name beside its target and renamed into place on
// commit, so a reader never sees a partial file (DESIGN §7). Destroyed without commit — an
// exception, a failed write — it removes the temporary and leaves any old target untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace t5zero {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temporary_path_; }

  // Writes `size` bytes at byte `offset` of the temporary file (any order; gaps read as zeros).
  void write_at(uint64_t offset, const void* data, size_t size);
  // Flushes to disk and renames the temporary to the target, replacing it.
  void commit();

 private:
  std::string path_;
  std::string temporary_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `contents` to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace t5zero
