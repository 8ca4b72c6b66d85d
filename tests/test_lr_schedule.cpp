// Learning-rate schedules against DeepSpeed 0.8's formulas (transcribed in
// tools/reference/make_optim_fixture.py and driven as the DeepSpeed engine drives them), against
// transformers' get_linear_schedule_with_warmup itself, and against hand-worked values.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "optim/lr_schedule.h"
#include "tensor/error.h"

using namespace t5zero;

namespace {

struct FixtureCase {
  std::string name;
  LrScheduleSpec spec;
  std::vector<double> lrs;  // lr of optimizer steps 1..N
};

LrScheduleKind kind_named(const std::string& kind) {
  if (kind == "WarmupLR") return LrScheduleKind::warmup_lr;
  if (kind == "WarmupDecayLR") return LrScheduleKind::warmup_decay_lr;
  REQUIRE(kind == "linear");
  return LrScheduleKind::linear_with_warmup;
}

std::vector<FixtureCase> read_fixture() {
  std::ifstream in(std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/optim/lr_schedules.txt");
  REQUIRE(in);
  std::vector<FixtureCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string tag;
    fields >> tag;
    if (tag == "case") {
      FixtureCase c;
      std::string kind, warmup_type;
      int64_t warmup = 0, total = 0;
      fields >> c.name >> kind >> c.spec.base_lr >> c.spec.warmup.warmup_min_lr >>
          c.spec.warmup.warmup_max_lr >> warmup >> warmup_type >> total;
      REQUIRE(fields);
      c.spec.kind = kind_named(kind);
      c.spec.warmup.warmup_num_steps = warmup;
      c.spec.warmup.warmup_type = warmup_type == "linear" ? WarmupType::linear : WarmupType::log;
      c.spec.warmup_steps = warmup;
      c.spec.total_num_steps = total;
      cases.push_back(c);
    } else {
      REQUIRE(tag == "lr");
      REQUIRE(!cases.empty());
      int64_t step = 0;
      double lr = 0.0;
      fields >> step >> lr;
      REQUIRE(fields);
      REQUIRE(step == static_cast<int64_t>(cases.back().lrs.size()) + 1);
      cases.back().lrs.push_back(lr);
    }
  }
  return cases;
}

// The lr of optimizer steps 1..n under a scheduler.
std::vector<double> run(const LrScheduleSpec& spec, size_t n) {
  LrScheduler s(spec);
  std::vector<double> lrs;
  for (size_t i = 0; i < n; ++i) {
    lrs.push_back(s.lr());
    s.advance();
  }
  return lrs;
}

}  // namespace

TEST_CASE("every schedule gives the reference's lr at every optimizer step") {
  const std::vector<FixtureCase> cases = read_fixture();
  REQUIRE(cases.size() == 8);
  for (const FixtureCase& c : cases) {
    CAPTURE(c.name);
    const std::vector<double> lrs = run(c.spec, c.lrs.size());
    for (size_t i = 0; i < lrs.size(); ++i) {
      CAPTURE(i + 1);
      CHECK(std::fabs(lrs[i] - c.lrs[i]) <= 1e-12 * std::fabs(c.lrs[i]));
    }
  }
}

TEST_CASE(
    "the reference run (WarmupLR, warmup 0, lr 1e-4): step 1 at 1e-4, step 2 at 0, then 1e-4") {
  // DeepSpeed 0.8 clamps warmup_num_steps to 2 and uses log warmup: gamma(0) = ln 1 / ln 2 = 0.
  LrScheduleSpec spec;
  spec.kind = LrScheduleKind::warmup_lr;
  spec.base_lr = 1e-4;
  spec.warmup = {0.0, 1e-4, 0, WarmupType::log};
  CHECK(run(spec, 6) == std::vector<double>{1e-4, 0.0, 1e-4, 1e-4, 1e-4, 1e-4});
}

