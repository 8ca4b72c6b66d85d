#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace t5zero {

namespace {

// Unique within the process; the pid makes it unique across processes sharing a folder.
std::string temporary_name_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Makes the rename itself durable: a crash after commit() must not bring the old file back.
void sync_parent_folder(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some filesystems refuse to open folders
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temporary_path_(temporary_name_for(path_)) {
  fd_ = ::open(temporary_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, ": cannot create ", temporary_path_, ": ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temporary_path_.c_str());
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t size) {
  T5_CHECK(!committed_ && fd_ >= 0, path_, ": write after commit");
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::pwrite(fd_, bytes, size, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(path_, ": cannot write ", size, " bytes at offset ", offset, " of ", temporary_path_,
           ": ", std::strerror(errno));
    }
    bytes += written;
    size -= static_cast<size_t>(written);
    offset += static_cast<uint64_t>(written);
  }
}

void AtomicFile::commit() {
  T5_CHECK(!committed_ && fd_ >= 0, path_, ": committed twice");
  if (::fsync(fd_) != 0) {
    fail(path_, ": cannot flush ", temporary_path_, ": ", std::strerror(errno));
  }
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) fail(path_, ": cannot close ", temporary_path_, ": ", std::strerror(errno));
  if (std::rename(temporary_path_.c_str(), path_.c_str()) != 0) {
    fail(path_, ": cannot rename ", temporary_path_, " into place: ", std::strerror(errno));
  }
  committed_ = true;
  sync_parent_folder(path_);
}

void write_file_atomically(const std::string& path, std::string_view contents) {
  AtomicFile file(path);
  file.write_at(0, contents.data(), contents.size());
  file.commit();
}

}  // namespace t5zero
