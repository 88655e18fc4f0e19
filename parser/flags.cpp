#include "parser/flags.h"

#include <algorithm>

namespace mkimg::parser {

namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

const FlagSpec* find_spec(std::span<const FlagSpec> accepted, std::string_view name) {
  auto it = std::find_if(accepted.begin(), accepted.end(),
                         [&](const FlagSpec& s) { return s.name == name; });
  return it == accepted.end() ? nullptr : &*it;
}

std::string accepted_list(std::span<const FlagSpec> accepted) {
  if (accepted.empty()) return " (this instruction takes no flags)";
  std::string out = " (accepted:";
  for (const FlagSpec& s : accepted) out += " --" + std::string(s.name);
  return out + ")";
}

}  // namespace

FlagValues parse_flags(const std::vector<std::string>& flags, std::span<const FlagSpec> accepted) {
  FlagValues result;
  for (const std::string& flag : flags) {
    if (flag.rfind("--", 0) != 0) {
      throw InstructionError("arg should start with -- : " + flag, flag);
    }
    if (flag == "--") break;
    std::string_view body = std::string_view(flag).substr(2);
    const auto eq = body.find('=');
    const std::string name(body.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? "" : std::string(body.substr(eq + 1));
    const FlagSpec* spec = find_spec(accepted, name);
    if (!spec) throw InstructionError("unknown flag: " + name + accepted_list(accepted), flag);
    auto& slot = result.values[name];
    if (!slot.empty() && spec->type != FlagType::kStrings) {
      throw InstructionError("duplicate flag specified: " + name, flag);
    }
    if (spec->type == FlagType::kBoolean) {
      if (eq != std::string_view::npos && value.empty()) {
        throw InstructionError("missing a value on flag: " + name, flag);
      }
      const std::string lower = ascii_lower(value);
      if (!lower.empty() && lower != "true" && lower != "false") {
        throw InstructionError("expecting boolean value for flag " + name + ", not: " + value,
                               flag);
      }
      slot.push_back(lower.empty() ? "true" : lower);
      continue;
    }
    if (eq == std::string_view::npos) {
      throw InstructionError("missing a value on flag: " + name, flag);
    }
    slot.push_back(value);
  }
  return result;
}

std::string flag_string(const FlagValues& flags, std::string_view name) {
  auto it = flags.values.find(name);
  return it == flags.values.end() || it->second.empty() ? std::string() : it->second.back();
}

bool flag_bool(const FlagValues& flags, std::string_view name) {
  return flag_string(flags, name) == "true";
}

std::vector<std::string> flag_strings(const FlagValues& flags, std::string_view name) {
  auto it = flags.values.find(name);
  return it == flags.values.end() ? std::vector<std::string>{} : it->second;
}

bool flag_given(const FlagValues& flags, std::string_view name) {
  return flags.values.find(name) != flags.values.end();
}

}  // namespace mkimg::parser
