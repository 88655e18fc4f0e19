#include "parser/json_array.h"

#include <optional>

#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

constexpr int kMaxDepth = 1000;

/// A recursive-descent JSON reader that only keeps top-level strings.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  JsonArray read_array() {
    JsonArray result;
    skip_blanks();
    if (!eat('[')) return result;
    bool all_strings = true;
    skip_blanks();
    if (!eat(']')) {
      for (;;) {
        skip_blanks();
        if (peek() == '"') {
          auto s = read_string();
          if (!s) return {};
          result.values.push_back(std::move(*s));
        } else {
          all_strings = false;
          if (!skip_value(1)) return {};
        }
        skip_blanks();
        if (eat(']')) break;
        if (!eat(',')) return {};
      }
    }
    result.status = all_strings ? JsonArrayStatus::kStrings : JsonArrayStatus::kNotStrings;
    if (!all_strings) result.values.clear();
    return result;
  }

 private:
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  bool eat(char c) {
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }
  void skip_blanks() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++pos_;
  }
  bool eat_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool skip_digits() {
    const std::size_t start = pos_;
    while (peek() >= '0' && peek() <= '9') ++pos_;
    return pos_ > start;
  }
  bool skip_number() {
    eat('-');
    if (!eat('0') && !skip_digits()) return false;
    if (eat('.') && !skip_digits()) return false;
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (!eat('+')) eat('-');
      if (!skip_digits()) return false;
    }
    return true;
  }
  bool skip_container(char close, int depth, bool is_object) {
    skip_blanks();
    if (eat(close)) return true;
    for (;;) {
      skip_blanks();
      if (is_object) {
        if (peek() != '"' || !read_string()) return false;
        skip_blanks();
        if (!eat(':')) return false;
        skip_blanks();
      }
      if (!skip_value(depth + 1)) return false;
      skip_blanks();
      if (eat(close)) return true;
      if (!eat(',')) return false;
    }
  }
  bool skip_value(int depth) {
    if (depth > kMaxDepth) return false;
    switch (peek()) {
      case '"':
        return read_string().has_value();
      case '[':
        ++pos_;
        return skip_container(']', depth, false);
      case '{':
        ++pos_;
        return skip_container('}', depth, true);
      case 't':
        return eat_word("true");
      case 'f':
        return eat_word("false");
      case 'n':
        return eat_word("null");
      default:
        return skip_number();
    }
  }
  std::optional<unsigned> read_hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return std::nullopt;
    }
    return v;
  }
  bool read_unicode_escape(std::string& out) {
    auto hi = read_hex4();
    if (!hi) return false;
    char32_t c = *hi;
    if (c >= 0xD800 && c < 0xDC00) {
      // A high surrogate pairs only with an immediately following \uDC00-\uDFFF.
      if (text_.substr(pos_, 2) == "\\u") {
        const std::size_t save = pos_;
        pos_ += 2;
        auto lo = read_hex4();
        if (lo && *lo >= 0xDC00 && *lo < 0xE000) {
          append_rune(out, 0x10000 + ((c - 0xD800) << 10) + (*lo - 0xDC00));
          return true;
        }
        pos_ = save;
      }
      c = kReplacementChar;
    } else if (c >= 0xDC00 && c < 0xE000) {
      c = kReplacementChar;
    }
    append_rune(out, c);
    return true;
  }
  bool read_escape(std::string& out) {
    const int c = peek();
    ++pos_;
    switch (c) {
      case '"':
        out += '"';
        return true;
      case '\\':
        out += '\\';
        return true;
      case '/':
        out += '/';
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        return read_unicode_escape(out);
      default:
        return false;
    }
  }
  std::optional<std::string> read_string() {
    ++pos_;  // the opening quote
    std::string out;
    for (;;) {
      const int c = peek();
      if (c < 0) return std::nullopt;
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) return std::nullopt;
      if (c == '\\') {
        ++pos_;
        if (!read_escape(out)) return std::nullopt;
        continue;
      }
      const Rune r = decode_rune(text_, pos_);
      append_rune(out, r.value);
      pos_ += r.width;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

JsonArray parse_json_array(std::string_view text) {
  return JsonReader(trim_left_space(text)).read_array();
}

}  // namespace mkimg::parser
