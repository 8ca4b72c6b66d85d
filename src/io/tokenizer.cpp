#include "io/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "io/json.h"
#include "io/tokenizer_sentencepiece_model.h"
#include "io/tokenizer_utf8.h"
#include "tensor/error.h"

namespace t5zero {

using tokenizer_detail::PieceType;

namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // "▁", U+2581

// A special token in tokenizer_config.json / special_tokens_map.json: "text" or {"content": ...}.
std::string special_token_text(const JsonValue& value) {
  if (value.is_object()) return value.get_string("content");
  return value.as_string();
}

// Reads eos/pad/unk token texts, extra_ids and model_max_length from one config file.
struct SpecialTokenNames {
  std::string eos = "</s>";
  std::string pad = "<pad>";
  std::string unk = "<unk>";
};

void read_special_token_names(const JsonValue& config, SpecialTokenNames& names) {
  if (auto v = config.find("eos_token"); v && !v->is_null()) names.eos = special_token_text(*v);
  if (auto v = config.find("pad_token"); v && !v->is_null()) names.pad = special_token_text(*v);
  if (auto v = config.find("unk_token"); v && !v->is_null()) names.unk = special_token_text(*v);
}

// transformers writes model_max_length as a huge integer (1e30) when a model has no limit.
int64_t read_model_max_length(const JsonValue& value) {
  if (value.is_integer()) {
    const int64_t n = value.as_int();
    if (n < 1) value.fail_here("expected a positive length, found ", n);
    return n;
  }
  const double d = value.as_double();
  if (!(d >= 1.0)) value.fail_here("expected a positive length, found ", d);
  if (d >= 9.0e18) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(d);
}

// tokenizer.json must describe the pipeline this class implements; anything else would give
// other ids, so it is refused rather than approximated.
void check_fast_pipeline(const JsonValue& json) {
  const JsonValue model = json.at("model");
  if (model.get_string("type") != "Unigram" || model.get_bool_or("byte_fallback", false)) {
    model.fail_here("model type '", model.get_string("type"),
                    "' is not supported (expected 'Unigram' without byte_fallback, as T5's)");
  }
  // Newer files spell the prefix rule prepend_scheme; "first" (legacy=False) prefixes only the
  // first split, which would change ids next to added tokens.
  const JsonValue pre = json.at("pre_tokenizer");
  if (pre.is_null() || pre.get_string("type") != "Metaspace" ||
      pre.get_string("replacement") != kMetaspace || !pre.get_bool_or("add_prefix_space", true) ||
      pre.get_string_or("prepend_scheme", "always") != "always" ||
      !pre.get_bool_or("split", true)) {
    pre.fail_here(
        "expected a Metaspace pre-tokenizer with replacement \"\xE2\x96\x81\", a prefix on "
        "every split and splitting on it (the T5 tokenizer of transformers 4.26)");
  }
  const JsonValue decoder = json.at("decoder");
  if (decoder.is_null() || decoder.get_string("type") != "Metaspace" ||
      decoder.get_string("replacement") != kMetaspace ||
      !decoder.get_bool_or("add_prefix_space", true)) {
    decoder.fail_here("expected a Metaspace decoder with replacement \"\xE2\x96\x81\"");
  }
  const JsonValue normalizer = json.at("normalizer");
  std::vector<JsonValue> steps;
  if (!normalizer.is_null() && normalizer.get_string("type") == "Sequence") {
    steps = normalizer.at("normalizers").as_array();
  } else if (!normalizer.is_null()) {
    steps.push_back(normalizer);
  }
  bool has_precompiled = false;
  bool has_space_collapse = false;
  for (const JsonValue& step : steps) {
    const std::string type = step.get_string("type");
    if (type == "Precompiled" && !has_space_collapse && !has_precompiled) {
      has_precompiled = true;
    } else if (type == "Replace" && !has_space_collapse) {
      const JsonValue pattern = step.at("pattern");
      const auto regex = pattern.find("Regex");
      if (!regex || regex->as_string() != " {2,}" || step.get_string("content") != " ") {
        step.fail_here("expected Replace(Regex(\" {2,}\"), \" \") (the T5 tokenizer)");
      }
      has_space_collapse = true;
    } else {
      step.fail_here("normalizer step '", type,
                     "' is not supported (expected Precompiled then Replace \" {2,}\" -> \" \")");
    }
  }
  if (!has_space_collapse) {
    normalizer.fail_here("expected the T5 normalizer: Precompiled then Replace \" {2,}\" -> \" \"");
  }
}

void replace_all(std::string& text, std::string_view from, std::string_view to,
                 std::string& buffer) {
  size_t found = text.find(from);
  if (found == std::string::npos) return;
  buffer.clear();
  size_t pos = 0;
  while (found != std::string::npos) {
    buffer.append(text, pos, found - pos);
    buffer.append(to);
    pos = found + from.size();
    found = text.find(from, pos);
  }
  buffer.append(text, pos, std::string::npos);
  text.swap(buffer);
}

}  // namespace

