// t5zero: one binary, one subcommand per job.
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "commands.h"
#include "dist/mpi_runtime.h"
#include "flags.h"
#include "tensor/error.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"bench", "measure speed: a training step (--model_id), op micro-benchmarks (--ops)",
     t5zero::cli::run_bench},
    {"consolidate", "a training checkpoint (ZeRO parts too) -> a Hugging Face model folder",
     t5zero::cli::run_consolidate},
    {"estimate", "memory per GPU and per node for a model, hardware and ZeRO options; fits?",
     t5zero::cli::run_estimate},
    {"eval", "loss and ROUGE of a model on a prepared split", t5zero::cli::run_eval},
    {"generate", "summaries of texts (greedy or beam search)", t5zero::cli::run_generate},
    {"grads", "loss and every parameter's gradient for one batch", t5zero::cli::run_grads},
    {"prepare", "tokenize a summarization dataset for training", t5zero::cli::run_prepare},
    {"rouge", "ROUGE-1/2/L/Lsum of predictions against references", t5zero::cli::run_rouge},
    {"tokenize", "token ids of texts, or texts of ids (--decode)", t5zero::cli::run_tokenize},
    {"train", "fine-tune on a prepared dataset, evaluate, save, resume", t5zero::cli::run_train},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: t5zero <command> [flags]   (t5zero <command> --help for its flags)\n\n");
  std::fprintf(out, "commands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  // Under mpirun/mpiexec every rank runs main: MPI is initialised first and finalised when main
  // returns. Without a launcher this does nothing.
  std::optional<t5zero::dist::MpiRuntime> mpi;
  try {
    mpi.emplace();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "t5zero: cannot start MPI: %s\n", e.what());
    return 1;
  }
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(argc, argv);
    } catch (const t5zero::cli::UsageError& e) {
      std::fprintf(stderr, "t5zero %s: %s\n(t5zero %s --help lists the flags)\n", c.name, e.what(),
                   c.name);
      return 2;
    } catch (const std::exception& e) {
      // The other ranks may be waiting in a collective for this one: end the whole job.
      if (mpi->world_size() > 1)
        t5zero::dist::abort_job(std::string(c.name) + ": error: " + e.what());
      std::fprintf(stderr, "t5zero %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "t5zero: unknown command '%s'\n\n", name.c_str());
  print_usage(stderr);
  return 2;
}
