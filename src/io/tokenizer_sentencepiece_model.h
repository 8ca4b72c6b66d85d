// The parts of a sentencepiece model file (spiece.model, a serialized ModelProto) that the T5
// tokenizer needs, read with a small bounds-checked protobuf reader: libsentencepiece does not
// expose the normalizer's precompiled charsmap, and transformers builds its fast tokenizer from
// exactly these fields (convert_slow_tokenizer.SpmConverter).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero::tokenizer_detail {

// ModelProto.SentencePiece.Type.
enum class PieceType : int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6
};

struct SentencePiece {
  std::string piece;
  float score = 0.0f;
  PieceType type = PieceType::normal;
};

struct SentencePieceModel {
  std::vector<SentencePiece> pieces;
  int32_t unk_id = 0;                // TrainerSpec.unk_id (proto default 0)
  int32_t model_type = 1;            // TrainerSpec.model_type: 1 = UNIGRAM (proto default)
  bool byte_fallback = false;        // TrainerSpec.byte_fallback
  std::string normalizer_name;       // NormalizerSpec.name, e.g. "nmt_nfkc"
  std::string precompiled_charsmap;  // NormalizerSpec.precompiled_charsmap (binary)
};

// Parses a serialized ModelProto; `source` names it in error messages.
SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& source);

SentencePieceModel read_sentencepiece_model(const std::filesystem::path& path);

}  // namespace t5zero::tokenizer_detail
