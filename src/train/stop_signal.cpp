#include "train/stop_signal.h"

#include <csignal>

namespace t5zero {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
struct sigaction g_previous_int;
struct sigaction g_previous_term;

extern "C" void record_stop_signal(int signal) {
  if (g_stop_signal != 0) {
    // Second signal: the default action (terminate), as the user insists.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  g_stop_signal = signal;
}

}  // namespace

StopSignalGuard::StopSignalGuard() {
  struct sigaction action = {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignalGuard::~StopSignalGuard() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

int stop_requested() {
  return g_stop_signal;
}

void request_stop(int signal) {
  g_stop_signal = signal;
}

void clear_stop_request() {
  g_stop_signal = 0;
}

}  // namespace t5zero
