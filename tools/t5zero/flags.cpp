#include "flags.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>

namespace t5zero::cli {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

bool parse_bool(const std::string& flag, const std::string& text) {
  std::string v = lower(text);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  throw UsageError("--" + flag + ": expected true/false/1/0, got '" + text + "'");
}

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::add(const std::string& name, Kind kind, std::string value, const std::string& help,
                  bool required) {
  flags_[name] = Flag{kind, std::move(value), help, required, false};
  order_.push_back(name);
}

void FlagSet::add_string(const std::string& name, const std::string& default_value,
                         const std::string& help) {
  add(name, Kind::string, default_value, help, false);
}
void FlagSet::add_int(const std::string& name, int64_t default_value, const std::string& help) {
  add(name, Kind::integer, std::to_string(default_value), help, false);
}
void FlagSet::add_double(const std::string& name, double default_value, const std::string& help) {
  std::ostringstream s;
  s << default_value;
  add(name, Kind::real, s.str(), help, false);
}
void FlagSet::add_bool(const std::string& name, bool default_value, const std::string& help) {
  add(name, Kind::boolean, default_value ? "true" : "false", help, false);
}
void FlagSet::add_required(const std::string& name, const std::string& help) {
  add(name, Kind::string, "", help, true);
}

bool FlagSet::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(usage().c_str(), stdout);
      return false;
    }
  }
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) throw UsageError("unknown flag --" + name);
    Flag& flag = it->second;
    if (!inline_value) {
      bool next_is_value = i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0;
      if (flag.kind == Kind::boolean && !next_is_value) {
        value = "true";
      } else if (!next_is_value) {
        throw UsageError("--" + name + " needs a value");
      } else {
        value = argv[++i];
      }
    }
    try {
      size_t used = 0;
      if (flag.kind == Kind::integer) {
        (void)std::stoll(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
      } else if (flag.kind == Kind::real) {
        (void)std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
      } else if (flag.kind == Kind::boolean) {
        value = parse_bool(name, value) ? "true" : "false";
      }
    } catch (const std::logic_error&) {
      throw UsageError("--" + name + ": expected " +
                       (flag.kind == Kind::integer ? "an integer" : "a number") + ", got '" +
                       value + "'");
    }
    flag.value = value;
    flag.set = true;
  }
  for (const auto& [name, flag] : flags_) {
    if (flag.required && !flag.set) throw UsageError("missing required flag --" + name);
  }
  return true;
}

const FlagSet::Flag& FlagSet::find(const std::string& name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) throw std::logic_error("flag --" + name + " was never declared");
  return it->second;
}

std::string FlagSet::get_string(const std::string& name) const {
  return find(name).value;
}
int64_t FlagSet::get_int(const std::string& name) const {
  return std::stoll(find(name).value);
}
double FlagSet::get_double(const std::string& name) const {
  return std::stod(find(name).value);
}
bool FlagSet::get_bool(const std::string& name) const {
  return find(name).value == "true";
}
bool FlagSet::was_set(const std::string& name) const {
  return find(name).set;
}

std::string FlagSet::usage() const {
  std::ostringstream out;
  out << "usage: t5zero " << command_ << " [flags]\n" << summary_ << "\n\nflags:\n";
  for (const std::string& name : order_) {
    const Flag& flag = flags_.at(name);
    out << "  --" << name;
    if (flag.required) {
      out << " (required)";
    } else if (!flag.value.empty()) {
      out << " (default " << flag.value << ")";
    }
    out << "\n      " << flag.help << "\n";
  }
  return out.str();
}

}  // namespace t5zero::cli
