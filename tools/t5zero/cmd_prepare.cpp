// t5zero prepare: a raw summarization dataset (JSONL or CSV) to the tokenized dataset training
// reads, printing the numbers the reference recipe prints (src/io/prepare.h).
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "flags.h"
#include "io/model_id.h"
#include "io/prepare.h"

namespace t5zero::cli {

namespace {

// Flags cannot easily carry newlines, so the template's \n, \t and \\ are escapes.
std::string unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char next = text[++i];
    if (next == 'n') {
      out += '\n';
    } else if (next == 't') {
      out += '\t';
    } else if (next == '\\') {
      out += '\\';
    } else {
      out += '\\';
      out += next;
    }
  }
  return out;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

// The command line as a shell would take it back: arguments with special characters quoted.
std::string quoted_command_line(int argc, char** argv) {
  std::string out = "t5zero";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-_=./:,+@%") == std::string::npos;
    out += " ";
    if (plain) {
      out += arg;
      continue;
    }
    out += "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += "'";
  }
  return out;
}

int64_t parse_length(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const int64_t value = std::stoll(text, &used);
    if (used == text.size() && value >= 1) return value;
  } catch (const std::exception&) {
  }
  throw UsageError("--" + flag + ": expected a positive integer or a rule name, got '" + text +
                   "'");
}

std::string tokenizer_folder(const FlagSet& flags) {
  const bool by_model = flags.was_set("model_id");
  const bool by_tokenizer = flags.was_set("tokenizer");
  if (by_model == by_tokenizer) {
    throw UsageError("name the tokenizer with exactly one of --model_id and --tokenizer");
  }
  if (by_tokenizer) return flags.get_string("tokenizer");
  const std::string model_id = flags.get_string("model_id");
  if (std::filesystem::is_directory(model_id)) return model_id;
  // A hub id found in the local Hugging Face cache; built-in architectures have no tokenizer.
  return resolve_model_id(model_id, {}).folder;
}

}  // namespace

int run_prepare(int argc, char** argv) {
  FlagSet flags("prepare",
                "Tokenize a summarization dataset (JSONL or CSV, a file or a folder of files named "
                "by split) into the dataset format training reads (docs/dataset_format.md).");
  flags.add_required("dataset_path",
                     "a .jsonl/.csv file (a 'split' column assigns rows to splits) or a folder of "
                     "train/validation/test files");
  flags.add_string("model_id", "", "model folder or cached hub id whose tokenizer to use");
  flags.add_string("tokenizer", "", "tokenizer folder (spiece.model, tokenizer.json, ...)");
  flags.add_required("output_dir", "the dataset folder to write");
  flags.add_string("text_column", "article", "column holding the text to summarize");
  flags.add_string("summary_column", "highlights", "column holding the summary");
  flags.add_string("split_column", "split", "column naming each row's split (single files)");
  flags.add_string("prompt_template", escape(kDefaultPromptTemplate),
                   "input template; {input} is the text, \\n a newline, {{ }} braces");
  flags.add_string("max_source_length", "auto",
                   "auto (the recipe's: printed, inputs cut at model_max_length) or N (cut at N)");
  flags.add_string("max_target_length", "p95",
                   "p95 (int of the 95th percentile of summary lengths), auto (longest) or N");
  flags.add_string("padding", "longest",
                   "longest (unpadded rows, padded per batch) or max_length (as the recipe)");
  flags.add_string("train_split", "train", "the input split to train on");
  flags.add_string("eval_split", "test", "the input split to evaluate on");
  flags.add_double("eval_fraction", 0.0,
                   "carve this fraction of the train split out as the eval split instead");
  flags.add_int("seed", 42, "seed of the --eval_fraction row choice");
  flags.add_int("num_threads", 0, "tokenizer threads (0: all cores)");
  flags.add_bool("overwrite", false, "replace an existing output folder written by prepare");
  flags.add_bool("skip_invalid", false, "skip and count malformed rows instead of failing");
  flags.add_bool("progress", false, "show the progress line even when stderr is not a terminal");
  if (!flags.parse(argc, argv, 2)) return 0;

  PrepareOptions options;
  options.dataset_path = flags.get_string("dataset_path");
  options.tokenizer_dir = tokenizer_folder(flags);
  options.output_dir = flags.get_string("output_dir");
  options.text_column = flags.get_string("text_column");
  options.summary_column = flags.get_string("summary_column");
  options.split_column = flags.get_string("split_column");
  options.prompt_template = unescape(flags.get_string("prompt_template"));
  if (const std::string source = flags.get_string("max_source_length"); source != "auto") {
    options.max_source_length = parse_length("max_source_length", source);
  }
  if (const std::string target = flags.get_string("max_target_length"); target == "p95") {
    options.target_rule = TargetLengthRule::p95;
  } else if (target == "auto") {
    options.target_rule = TargetLengthRule::longest;
  } else {
    options.target_rule = TargetLengthRule::fixed;
    options.max_target_length = parse_length("max_target_length", target);
  }
  if (const std::string padding = flags.get_string("padding"); padding == "longest") {
    options.padding = Padding::longest;
  } else if (padding == "max_length") {
    options.padding = Padding::max_length;
  } else {
    throw UsageError("--padding: expected longest or max_length, got '" + padding + "'");
  }
  options.train_split = flags.get_string("train_split");
  options.eval_split = flags.get_string("eval_split");
  options.eval_fraction = flags.get_double("eval_fraction");
  if (options.eval_fraction < 0.0 || options.eval_fraction >= 1.0) {
    throw UsageError("--eval_fraction: expected a fraction in (0, 1), got " +
                     flags.get_string("eval_fraction"));
  }
  options.seed = flags.get_int("seed");
  options.num_threads = static_cast<int>(flags.get_int("num_threads"));
  options.overwrite = flags.get_bool("overwrite");
  options.skip_invalid = flags.get_bool("skip_invalid");
  options.progress = flags.get_bool("progress") || ::isatty(STDERR_FILENO) == 1;
  options.command_line = quoted_command_line(argc, argv);
  prepare_dataset(options, std::cout, std::cerr);
  return 0;
}

}  // namespace t5zero::cli
