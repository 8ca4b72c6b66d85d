// The op profiler behind `t5zero bench --profile` (autograd/op_profile.h): which ops it charges,
// how many calls, that nested timers are not counted twice, and that nothing is recorded while no
// profile is open.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "autograd/op_profile.h"
#include "tensor/ops.h"

using namespace t5zero;
using namespace t5zero::autograd;

namespace {

std::map<std::string, OpTiming> by_name(const std::vector<OpTiming>& timings) {
  std::map<std::string, OpTiming> m;
  for (const OpTiming& t : timings) m[t.op] = t;
  return m;
}

// y = sum(tanh(x·w)), one of each kind of node.
Variable small_graph(const Variable& x, const Variable& w) {
  return sum(tanh(matmul(x, w)));
}

}  // namespace

TEST_CASE("forward and backward calls are counted per op, and times add up to the span") {
  Variable x(Tensor::ones({8, 16}), true);
  Variable w(Tensor::full({16, 4}, 0.1), true);
  small_graph(x, w).backward();  // before the profile: not recorded
  OpProfile profile;
  const auto start = std::chrono::steady_clock::now();
  profile.restart_forward_clock();
  for (int i = 0; i < 3; ++i) small_graph(x, w).backward();
  const double span =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::map<std::string, OpTiming> t = by_name(profile.timings());
  for (const char* op : {"matmul", "tanh", "sum"}) {
    CAPTURE(op);
    REQUIRE(t.count(op) == 1);
    CHECK(t[op].forward_calls == 3);
    CHECK(t[op].backward_calls == 3);
    CHECK(t[op].forward_seconds >= 0);
    CHECK(t[op].backward_seconds >= 0);
  }
  // Every gradient edge is one accumulation: sum → tanh, tanh → matmul, matmul → x and w;
  // 4 per backward.
  REQUIRE(t.count("accumulate_grad") == 1);
  CHECK(t["accumulate_grad"].backward_calls == 12);
  double total = 0;
  for (const auto& [name, timing] : t) total += timing.forward_seconds + timing.backward_seconds;
  CHECK(total <= span);
  // Largest first.
  const std::vector<OpTiming> sorted = profile.timings();
  for (size_t i = 1; i < sorted.size(); ++i) {
    CHECK(sorted[i - 1].forward_seconds + sorted[i - 1].backward_seconds >=
          sorted[i].forward_seconds + sorted[i].backward_seconds);
  }
  profile.clear();
  CHECK(profile.timings().empty());
}

TEST_CASE(
    "a checkpoint's recomputation is its backward; the recomputed ops' backwards are theirs") {
  Variable x(Tensor::ones({8, 16}), true);
  Variable w(Tensor::full({16, 4}, 0.1), true);
  OpProfile profile;
  Variable y =
      checkpoint([&](const std::vector<Variable>& in) { return tanh(matmul(in[0], w)); }, {x});
  sum(y).backward();
  std::map<std::string, OpTiming> t = by_name(profile.timings());
  REQUIRE(t.count("checkpoint") == 1);
  CHECK(t["checkpoint"].forward_calls == 1);
  CHECK(t["checkpoint"].backward_calls == 1);
  // Forward: matmul and tanh ran once without grad (recorded), then again inside checkpoint's
  // backward (charged to the checkpoint, not recorded as forwards).
  CHECK(t["matmul"].forward_calls == 1);
  CHECK(t["tanh"].forward_calls == 1);
  // Their backwards ran once, inside the checkpoint's, and are charged to them.
  CHECK(t["matmul"].backward_calls == 1);
  CHECK(t["tanh"].backward_calls == 1);
}

TEST_CASE("timers do nothing without a profile, and one profile per thread") {
  {
    OpTimer timer("unrecorded");  // no profile open: a no-op
  }
  OpProfile profile;
  CHECK(profile.timings().empty());
  CHECK_THROWS_WITH_AS(OpProfile(), "OpProfile: a profile is already recording on this thread",
                       Error);
}
