// UTF-8 decoding and the few Unicode classes the Dockerfile grammar needs (as Go's unicode
// package answers them), so that splitting and quoting match BuildKit byte for byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mkimg::parser {

/// One decoded code point and how many bytes it took. Invalid UTF-8 decodes as U+FFFD with
/// width 1, as Go's utf8.DecodeRuneInString does.
struct Rune {
  char32_t value = 0;
  std::size_t width = 0;
};

inline constexpr char32_t kReplacementChar = 0xFFFD;

/// Decodes the code point at `pos` (pos < text.size()).
Rune decode_rune(std::string_view text, std::size_t pos);

/// Appends the UTF-8 encoding of `c` (invalid code points become U+FFFD).
void append_rune(std::string& out, char32_t c);

/// Go's unicode.IsSpace.
bool is_space(char32_t c);

/// Go's unicode.IsLetter (exact for ASCII and Latin-1, an approximation beyond).
bool is_letter(char32_t c);

/// Go's unicode.IsDigit, for ASCII digits.
bool is_digit(char32_t c);

/// Go's strconv.IsPrint (exact for ASCII and Latin-1, an approximation beyond).
bool is_print(char32_t c);

/// Removes leading characters for which is_space() holds.
std::string_view trim_left_space(std::string_view text);

/// Removes leading and trailing characters for which is_space() holds.
std::string_view trim_space(std::string_view text);

}  // namespace mkimg::parser
