#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

}  // namespace

Rune decode_rune(std::string_view text, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t need = 0;
  char32_t value = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, value = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, value = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, value = b0 & 0x07, min = 0x10000;
  } else {
    return {kReplacementChar, 1};
  }
  if (pos + need >= text.size()) {
    return {kReplacementChar, 1};
  }
  for (std::size_t i = 1; i <= need; ++i) {
    const auto b = static_cast<unsigned char>(text[pos + i]);
    if (!is_continuation(b)) return {kReplacementChar, 1};
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {kReplacementChar, 1};
  }
  return {value, need + 1};
}

void append_rune(std::string& out, char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = kReplacementChar;
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool is_space(char32_t c) {
  switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if (is_space(c)) return false;
  // Punctuation, symbols, arrows, box drawing, CJK punctuation, specials: not letters.
  if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F)) return false;
  if ((c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF20) || c >= 0xFFF0) return false;
  return true;
}

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

bool is_print(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  if (c < 0xA1) return false;   // C1 controls and NBSP
  if (c == 0xAD) return false;  // soft hyphen (Cf)
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  if (c > 0x10FFFF) return false;
  if (is_space(c)) return false;
  if ((c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E)) return false;
  if ((c >= 0x2060 && c <= 0x206F) || c == 0xFEFF) return false;
  if ((c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF) return false;
  if (c >= 0xE000 && c <= 0xF8FF) return false;  // private use
  if (c >= 0xF0000) return false;
  return true;
}

std::string_view trim_left_space(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const Rune r = decode_rune(text, pos);
    if (!is_space(r.value)) break;
    pos += r.width;
  }
  return text.substr(pos);
}

std::string_view trim_space(std::string_view text) {
  text = trim_left_space(text);
  // Trailing: walk forward remembering where the last non-space rune ended.
  std::size_t end = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const Rune r = decode_rune(text, pos);
    pos += r.width;
    if (!is_space(r.value)) end = pos;
  }
  return text.substr(0, end);
}

}  // namespace mkimg::parser