struct T5Tokenizer::Scratch {
  std::string normalized;
  std::string metaspaced;
  tokenizer_detail::UnigramScratch unigram;
};

T5Tokenizer T5Tokenizer::load(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  const fs::path model_path = dir / "spiece.model";
  T5_CHECK(fs::is_regular_file(model_path), dir.string(),
           ": no spiece.model (expected a T5 tokenizer folder: spiece.model, tokenizer.json, "
           "tokenizer_config.json)");
  tokenizer_detail::SentencePieceModel spm = tokenizer_detail::read_sentencepiece_model(model_path);
  const std::string spm_name = model_path.string();
  T5_CHECK(spm.model_type == 1, spm_name, ": model type ", spm.model_type,
           " is not supported (expected 1, UNIGRAM)");
  T5_CHECK(!spm.byte_fallback, spm_name, ": byte_fallback models are not supported");
  const auto spm_size = static_cast<int32_t>(spm.pieces.size());
  T5_CHECK(
      spm.unk_id >= 0 && spm.unk_id < spm_size && spm.pieces[spm.unk_id].type == PieceType::unknown,
      spm_name, ": unk_id ", spm.unk_id, " is not an UNKNOWN piece among ", spm_size);

  T5Tokenizer tok;
  SpecialTokenNames names;
  int64_t extra_ids = 100;  // T5Tokenizer's default
  std::vector<std::string> additional_special;
  auto read_config = [&](const fs::path& path, bool is_tokenizer_config) {
    if (!fs::exists(path)) return;
    const JsonValue config = JsonValue::parse_file(path.string());
    read_special_token_names(config, names);
    if (auto v = config.find("additional_special_tokens"); v && !v->is_null()) {
      additional_special.clear();
      for (const JsonValue& t : v->as_array()) additional_special.push_back(special_token_text(t));
    }
    if (!is_tokenizer_config) return;
    if (auto v = config.find("model_max_length"); v && !v->is_null()) {
      tok.model_max_length_ = read_model_max_length(*v);
    }
    if (auto v = config.find("extra_ids"); v && !v->is_null()) {
      extra_ids = v->as_int();
      if (extra_ids < 0 || extra_ids > 100000)
        v->fail_here("expected 0..100000, found ", extra_ids);
    }
  };
  // transformers reads tokenizer_config.json first; special_tokens_map.json overrides it.
  read_config(dir / "tokenizer_config.json", true);
  read_config(dir / "special_tokens_map.json", false);

  // The Unigram vocabulary: the sentencepiece pieces, then the sentinels with score 0 (as
  // transformers' T5Converter builds it).
  std::vector<std::string> vocab;
  std::vector<float> scores;
  vocab.reserve(spm.pieces.size() + static_cast<size_t>(extra_ids));
  for (auto& p : spm.pieces) {
    vocab.push_back(std::move(p.piece));
    scores.push_back(p.score);
  }
  struct Added {
    std::string content;
    int32_t id;
    bool special;
  };
  std::vector<Added> added;
  const fs::path json_path = dir / "tokenizer.json";
  if (fs::exists(json_path)) {
    const JsonValue json = JsonValue::parse_file(json_path.string());
    check_fast_pipeline(json);
    const JsonValue model = json.at("model");
    const int64_t json_unk = model.get_int("unk_id");
    if (json_unk != spm.unk_id) {
      model.at("unk_id").fail_here("is ", json_unk, " but spiece.model's unk_id is ", spm.unk_id);
    }
    const std::vector<JsonValue> entries = model.at("vocab").as_array();
    if (entries.size() < vocab.size()) {
      model.at("vocab").fail_here("has ", entries.size(), " entries, fewer than spiece.model's ",
                                  vocab.size());
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      const std::vector<JsonValue> entry = entries[i].as_array();
      if (entry.size() != 2) entries[i].fail_here("expected [piece, score]");
      std::string piece = entry[0].as_string();
      const auto score = static_cast<float>(entry[1].as_double());
      if (i < static_cast<size_t>(spm_size)) {
        if (piece != vocab[i] || score != scores[i]) {
          entries[i].fail_here("is ('", piece, "', ", score, ") but spiece.model piece ", i,
                               " is ('", vocab[i], "', ", scores[i],
                               "): the two files belong to different tokenizers");
        }
      } else {
        vocab.push_back(std::move(piece));
        scores.push_back(score);
      }
    }
    for (const JsonValue& t : json.at("added_tokens").as_array()) {
      const std::string content = t.get_string("content");
      for (const char* flag : {"single_word", "lstrip", "rstrip", "normalized"}) {
        if (t.get_bool_or(flag, false)) {
          t.fail_here("added token '", content, "' sets ", flag,
                      ", which is not supported (T5's added tokens match the raw text exactly)");
        }
      }
      const int64_t id = t.get_int("id");
      if (id < 0 || id > std::numeric_limits<int32_t>::max()) t.fail_here("bad id ", id);
      added.push_back({content, static_cast<int32_t>(id), t.get_bool_or("special", false)});
    }
  } else {
    // No fast-tokenizer file: build what transformers would convert from spiece.model.
    for (int64_t n = extra_ids - 1; n >= 0; --n) {
      vocab.push_back("<extra_id_" + std::to_string(n) + ">");
      scores.push_back(0.0f);
    }
    auto vocab_id = [&](const std::string& token) {
      for (size_t i = 0; i < vocab.size(); ++i) {
        if (vocab[i] == token) return static_cast<int32_t>(i);
      }
      fail(dir.string(), ": special token '", token, "' is not in the vocabulary");
    };
    for (const std::string* token : {&names.pad, &names.eos, &names.unk}) {
      added.push_back({*token, vocab_id(*token), true});
    }
    for (int64_t n = 0; n < extra_ids; ++n) {
      added.push_back({vocab[static_cast<size_t>(spm_size + extra_ids - 1 - n)],
                       static_cast<int32_t>(spm_size + extra_ids - 1 - n), true});
    }
    for (const std::string& token : additional_special) {
      added.push_back({token, vocab_id(token), true});
    }
  }

  tok.unigram_ = tokenizer_detail::UnigramModel(vocab, scores, spm.unk_id);
  tok.normalizer_.emplace(spm.precompiled_charsmap, spm_name + " precompiled_charsmap");
  tok.pieces_ = std::move(vocab);
  tok.special_.assign(tok.pieces_.size(), false);
  for (const Added& a : added) {
    const auto size = static_cast<int32_t>(tok.pieces_.size());
    if (a.id == size) {
      // An added token beyond the model's vocabulary takes the next id.
      tok.pieces_.push_back(a.content);
      tok.special_.push_back(false);
    } else if (a.id > size || tok.pieces_[a.id] != a.content) {
      fail(fs::exists(json_path) ? json_path.string() : dir.string(), ": added token '", a.content,
           "' has id ", a.id, ", where the ", "vocabulary has ",
           a.id < size ? "'" + tok.pieces_[a.id] + "'" : "no piece");
    }
    tok.special_[a.id] = a.special;
    const bool duplicate = std::any_of(tok.added_tokens_.begin(), tok.added_tokens_.end(),
                                       [&](const AddedToken& t) { return t.content == a.content; });
    if (!duplicate && !a.content.empty()) tok.added_tokens_.push_back({a.content, a.id});
  }
  std::vector<std::string> added_texts;
  for (const AddedToken& t : tok.added_tokens_) {
    added_texts.push_back(t.content);
    tok.added_first_byte_[static_cast<unsigned char>(t.content[0])] = true;
  }
  tok.added_trie_ = tokenizer_detail::PieceTrie(added_texts);

  auto special_id = [&](const std::string& token, const char* role) {
    for (const AddedToken& t : tok.added_tokens_) {
      if (t.content == token) return t.id;
    }
    fail(dir.string(), ": ", role, " token '", token, "' is not an added token of the tokenizer");
  };
  tok.eos_id_ = special_id(names.eos, "eos");
  tok.pad_id_ = special_id(names.pad, "pad");
  tok.unk_id_ = special_id(names.unk, "unk");
  return tok;
}

