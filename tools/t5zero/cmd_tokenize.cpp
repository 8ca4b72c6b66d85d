// t5zero tokenize: token ids of texts (or texts of ids), as transformers' T5TokenizerFast gives
// them, so a user can check our tokenizer against theirs line by line.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "io/json.h"
#include "io/tokenizer.h"
#include "train/text_lines.h"

namespace t5zero::cli {

namespace {

void append_ids_json(const std::vector<int32_t>& ids, std::string& out) {
  out.push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out.append(", ");  // json.dumps' separator, so outputs diff cleanly against Python's
    out.append(std::to_string(ids[i]));
  }
  out.append("]\n");
}

std::vector<int32_t> parse_ids(const std::string& text, const std::string& source) {
  const JsonValue array = JsonValue::parse_text(text, source);
  if (!array.is_array()) array.fail_here("expected a JSON array of token ids");
  std::vector<int32_t> ids;
  for (const JsonValue& v : array.as_array()) {
    const int64_t id = v.as_int();
    if (id < 0 || id > INT32_MAX) v.fail_here("token id ", id, " is out of range");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

}  // namespace

int run_tokenize(int argc, char** argv) {
  FlagSet flags("tokenize",
                "Token ids of texts as transformers' T5TokenizerFast gives them: one JSON array\n"
                "per input line, </s> included. With --decode, each input line is a JSON array\n"
                "of ids and the decoded text is printed instead.");
  flags.add_required("tokenizer", "folder with spiece.model (and tokenizer.json etc.)");
  flags.add_string("text", "", "one text to tokenize (or, with --decode, one JSON array of ids)");
  flags.add_string("input_file", "", "file of texts, one per line (see --format)");
  flags.add_string("format", "auto",
                   "--input_file's lines: text: plain text; jsonl: one JSON string per line "
                   "(texts may hold newlines); auto: jsonl when the file starts with '\"'");
  flags.add_int("max_length", 0,
                "truncate to at most this many ids, </s> last (truncation=True); 0: no limit");
  flags.add_bool("decode", false, "input lines are JSON arrays of ids; print their text");
  flags.add_bool("skip_special_tokens", true, "--decode: leave out <pad>, </s>, <unk>, sentinels");
  flags.add_int("threads", 0, "encoding threads; 0: all hardware threads");
  flags.add_bool("time", false, "print the encoding time and throughput to stderr");
  if (!flags.parse(argc, argv, 2)) return 0;

  const bool has_text = flags.was_set("text");
  const bool has_file = flags.was_set("input_file");
  if (has_text == has_file) throw UsageError("give exactly one of --text and --input_file");
  const int64_t max_length = flags.get_int("max_length");
  if (max_length < 0) throw UsageError("--max_length must be 0 (no limit) or positive");
  const int64_t threads = flags.get_int("threads");
  if (threads < 0 || threads > 4096) throw UsageError("--threads must be 0..4096");
  const bool decode = flags.get_bool("decode");

  const T5Tokenizer tokenizer = T5Tokenizer::load(flags.get_string("tokenizer"));
  std::vector<std::string> inputs;
  std::string source = "--text";
  if (has_text) {
    inputs.push_back(flags.get_string("text"));
  } else {
    source = flags.get_string("input_file");
    TextLinesFormat format;
    try {
      format = parse_text_lines_format(flags.get_string("format"));
    } catch (const Error& e) {
      throw UsageError(std::string("--format: ") + e.what());
    }
    // Id lists are JSON arrays, one per line, whatever --format says.
    inputs = read_text_lines(source, decode ? TextLinesFormat::plain : format);
  }

  std::string out;
  if (decode) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string where = has_text ? source : source + " line " + std::to_string(i + 1);
      out.append(
          tokenizer.decode(parse_ids(inputs[i], where), flags.get_bool("skip_special_tokens")));
      out.push_back('\n');
    }
  } else {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<std::vector<int32_t>> ids =
        tokenizer.encode_batch(inputs, static_cast<int>(threads),
                               max_length > 0 ? std::optional<int64_t>(max_length) : std::nullopt);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t bytes = 0;
    size_t id_count = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      bytes += inputs[i].size();
      id_count += ids[i].size();
      append_ids_json(ids[i], out);
    }
    if (flags.get_bool("time")) {
      std::fprintf(stderr,
                   "tokenize: %zu texts, %zu bytes, %zu ids in %.6f s (%.2f MB/s, %lld threads "
                   "asked)\n",
                   inputs.size(), bytes, id_count, seconds, bytes / 1e6 / seconds,
                   static_cast<long long>(threads));
    }
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    fail("tokenize: cannot write the output");
  }
  return 0;
}

}  // namespace t5zero::cli
