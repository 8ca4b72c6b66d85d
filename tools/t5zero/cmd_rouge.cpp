// t5zero rouge: ROUGE-1/2/L/Lsum of line-aligned prediction and reference files, as the
// reference recipe scores its generated summaries.
#include <cstdio>

#include "commands.h"
#include "flags.h"
#include "tensor/error.h"
#include "train/rouge.h"
#include "train/text_lines.h"

namespace t5zero::cli {

int run_rouge(int argc, char** argv) {
  FlagSet flags(
      "rouge",
      "ROUGE-1/2/L/Lsum (x100, mean F1 over line pairs) of predictions against references,\n"
      "as rouge-score's RougeScorer(use_stemmer=True) computes them. The reference recipe\n"
      "reports the bootstrap median of the mean instead (evaluate's aggregator), which\n"
      "differs from the mean by resampling noise. Prints a JSON object on stdout and a\n"
      "readable line on stderr.");
  flags.add_required("predictions", "file of predicted texts, one per line");
  flags.add_required("references",
                     "file of reference texts, one per line, aligned with --predictions");
  flags.add_string("format", "auto",
                   "text: one text per line; jsonl: one JSON string per line (texts may hold "
                   "newlines); auto: jsonl when a file starts with '\"'");
  flags.add_bool(
      "split_sentences", true,
      "before ROUGE-Lsum, put each sentence on its own line as the recipe does "
      "(nltk.sent_tokenize); false: Lsum uses the texts' own lines, as rouge-score alone");
  if (!flags.parse(argc, argv, 2)) return 0;

  TextLinesFormat format;
  try {
    format = parse_text_lines_format(flags.get_string("format"));
  } catch (const Error& e) {
    throw UsageError(std::string("--format: ") + e.what());
  }
  auto [predictions, references] = read_aligned_text_lines(flags.get_string("predictions"),
                                                           flags.get_string("references"), format);
  T5_CHECK(!predictions.empty(), flags.get_string("predictions"), " and ",
           flags.get_string("references"), " hold no texts to score");
  RougeSummary s = corpus_rouge(
      predictions, references,
      flags.get_bool("split_sentences") ? LsumSentences::punkt : LsumSentences::newlines);

  std::printf(
      "{\"rouge1\": %.4f, \"rouge2\": %.4f, \"rougeL\": %.4f, \"rougeLsum\": %.4f, \"pairs\": "
      "%zu}\n",
      s.rouge1, s.rouge2, s.rougeL, s.rougeLsum, s.pairs);
  std::fprintf(stderr,
               "ROUGE-1 %.2f  ROUGE-2 %.2f  ROUGE-L %.2f  ROUGE-Lsum %.2f  (mean F1 x100 over %zu "
               "pairs)\n",
               s.rouge1, s.rouge2, s.rougeL, s.rougeLsum, s.pairs);
  return 0;
}

}  // namespace t5zero::cli
