// The subcommands of t5zero. Each lives in its own cmd_<name>.cpp and is listed in main.cpp.
#pragma once

namespace t5zero::cli {

// Each returns the process exit status; argv[0] is "t5zero", argv[1] the subcommand name.
int run_bench(int argc, char** argv);
int run_consolidate(int argc, char** argv);
int run_estimate(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_grads(int argc, char** argv);
int run_prepare(int argc, char** argv);
int run_rouge(int argc, char** argv);
int run_tokenize(int argc, char** argv);
int run_train(int argc, char** argv);

}  // namespace t5zero::cli
