// SIGINT and SIGTERM during training: the handler only records the signal; the training loop
// checks after each optimizer step, saves a checkpoint (when saving is on) and returns cleanly,
// so an interrupted run can be resumed where it stopped.
#pragma once

namespace t5zero {

// While alive, SIGINT and SIGTERM record a stop request instead of killing the process; the
// previous handlers come back on destruction. A second signal while a request is pending gets
// the default action, so a stuck run can still be killed with a second Ctrl-C.
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;
};

// The signal number of the pending stop request, or 0.
int stop_requested();
// What the handler does; also how a caller (a test, a rank told to stop) asks for a stop.
void request_stop(int signal);
void clear_stop_request();

}  // namespace t5zero
