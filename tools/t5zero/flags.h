// Command-line flags of one subcommand: `--name value` or `--name=value`, with types, defaults
// and help. Booleans accept true/false/1/0/yes/no (the reference's `type=bool` reads "False" as
// true; we do not), and a bare `--flag` means true.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace t5zero::cli {

// Bad command line: the message and the subcommand's usage are shown, exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);

  void add_string(const std::string& name, const std::string& default_value,
                  const std::string& help);
  void add_int(const std::string& name, int64_t default_value, const std::string& help);
  void add_double(const std::string& name, double default_value, const std::string& help);
  void add_bool(const std::string& name, bool default_value, const std::string& help);
  // A flag that must be given.
  void add_required(const std::string& name, const std::string& help);

  // Parses argv[first..argc); throws UsageError for unknown flags, bad values, missing ones.
  // Returns false after printing the usage to stdout when --help is among the arguments.
  bool parse(int argc, char** argv, int first);

  std::string get_string(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  bool was_set(const std::string& name) const;
  std::string usage() const;

 private:
  enum class Kind { string, integer, real, boolean };
  struct Flag {
    Kind kind;
    std::string value;
    std::string help;
    bool required = false;
    bool set = false;
  };
  const Flag& find(const std::string& name) const;
  void add(const std::string& name, Kind kind, std::string value, const std::string& help,
           bool required);

  std::string command_;
  std::string summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

// Parses "true/false/1/0/yes/no" (any case); throws UsageError naming the flag otherwise.
bool parse_bool(const std::string& flag, const std::string& text);

}  // namespace t5zero::cli
