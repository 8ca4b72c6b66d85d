#include "train/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>

#include "tensor/error.h"

namespace t5zero {

namespace {

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected poly
    table[i] = c;
  }
  return table;
}

// ---- protobuf wire format: varints, tags, length-delimited fields -------------------------

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | type);
}

template <typename T>
void put_fixed(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little-endian hosts only, as TFRecord
  out.append(bytes, sizeof(T));
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_header(double wall_time, int64_t step) {
  std::string event;
  put_tag(event, 1, kFixed64);
  put_fixed(event, wall_time);
  if (step != 0) {  // proto3 leaves defaults out
    put_tag(event, 2, kVarint);
    put_varint(event, static_cast<uint64_t>(step));
  }
  return event;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

// A reader over one protobuf message; errors name the file and record.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& where) : data_(data), where_(where) {}
  bool done() const { return pos_ >= data_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      T5_CHECK(pos_ < data_.size(), where_, ": truncated varint");
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    fail(where_, ": varint longer than 10 bytes");
  }
  template <typename T>
  T fixed() {
    T5_CHECK(pos_ + sizeof(T) <= data_.size(), where_, ": truncated fixed-width field");
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    T5_CHECK(n <= data_.size() - pos_, where_, ": length-delimited field of ", n,
             " bytes runs past the message");
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  void skip(uint32_t type) {
    switch (type) {
      case kVarint:
        varint();
        break;
      case kFixed64:
        fixed<uint64_t>();
        break;
      case kLengthDelimited:
        bytes();
        break;
      case kFixed32:
        fixed<uint32_t>();
        break;
      default:
        fail(where_, ": unknown protobuf wire type ", type);
    }
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  const std::string& where_;
};

TensorBoardEvent::Value parse_value(std::string_view data, const std::string& where) {
  TensorBoardEvent::Value value;
  ProtoReader r(data, where);
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3), type = static_cast<uint32_t>(key & 7);
    if (field == 1 && type == kLengthDelimited) {
      value.tag = std::string(r.bytes());
    } else if (field == 2 && type == kFixed32) {
      value.simple_value = r.fixed<float>();
    } else {
      r.skip(type);
    }
  }
  return value;
}

TensorBoardEvent parse_event(std::string_view data, const std::string& where) {
  TensorBoardEvent event;
  ProtoReader r(data, where);
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = static_cast<uint32_t>(key >> 3), type = static_cast<uint32_t>(key & 7);
    if (field == 1 && type == kFixed64) {
      event.wall_time = r.fixed<double>();
    } else if (field == 2 && type == kVarint) {
      event.step = static_cast<int64_t>(r.varint());
    } else if (field == 3 && type == kLengthDelimited) {
      event.file_version = std::string(r.bytes());
    } else if (field == 5 && type == kLengthDelimited) {
      ProtoReader summary(r.bytes(), where);
      while (!summary.done()) {
        const uint64_t k = summary.varint();
        if ((k >> 3) == 1 && (k & 7) == kLengthDelimited) {
          event.values.push_back(parse_value(summary.bytes(), where));
        } else {
          summary.skip(static_cast<uint32_t>(k & 7));
        }
      }
    } else {
      r.skip(type);
    }
  }
  return event;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = table[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  static std::atomic<int> files_made{0};
  std::filesystem::create_directories(log_dir);
  const auto now = static_cast<int64_t>(std::time(nullptr));
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%010lld", static_cast<long long>(now));
  path_ = (std::filesystem::path(log_dir) /
           ("events.out.tfevents." + std::string(seconds) + "." + host_name() + "." +
            std::to_string(::getpid()) + "." + std::to_string(files_made++)))
              .string();
  out_.open(path_, std::ios::binary | std::ios::trunc);
  T5_CHECK(out_.good(), path_, ": cannot create the TensorBoard event file");
  std::string event = event_header(static_cast<double>(now), 0);
  put_bytes(event, 3, "brain.Event:2");
  write_record(event);
}

void TensorBoardWriter::add_scalar(std::string_view tag, double value, int64_t step,
                                   double wall_time) {
  std::string summary_value;
  put_bytes(summary_value, 1, tag);
  put_tag(summary_value, 2, kFixed32);
  put_fixed(summary_value, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, 1, summary_value);
  std::string event = event_header(wall_time, step);
  put_bytes(event, 5, summary);
  write_record(event);
}

void TensorBoardWriter::write_record(const std::string& event) {
  std::string record;
  std::string length;
  put_fixed(length, static_cast<uint64_t>(event.size()));
  record += length;
  put_fixed(record, masked_crc32c(length));
  record += event;
  put_fixed(record, masked_crc32c(event));
  out_.write(record.data(), static_cast<std::streamsize>(record.size()));
  out_.flush();
  T5_CHECK(out_.good(), path_, ": write failed");
}

std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  T5_CHECK(in.good(), path, ": cannot open");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<TensorBoardEvent> events;
  size_t pos = 0;
  while (pos < data.size()) {
    const std::string where = path + ": record " + std::to_string(events.size());
    T5_CHECK(data.size() - pos >= 12, where, ": truncated header (", data.size() - pos,
             " bytes left, 12 needed)");
    const std::string_view length_bytes(data.data() + pos, 8);
    uint64_t length;
    uint32_t length_crc;
    std::memcpy(&length, length_bytes.data(), 8);
    std::memcpy(&length_crc, data.data() + pos + 8, 4);
    T5_CHECK(length_crc == masked_crc32c(length_bytes), where, ": length CRC mismatch");
    pos += 12;
    T5_CHECK(length <= data.size() - pos && data.size() - pos - length >= 4, where, ": record of ",
             length, " bytes runs past the end of the file");
    const std::string_view event(data.data() + pos, length);
    uint32_t event_crc;
    std::memcpy(&event_crc, data.data() + pos + length, 4);
    T5_CHECK(event_crc == masked_crc32c(event), where, ": data CRC mismatch");
    pos += length + 4;
    events.push_back(parse_event(event, where));
  }
  return events;
}

}  // namespace t5zero
