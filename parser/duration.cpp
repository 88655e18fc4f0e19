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

namespace mkimg::parser {

namespace {

/// The fraction v / 10^prec as ".123" with trailing zeros (and the point) left out, as Go's
/// fmtFrac; returns v / 10^prec.
std::uint64_t append_fraction(std::string& out, std::uint64_t v, int prec) {
  std::string digits;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    std::uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  if (print) out += "." + digits;
  return v;
}

}  // namespace

std::string format_go_duration(std::chrono::nanoseconds d) {
  const std::int64_t n = d.count();
  if (n == 0) return "0s";
  std::uint64_t u = n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  std::string out = n < 0 ? "-" : "";
  if (u < 1000000000ULL) {
    // Under a second: the largest unit that fits, with a fraction (1.5µs, 500ms).
    int prec = 6;
    const char* unit = "ms";
    if (u < 1000ULL) {
      prec = 0;
      unit = "ns";
    } else if (u < 1000000ULL) {
      prec = 3;
      unit = "\xc2\xb5s";  // U+00B5 MICRO SIGN, as Go prints it
    }
    std::string frac;
    u = append_fraction(frac, u, prec);
    return out + std::to_string(u) + frac + unit;
  }
  std::string frac;
  u = append_fraction(frac, u, 9);  // u is now whole seconds
  std::string text = std::to_string(u % 60) + frac + "s";
  u /= 60;
  if (u > 0) {
    text = std::to_string(u % 60) + "m" + text;
    u /= 60;
    if (u > 0) text = std::to_string(u) + "h" + text;
  }
  return out + text;
}

}  // namespace mkimg::parser
