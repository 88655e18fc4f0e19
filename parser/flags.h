// Checking an instruction's `--flags` against the ones its keyword accepts (BuildKit's BFlags):
// unknown flags, duplicates, missing values and non-boolean values of boolean flags are errors.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace mkimg::parser {

/// A failure about one part of an instruction; `near` is text on the line to point the
/// column at (the flag, the argument), empty for the keyword.
class InstructionError : public Error {
 public:
  InstructionError(const std::string& message, std::string near)
      : Error(message), near_(std::move(near)) {}
  const std::string& near() const { return near_; }

 private:
  std::string near_;
};

/// How a flag takes its value.
enum class FlagType {
  kBoolean,  ///< --link, --link=true, --link=false
  kString,   ///< --from=x (once)
  kStrings,  ///< --mount=a --mount=b (repeatable)
};

/// One flag an instruction accepts.
struct FlagSpec {
  std::string_view name;
  FlagType type;
};

/// The flags given, by name, each with its values in order ("true"/"false" for booleans).
struct FlagValues {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
};

/// Checks `flags` ("--name=value" as the line layer kept them) against `accepted`.
/// Throws InstructionError ("unknown flag: x", ...).
FlagValues parse_flags(const std::vector<std::string>& flags, std::span<const FlagSpec> accepted);

/// The value of a string flag, or "" when not given.
std::string flag_string(const FlagValues& flags, std::string_view name);

/// The value of a boolean flag (false when not given).
bool flag_bool(const FlagValues& flags, std::string_view name);

/// All values of a repeatable flag.
std::vector<std::string> flag_strings(const FlagValues& flags, std::string_view name);

/// Whether the flag was given at all.
bool flag_given(const FlagValues& flags, std::string_view name);

}  // namespace mkimg::parser
