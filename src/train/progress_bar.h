// The training progress line on stderr: step/total, a bar, loss, lr, tokens/s and the ETA,
// redrawn in place on a terminal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace t5zero {

struct ProgressState {
  int64_t step = 0;  // optimizer steps done
  int64_t total_steps = 0;
  double loss = 0;  // of the last step
  double lr = 0;
  double tokens_per_s = 0;
  double eta_s = 0;  // < 0: unknown
};

// "step 120/3000 [####------] 4% loss 2.3456 lr 3.00e-04 1234 tok/s ETA 1:02:03"
std::string format_progress_line(const ProgressState& state, int bar_width = 20);
// "1:02:03", "4:05"; "?" when negative or not finite.
std::string format_duration(double seconds);

class ProgressBar {
 public:
  // Draws only when `enabled` (a terminal, or asked for); `out` is normally stderr.
  ProgressBar(bool enabled, std::FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(const ProgressState& state);
  // Erases the line so other output starts on a clean line; the next update redraws it.
  void clear();
  // Ends the line for good.
  void finish();

 private:
  bool enabled_;
  std::FILE* out_;
  bool drawn_ = false;
};

// Whether `stream` is a terminal.
bool is_terminal(std::FILE* stream);

}  // namespace t5zero
