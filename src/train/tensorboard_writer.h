// TensorBoard event files, written without TensorFlow: what torch.utils.tensorboard's
// SummaryWriter.add_scalar produces, and a reader for tests.
//
// A file is a sequence of TFRecords: uint64 length, uint32 masked CRC-32C of the length bytes,
// the data, uint32 masked CRC-32C of the data (little-endian; mask = rotate right 15, plus
// 0xa282ead8). Each record is an Event protobuf: wall_time (field 1, double), step (2, int64),
// and either file_version (3, string, "brain.Event:2" in the first record) or summary (5), a
// Summary with one Value {tag (1, string), simple_value (2, float)}.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero {

// CRC-32C (Castagnoli), and the masked form TFRecord stores.
uint32_t crc32c(std::string_view data);
uint32_t masked_crc32c(std::string_view data);

class TensorBoardWriter {
 public:
  // Creates `log_dir` and a new file events.out.tfevents.<seconds>.<host>.<pid>.<n> in it, as
  // TensorBoard's EventFileWriter names them, starting with the file_version event.
  explicit TensorBoardWriter(const std::string& log_dir);

  const std::string& path() const { return path_; }
  // One scalar; the record is flushed so TensorBoard sees it while training runs.
  void add_scalar(std::string_view tag, double value, int64_t step, double wall_time);

 private:
  void write_record(const std::string& event);

  std::string path_;
  std::ofstream out_;
};

// A decoded record of an event file.
struct TensorBoardEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  // set only in the first event
  struct Value {
    std::string tag;
    float simple_value = 0;
  };
  std::vector<Value> values;
};

// Reads and checks a whole event file: every length and CRC, every protobuf field; errors name
// the file and the record.
std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path);

}  // namespace t5zero
