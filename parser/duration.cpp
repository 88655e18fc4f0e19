#include "parser/duration.h"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace mkimg::parser {

namespace {

struct Unit {
  std::string_view name;
  double nanoseconds;
};

constexpr Unit kUnits[] = {{"ns", 1},   {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3},
                           {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
constexpr Unit kDay = {"d", 86400e9};

[[noreturn]] void invalid(std::string_view text) {
  throw Error("time: invalid duration \"" + std::string(text) + "\"");
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// parse_go_duration, with `d` among the units when `days`.
std::chrono::nanoseconds parse_duration(std::string_view text, bool days) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) negative = s[0] == '-', s.remove_prefix(1);
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) invalid(text);
  double total = 0;
  while (!s.empty()) {
    std::size_t pos = 0;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    std::size_t digits = pos;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      while (pos < s.size() && is_digit(s[pos])) ++pos, ++digits;
    }
    if (digits == 0) invalid(text);
    const std::string digits_text(s.substr(0, pos));
    const double number = std::strtod(digits_text.c_str(), nullptr);
    s.remove_prefix(pos);
    std::size_t unit_len = 0;
    while (unit_len < s.size() && s[unit_len] != '.' && !is_digit(s[unit_len])) ++unit_len;
    if (unit_len == 0) throw Error("time: missing unit in duration \"" + std::string(text) + "\"");
    const std::string_view unit = s.substr(0, unit_len);
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit) found = &u;
    }
    if (days && unit == kDay.name) found = &kDay;
    if (!found) {
      throw Error("time: unknown unit \"" + std::string(unit) + "\" in duration \"" +
                  std::string(text) + "\"");
    }
    total += number * found->nanoseconds;
    if (total > 9.2e18) invalid(text);
    s.remove_prefix(unit_len);
  }
  const auto ns = static_cast<std::int64_t>(total + 0.5);
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

}  // namespace

std::chrono::nanoseconds parse_go_duration(std::string_view text) {
  return parse_duration(text, false);
}

std::chrono::nanoseconds parse_age(std::string_view text) { return parse_duration(text, true); }

}  // namespace mkimg::parser
