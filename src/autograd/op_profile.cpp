#include "autograd/op_profile.h"

#include <algorithm>
#include <unordered_map>

#include "tensor/error.h"

namespace t5zero::autograd {

namespace op_profile_detail {

struct ThreadProfile {
  std::unordered_map<std::string, OpTiming> ops;
  std::chrono::steady_clock::time_point forward_clock = std::chrono::steady_clock::now();
  OpTimer* innermost = nullptr;  // the open OpTimer, if any

  OpTiming& entry(const std::string& op) {
    OpTiming& t = ops[op];
    if (t.op.empty()) t.op = op;
    return t;
  }
};

thread_local ThreadProfile* current = nullptr;

void forward_done(const char* op) {
  // Inside a timed backward (a checkpoint recomputing its block) the time is the backward's.
  if (current->innermost != nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  OpTiming& t = current->entry(op);
  t.forward_seconds += std::chrono::duration<double>(now - current->forward_clock).count();
  ++t.forward_calls;
  current->forward_clock = now;
}

}  // namespace op_profile_detail

using op_profile_detail::current;
using op_profile_detail::ThreadProfile;

OpProfile::OpProfile() : profile_(new ThreadProfile()) {
  T5_CHECK(current == nullptr, "OpProfile: a profile is already recording on this thread");
  current = profile_;
}

OpProfile::~OpProfile() {
  current = nullptr;
  delete profile_;
}

void OpProfile::restart_forward_clock() {
  profile_->forward_clock = std::chrono::steady_clock::now();
}

std::vector<OpTiming> OpProfile::timings() const {
  std::vector<OpTiming> all;
  for (const auto& [name, timing] : profile_->ops) all.push_back(timing);
  std::sort(all.begin(), all.end(), [](const OpTiming& a, const OpTiming& b) {
    return a.forward_seconds + a.backward_seconds > b.forward_seconds + b.backward_seconds;
  });
  return all;
}

void OpProfile::clear() {
  profile_->ops.clear();
}

void OpTimer::start(const char* op) {
  profile_ = current;
  parent_ = profile_->innermost;
  profile_->innermost = this;
  op_ = op;
  begin_ = std::chrono::steady_clock::now();
}

void OpTimer::stop() {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - begin_).count();
  OpTiming& t = profile_->entry(op_);
  t.backward_seconds += seconds - nested_seconds_;
  ++t.backward_calls;
  profile_->innermost = parent_;
  if (parent_ != nullptr) {
    parent_->nested_seconds_ += seconds;
  } else {
    profile_->forward_clock = now;  // the next forward op starts counting here
  }
}

}  // namespace t5zero::autograd