TEST_CASE("hand-worked DeepSpeed warmups") {
  const WarmupParams linear{0.0, 1.0, 4, WarmupType::linear};
  CHECK(warmup_lr(linear, 0) == 0.0);
  CHECK(warmup_lr(linear, 1) == 0.25);
  CHECK(warmup_lr(linear, 3) == 0.75);
  CHECK(warmup_lr(linear, 4) == 1.0);
  CHECK(warmup_lr(linear, 1000) == 1.0);  // constant after warmup, no decay

  const WarmupParams log{0.1, 1.1, 8, WarmupType::log};
  CHECK(warmup_lr(log, 0) == doctest::Approx(0.1));
  CHECK(warmup_lr(log, 1) == doctest::Approx(0.1 + std::log(2.0) / std::log(8.0)));  // 1/3 of it
  CHECK(warmup_lr(log, 3) == doctest::Approx(0.1 + 2.0 / 3.0));
  CHECK(warmup_lr(log, 7) == doctest::Approx(1.1));

  // WarmupDecayLR: W = 4, total 12: decay (12 - it) / 8 from it = 4, 0 at 12 and after.
  CHECK(warmup_decay_lr(linear, 12, 2) == 0.5);
  CHECK(warmup_decay_lr(linear, 12, 4) == 1.0);
  CHECK(warmup_decay_lr(linear, 12, 8) == 0.5);
  CHECK(warmup_decay_lr(linear, 12, 12) == 0.0);
  CHECK(warmup_decay_lr(linear, 12, 20) == 0.0);
}

TEST_CASE("hand-worked HF linear schedule and constant") {
  CHECK(linear_with_warmup_factor(2, 10, 0) == 0.0);
  CHECK(linear_with_warmup_factor(2, 10, 1) == 0.5);
  CHECK(linear_with_warmup_factor(2, 10, 2) == 1.0);
  CHECK(linear_with_warmup_factor(2, 10, 6) == 0.5);
  CHECK(linear_with_warmup_factor(2, 10, 10) == 0.0);
  CHECK(linear_with_warmup_factor(2, 10, 11) == 0.0);
  LrScheduleSpec spec;
  spec.kind = LrScheduleKind::linear_with_warmup;
  spec.base_lr = 2.0;
  spec.warmup_steps = 2;
  spec.total_num_steps = 10;
  CHECK(run(spec, 4) == std::vector<double>{0.0, 1.0, 2.0, 1.75});
  spec.kind = LrScheduleKind::constant;
  CHECK(run(spec, 3) == std::vector<double>{2.0, 2.0, 2.0});
}

TEST_CASE("the scheduler state round-trips through JSON and resumes at the same lr") {
  LrScheduleSpec spec;
  spec.kind = LrScheduleKind::warmup_decay_lr;
  spec.base_lr = 1e-3;
  spec.warmup = {0.0, 1e-3, 5, WarmupType::linear};
  spec.total_num_steps = 30;
  LrScheduler a(spec);
  for (int i = 0; i < 7; ++i) a.advance();
  const std::string state = a.state_json();
  CHECK(state == "{\"type\":\"WarmupDecayLR\",\"steps_taken\":7}");
  LrScheduler b(spec);
  b.load_state_json(state, "checkpoint/scheduler.json");
  CHECK(b.steps_taken() == 7);
  CHECK(b.lr() == a.lr());
  CHECK(b.lr() == warmup_decay_lr(spec.warmup, 30, 6));

  LrScheduleSpec other = spec;
  other.kind = LrScheduleKind::warmup_lr;
  LrScheduler c(other);
  CHECK_THROWS_WITH_AS(c.load_state_json(state, "checkpoint/scheduler.json"),
                       "checkpoint/scheduler.json: lr schedule state: type: expected \"WarmupLR\" "
                       "(the configured schedule), got \"WarmupDecayLR\"",
                       Error);
  CHECK_THROWS_WITH_AS(c.load_state_json("{\"type\":\"WarmupLR\",\"steps_taken\":-2}", "s.json"),
                       "s.json: lr schedule state: steps_taken: expected an integer >= 0", Error);
  CHECK_THROWS_AS(c.load_state_json("{\"type\":", "s.json"), Error);
}

TEST_CASE("schedules no library would accept are refused, naming the field") {
  LrScheduleSpec spec;
  spec.kind = LrScheduleKind::warmup_decay_lr;
  spec.base_lr = 1e-3;
  CHECK_THROWS_WITH_AS(LrScheduler{spec},
                       "lr schedule WarmupDecayLR: total_num_steps: expected > 0, got 0", Error);
  spec.kind = LrScheduleKind::warmup_lr;
  spec.warmup.warmup_num_steps = -1;
  CHECK_THROWS_WITH_AS(LrScheduler{spec},
                       "lr schedule WarmupLR: warmup_num_steps: expected >= 0, got -1", Error);
  CHECK_THROWS_WITH_AS(warmup_lr(WarmupParams{}, -1),
                       "lr schedule: last_batch_iteration: expected >= 0, got -1", Error);
}
