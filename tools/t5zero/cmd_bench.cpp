// t5zero bench: speed measurements. --ops: op micro-benchmarks against their baselines.
#include "commands.h"
#include "flags.h"

namespace t5zero::cli {

int run_bench(int argc, char** argv) {
  FlagSet flags("bench", "Measure speed; every figure is printed next to its baseline.");
  flags.add_bool("ops", false, "op micro-benchmarks (matmul GFLOP/s against BLAS called directly)");
  if (!flags.parse(argc, argv, 2)) return 0;
  throw UsageError("nothing to measure: pass --ops");
}

}  // namespace t5zero::cli
