#include "train/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace t5zero {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char text[48];
  if (h > 0) {
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(text, sizeof(text), "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  }
  return text;
}

std::string format_progress_line(const ProgressState& state, int bar_width) {
  const double fraction =
      state.total_steps > 0
          ? std::clamp(static_cast<double>(state.step) / static_cast<double>(state.total_steps),
                       0.0, 1.0)
          : 0.0;
  const int filled = static_cast<int>(fraction * bar_width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(bar_width - filled), '-');
  char text[256];
  std::snprintf(text, sizeof(text), "step %lld/%lld [%s] %3d%% loss %.4f lr %.2e %.0f tok/s ETA %s",
                static_cast<long long>(state.step), static_cast<long long>(state.total_steps),
                bar.c_str(), static_cast<int>(fraction * 100), state.loss, state.lr,
                state.tokens_per_s, format_duration(state.eta_s).c_str());
  return text;
}

bool is_terminal(std::FILE* stream) {
  return ::isatty(::fileno(stream)) == 1;
}

ProgressBar::ProgressBar(bool enabled, std::FILE* out) : enabled_(enabled), out_(out) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::update(const ProgressState& state) {
  if (!enabled_) return;
  // "\r" and erase-to-end-of-line: redraw in place.
  std::fprintf(out_, "\r%s\033[K", format_progress_line(state).c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(out_, "\n");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace t5zero
