// Wall time per autograd op, forward and backward: where a training step's time goes
// (`t5zero bench --profile`). Off unless an OpProfile is alive on the thread; then every hook
// costs one thread-local load, so the engine keeps its hooks in all builds.
//
// Forward: each op is charged the wall time since the previous op finished on this thread — its
// own kernel plus any host glue just before it (a mask built on the host, say). Backward: each
// node's backward is timed, and time spent in a nested OpTimer (gradient accumulation, the
// backward nodes of a checkpoint's recomputation) is charged to the nested timer, not to both.
// The table therefore adds up to the profiled span, less the engine's own bookkeeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace t5zero::autograd {

struct OpTiming {
  std::string op;  // the node name given to make_result ("matmul", "softmax", ...)
  double forward_seconds = 0;
  double backward_seconds = 0;
  int64_t forward_calls = 0;
  int64_t backward_calls = 0;
};

namespace op_profile_detail {
struct ThreadProfile;
extern thread_local ThreadProfile* current;
void forward_done(const char* op);
}  // namespace op_profile_detail

// Records op timings on the constructing thread until destroyed. One per thread at a time.
class OpProfile {
 public:
  OpProfile();
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  // Starts the forward clock afresh (call before a forward pass, so the time before it is not
  // charged to its first op).
  void restart_forward_clock();
  // Everything recorded so far, largest total first.
  std::vector<OpTiming> timings() const;
  // Forgets what was recorded (after warm-up steps).
  void clear();

 private:
  op_profile_detail::ThreadProfile* profile_;
};

// Charges the wall time of its scope, less that of nested OpTimers, to `op`'s backward.
class OpTimer {
 public:
  explicit OpTimer(const char* op) {
    if (op_profile_detail::current != nullptr) start(op);
  }
  explicit OpTimer(const std::string& op) : OpTimer(op.c_str()) {}
  ~OpTimer() {
    if (profile_ != nullptr) stop();
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  void start(const char* op);
  void stop();

  op_profile_detail::ThreadProfile* profile_ = nullptr;
  OpTimer* parent_ = nullptr;
  std::string op_;
  std::chrono::steady_clock::time_point begin_;
  double nested_seconds_ = 0;
};

// The forward hook: make_result calls it once per op.
inline void profile_forward_op(const char* op) {
  if (op_profile_detail::current != nullptr) op_profile_detail::forward_done(op);
}

}  // namespace t5zero::autograd