std::vector<int32_t> T5Tokenizer::encode(std::string_view text,
                                         std::optional<int64_t> max_length) const {
  thread_local Scratch scratch;
  std::vector<int32_t> ids;
  encode_into(text, max_length, ids, scratch);
  return ids;
}

void T5Tokenizer::encode_into(std::string_view text, std::optional<int64_t> max_length,
                              std::vector<int32_t>& ids, Scratch& scratch) const {
  const size_t bad = tokenizer_detail::find_invalid_utf8(text);
  T5_CHECK(bad == std::string_view::npos, "tokenizer: text is not valid UTF-8 (byte ", bad, " of ",
           text.size(), ")");
  T5_CHECK(!max_length || *max_length >= 1, "tokenizer: max_length must be at least 1 (room for ",
           "</s>), got ", *max_length);
  // The text's ids end up cut to limit; words are segmented independently, so encoding can stop
  // as soon as limit ids exist without changing them.
  const size_t limit =
      max_length ? static_cast<size_t>(*max_length - 1) : std::numeric_limits<size_t>::max();
  ids.clear();
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n && ids.size() < limit) {
    // The next added token, leftmost-longest (tokenizers' AddedVocabulary).
    size_t match_start = n;
    size_t match_length = 0;
    int32_t match_index = -1;
    for (size_t i = pos; i < n; ++i) {
      if (!added_first_byte_[static_cast<unsigned char>(text[i])]) continue;
      added_trie_.for_each_prefix(text.substr(i), [&](size_t length, int32_t index) {
        match_length = length;
        match_index = index;
      });
      if (match_index >= 0) {
        match_start = i;
        break;
      }
    }
    encode_stretch(text.substr(pos, match_start - pos), limit, ids, scratch);
    if (match_index < 0) break;
    ids.push_back(added_tokens_[match_index].id);
    pos = match_start + match_length;
  }
  if (ids.size() > limit) ids.resize(limit);
  ids.push_back(eos_id_);
}

