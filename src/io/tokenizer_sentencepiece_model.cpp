#include "io/tokenizer_sentencepiece_model.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "tensor/error.h"

namespace t5zero::tokenizer_detail {

namespace {

// Field numbers of sentencepiece_model.proto.
constexpr uint32_t kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr uint32_t kPiecePiece = 1, kPieceScore = 2, kPieceType = 3;
constexpr uint32_t kTrainerModelType = 3, kTrainerByteFallback = 35, kTrainerUnkId = 40;
constexpr uint32_t kNormalizerName = 1, kNormalizerCharsmap = 2;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One protobuf message's fields, in order; every read is checked against the end of the data.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& what) : data_(data), what_(what) {}

  bool done() const { return pos_ >= data_.size(); }

  // Reads the next key; returns the field number and sets the wire type.
  uint32_t next_field(uint32_t* wire_type) {
    const uint64_t key = varint();
    *wire_type = static_cast<uint32_t>(key & 7);
    const uint64_t field = key >> 3;
    T5_CHECK(field != 0 && field <= 0x1FFFFFFF, what_, ": bad protobuf field number ", field,
             " at byte ", pos_);
    return static_cast<uint32_t>(field);
  }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      T5_CHECK(pos_ < data_.size(), what_, ": protobuf varint runs past the end (", data_.size(),
               " bytes)");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      value |= uint64_t(b & 0x7F) << shift;
      if (b < 0x80) return value;
    }
    fail(what_, ": protobuf varint longer than 10 bytes at byte ", pos_);
  }

  std::string_view bytes() {
    const uint64_t n = varint();
    T5_CHECK(n <= data_.size() - pos_, what_, ": length-delimited field of ", n, " bytes at byte ",
             pos_, " runs past the end (", data_.size(), " bytes)");
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  float fixed32_float() {
    T5_CHECK(data_.size() - pos_ >= 4, what_, ": fixed32 field runs past the end");
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i)
      bits |= uint32_t(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint:
        varint();
        return;
      case kFixed64:
        advance(8);
        return;
      case kLengthDelimited:
        bytes();
        return;
      case kFixed32:
        advance(4);
        return;
      default:
        fail(what_, ": unsupported protobuf wire type ", wire_type, " at byte ", pos_);
    }
  }

  void expect(uint32_t wire_type, uint32_t expected, const char* field) {
    T5_CHECK(wire_type == expected, what_, ": field ", field, " has wire type ", wire_type,
             ", expected ", expected);
  }

 private:
  void advance(size_t n) {
    T5_CHECK(data_.size() - pos_ >= n, what_, ": field runs past the end");
    pos_ += n;
  }

  std::string_view data_;
  const std::string& what_;
  size_t pos_ = 0;
};

SentencePiece parse_piece(std::string_view bytes, const std::string& what) {
  SentencePiece piece;
  ProtoReader r(bytes, what);
  while (!r.done()) {
    uint32_t wire;
    switch (r.next_field(&wire)) {
      case kPiecePiece:
        r.expect(wire, kLengthDelimited, "piece");
        piece.piece = std::string(r.bytes());
        break;
      case kPieceScore:
        r.expect(wire, kFixed32, "score");
        piece.score = r.fixed32_float();
        break;
      case kPieceType: {
        r.expect(wire, kVarint, "type");
        const uint64_t type = r.varint();
        T5_CHECK(type >= 1 && type <= 6, what, ": piece type ", type, " is not 1..6");
        piece.type = static_cast<PieceType>(type);
        break;
      }
      default:
        r.skip(wire);
    }
  }
  return piece;
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& source) {
  SentencePieceModel model;
  ProtoReader r(bytes, source);
  while (!r.done()) {
    uint32_t wire;
    switch (r.next_field(&wire)) {
      case kModelPieces:
        r.expect(wire, kLengthDelimited, "pieces");
        model.pieces.push_back(
            parse_piece(r.bytes(), source + " piece " + std::to_string(model.pieces.size())));
        break;
      case kModelTrainerSpec: {
        r.expect(wire, kLengthDelimited, "trainer_spec");
        const std::string what = source + " trainer_spec";
        ProtoReader t(r.bytes(), what);
        while (!t.done()) {
          uint32_t w;
          const uint32_t field = t.next_field(&w);
          if (field == kTrainerModelType && w == kVarint) {
            model.model_type = static_cast<int32_t>(t.varint());
          } else if (field == kTrainerByteFallback && w == kVarint) {
            model.byte_fallback = t.varint() != 0;
          } else if (field == kTrainerUnkId && w == kVarint) {
            model.unk_id = static_cast<int32_t>(t.varint());
          } else {
            t.skip(w);
          }
        }
        break;
      }
      case kModelNormalizerSpec: {
        r.expect(wire, kLengthDelimited, "normalizer_spec");
        const std::string what = source + " normalizer_spec";
        ProtoReader n(r.bytes(), what);
        while (!n.done()) {
          uint32_t w;
          const uint32_t field = n.next_field(&w);
          if (field == kNormalizerName && w == kLengthDelimited) {
            model.normalizer_name = std::string(n.bytes());
          } else if (field == kNormalizerCharsmap && w == kLengthDelimited) {
            model.precompiled_charsmap = std::string(n.bytes());
          } else {
            n.skip(w);
          }
        }
        break;
      }
      default:
        r.skip(wire);
    }
  }
  T5_CHECK(!model.pieces.empty(), source, ": no pieces (is this a sentencepiece model?)");
  return model;
}

SentencePieceModel read_sentencepiece_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  T5_CHECK(in, path.string(), ": cannot open the sentencepiece model");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  T5_CHECK(!in.bad(), path.string(), ": read error");
  return parse_sentencepiece_model(bytes, path.string());
}

}  // namespace t5zero::tokenizer_detail
