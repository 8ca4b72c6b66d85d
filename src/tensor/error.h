// Errors are values a person can read: what was expected, what was found, where.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace t5zero {

// The one exception type the project throws for bad input and broken invariants.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// Throws Error with the streamed parts joined: fail("tensor ", name, ": expected ", n).
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

}  // namespace t5zero

// Checks an invariant; the message parts are only evaluated on failure.
#define T5_CHECK(cond, ...)                   \
  do {                                        \
    if (!(cond)) ::t5zero::fail(__VA_ARGS__); \
  } while (0)