void T5Tokenizer::encode_stretch(std::string_view stretch, size_t limit, std::vector<int32_t>& ids,
                                 Scratch& scratch) const {
  if (stretch.empty()) return;
  normalizer_->normalize(stretch, scratch.normalized);
  const std::string& normalized = scratch.normalized;
  if (normalized.empty()) return;  // tokenizers drops splits that normalize to nothing
  // Metaspace pre-tokenizer: spaces become "▁", one is prepended unless already there.
  std::string& text = scratch.metaspaced;
  text.clear();
  if (normalized[0] != ' ' && normalized.compare(0, kMetaspace.size(), kMetaspace) != 0) {
    text.append(kMetaspace);
  }
  for (const char c : normalized) {
    if (c == ' ') {
      text.append(kMetaspace);
    } else {
      text.push_back(c);
    }
  }
  // Words split before each "▁" (MergedWithNext).
  size_t word_start = 0;
  while (word_start < text.size() && ids.size() < limit) {
    size_t next = text.find(kMetaspace, word_start + 1);
    if (next == std::string::npos) next = text.size();
    unigram_.encode_word(std::string_view(text).substr(word_start, next - word_start), ids,
                         scratch.unigram);
    word_start = next;
  }
}

std::vector<std::vector<int32_t>> T5Tokenizer::encode_batch(
    std::span<const std::string> texts, int threads, std::optional<int64_t> max_length) const {
  std::vector<std::vector<int32_t>> result(texts.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t workers = std::min(static_cast<size_t>(threads), texts.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  size_t error_index = 0;
  std::exception_ptr error;
  auto work = [&] {
    Scratch scratch;
    while (!failed.load(std::memory_order_relaxed)) {
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= texts.size()) return;
      try {
        encode_into(texts[i], max_length, result[i], scratch);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error || i < error_index) {
          error = std::current_exception();
          error_index = i;
        }
        failed = true;
      }
    }
  };
  if (workers <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(workers);
    for (size_t t = 0; t < workers; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      fail("text ", error_index, ": ", e.what());
    }
  }
  return result;
}

std::string T5Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens,
                                bool clean_up_tokenization_spaces) const {
  std::string text;
  bool first = true;
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special_tokens && special_[id]) continue;
    // Metaspace decoder (tokenizers 0.13): "▁" is a space, except in the first token, where it
    // is dropped (every one of them, not only a leading one).
    const std::string& piece = pieces_[id];
    size_t pos = 0;
    while (pos < piece.size()) {
      if (piece.compare(pos, kMetaspace.size(), kMetaspace) == 0) {
        if (!first) text.push_back(' ');
        pos += kMetaspace.size();
      } else {
        text.push_back(piece[pos++]);
      }
    }
    first = false;
  }
  if (clean_up_tokenization_spaces) {
    // PreTrainedTokenizerBase.clean_up_tokenization (transformers 4.26), in its order.
    static constexpr std::string_view kCleanUps[][2] = {
        {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    std::string buffer;
    for (const auto& rule : kCleanUps) replace_all(text, rule[0], rule[1], buffer);
  }
  return text;
}

const std::string& T5Tokenizer::id_to_piece(int32_t id) const {
  T5_CHECK(id >= 0 && id < vocab_size(), "tokenizer: id ", id, " is outside the vocabulary [0, ",
           vocab_size(), ")");
  return pieces_[id];
}

bool T5Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

}  // namespace t5zero
