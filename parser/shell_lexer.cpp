#include "parser/shell_lexer.h"

#include <optional>
#include <utility>

#include "common/error.h"
#include "parser/shell_pattern.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

constexpr char32_t kEof = 0xFFFFFFFF;
constexpr int kMaxNesting = 200;  // ${a:-${b:-...}} levels; BuildKit has none, Go stacks grow

/// A failure inside the lexer, wrapped with the source text at the top.
struct LexFailure {
  std::string message;
};

/// Reads runes one at a time, like Go's text/scanner Next/Peek.
class RuneScanner {
 public:
  explicit RuneScanner(std::string_view text) : text_(text) {}
  char32_t peek() const { return pos_ < text_.size() ? decode_rune(text_, pos_).value : kEof; }
  char32_t next() {
    if (pos_ >= text_.size()) return kEof;
    const Rune r = decode_rune(text_, pos_);
    pos_ += r.width;
    return r.value;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

/// Accumulates words: unquoted blanks coming from the source or from `$VAR` split words.
struct WordSplitter {
  std::string word;
  std::vector<std::string> words;
  bool in_word = false;

  void add_char(char32_t c) {
    if (is_space(c)) {
      if (in_word && !word.empty()) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      return;
    }
    add_raw_char(c);
  }
  void add_raw_char(char32_t c) {
    append_rune(word, c);
    in_word = true;
  }
  void add_string(std::string_view s) {
    for (std::size_t pos = 0; pos < s.size();) {
      const Rune r = decode_rune(s, pos);
      add_char(r.value);
      pos += r.width;
    }
  }
  void add_raw_string(std::string_view s) {
    word.append(s);
    in_word = true;
  }
  std::vector<std::string> finish() {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
    return std::move(words);
  }
};

bool is_special_param(char32_t c) {
  switch (c) {
    case '@':
    case '*':
    case '#':
    case '?':
    case '-':
    case '$':
    case '!':
    case '0':
      return true;
    default:
      return false;
  }
}

std::string rune_string(char32_t c) {
  std::string s;
  append_rune(s, c == kEof ? kReplacementChar : c);
  return s;
}

/// One run of the lexer over one text.
class ShellWord {
 public:
  ShellWord(std::string_view text, const Environment& env, char escape, const LexOptions& options)
      : scanner_(text),
        env_(env),
        escape_(static_cast<unsigned char>(escape)),
        options_(options),
        raw_escapes_(options.raw_escapes) {}

  LexResult process() { return process_stop_on(kEof, raw_escapes_); }

 private:
  LexResult process_stop_on(char32_t stop, bool raw_escapes);
  std::string process_single_quote();
  std::string process_double_quote();
  std::string process_dollar();
  std::string process_braced(const std::string& name);
  std::string process_modifier(const std::string& name, char32_t op, std::string chs,
                               bool null_is_unset);
  std::string process_replace(const std::string& name);
  std::string process_name();
  std::optional<std::string> get_env(const std::string& name) const {
    return find_variable(env_, name);
  }

  RuneScanner scanner_;
  const Environment& env_;
  char32_t escape_;
  LexOptions options_;
  bool raw_escapes_;
  int depth_ = 0;
};

LexResult ShellWord::process_stop_on(char32_t stop, bool raw_escapes) {
  std::string result;
  WordSplitter words;
  const bool saved = std::exchange(raw_escapes_, raw_escapes);
  struct Restore {
    bool& target;
    bool value;
    ~Restore() { target = value; }
  } restore{raw_escapes_, saved};
  while (scanner_.peek() != kEof) {
    char32_t ch = scanner_.peek();
    if (stop != kEof && ch == stop) {
      scanner_.next();
      return {std::move(result), words.finish()};
    }
    if (ch == '$') {
      const std::string tmp = process_dollar();
      result += tmp;
      words.add_string(tmp);
    } else if (!options_.skip_process_quotes && (ch == '\'' || ch == '"')) {
      const std::string tmp = ch == '\'' ? process_single_quote() : process_double_quote();
      result += tmp;
      words.add_raw_string(tmp);
    } else {
      ch = scanner_.next();
      if (ch == escape_) {
        if (raw_escapes_) {
          words.add_raw_char(ch);
          append_rune(result, ch);
        }
        ch = scanner_.next();
        if (ch == kEof) break;
        words.add_raw_char(ch);
      } else {
        words.add_char(ch);
      }
      append_rune(result, ch);
    }
  }
  if (stop != kEof) {
    throw LexFailure{"unexpected end of statement while looking for matching " + rune_string(stop)};
  }
  return {std::move(result), words.finish()};
}

std::string ShellWord::process_single_quote() {
  std::string result;
  char32_t ch = scanner_.next();
  if (options_.raw_quotes) append_rune(result, ch);
  for (;;) {
    ch = scanner_.next();
    if (ch == kEof) {
      throw LexFailure{"unexpected end of statement while looking for matching single-quote"};
    }
    if (ch == '\'') {
      if (options_.raw_quotes) append_rune(result, ch);
      return result;
    }
    append_rune(result, ch);
  }
}

std::string ShellWord::process_double_quote() {
  std::string result;
  char32_t ch = scanner_.next();
  if (options_.raw_quotes) append_rune(result, ch);
  for (;;) {
    const char32_t p = scanner_.peek();
    if (p == kEof) {
      throw LexFailure{"unexpected end of statement while looking for matching double-quote"};
    }
    if (p == '"') {
      ch = scanner_.next();
      if (options_.raw_quotes) append_rune(result, ch);
      return result;
    }
    if (p == '$') {
      result += process_dollar();
      continue;
    }
    ch = scanner_.next();
    if (ch == escape_) {
      if (raw_escapes_) append_rune(result, ch);
      const char32_t after = scanner_.peek();
      if (after == kEof) continue;  // the loop then reports the missing quote
      if (after == '"' || after == '$' || after == escape_) ch = scanner_.next();
    }
    append_rune(result, ch);
  }
}

std::string ShellWord::process_dollar() {
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) {
      if (++depth > kMaxNesting) throw LexFailure{"substitutions nested too deeply"};
    }
    ~DepthGuard() { --depth; }
  } guard(depth_);
  scanner_.next();
  if (scanner_.peek() != '{') {
    const std::string name = process_name();
    if (name.empty()) return "$";
    auto value = get_env(name);
    if (!value && options_.skip_unset_env) return "$" + name;
    return value.value_or("");
  }
  scanner_.next();
  const char32_t p = scanner_.peek();
  if (p == kEof) throw LexFailure{"syntax error: missing '}'"};
  if (p == '{' || p == '}' || p == ':') throw LexFailure{"syntax error: bad substitution"};
  return process_braced(process_name());
}

std::string ShellWord::process_braced(const std::string& name) {
  char32_t ch = scanner_.next();
  std::string chs = rune_string(ch);
  switch (ch) {
    case '}': {
      auto value = get_env(name);
      if (!value && options_.skip_unset_env) return "${" + name + "}";
      return value.value_or("");
    }
    case ':':
      ch = scanner_.next();
      chs += rune_string(ch);
      return process_modifier(name, ch, chs, true);
    case '+':
    case '-':
    case '?':
    case '#':
    case '%':
      return process_modifier(name, ch, chs, false);
    case '/':
      return process_replace(name);
    default:
      throw LexFailure{"unsupported modifier (" + chs + ") in substitution"};
  }
}

std::string ShellWord::process_modifier(const std::string& name, char32_t op, std::string chs,
                                        bool null_is_unset) {
  const bool raw = op == '#' || op == '%';
  std::string word;
  try {
    word = process_stop_on('}', raw).word;
  } catch (const LexFailure&) {
    if (scanner_.peek() == kEof) throw LexFailure{"syntax error: missing '}'"};
    throw;
  }
  const auto value = get_env(name);
  if (options_.skip_unset_env && !value) return "${" + name + chs + word + "}";
  const bool unset_or_null = !value || (null_is_unset && value->empty());
  switch (op) {
    case '-':
      return unset_or_null ? word : *value;
    case '+':
      return unset_or_null ? std::string() : word;
    case '?':
      if (!value)
        throw LexFailure{name + ": " + (word.empty() ? "is not allowed to be unset" : word)};
      if (null_is_unset && value->empty()) {
        throw LexFailure{name + ": " + (word.empty() ? "is not allowed to be empty" : word)};
      }
      return *value;
    case '%':
    case '#': {
      PatternGreed greed = PatternGreed::kShortest;
      if (!word.empty() && static_cast<unsigned char>(word[0]) == op) {
        greed = PatternGreed::kLongest;
        word.erase(0, 1);
      }
      try {
        return op == '%' ? trim_pattern_suffix(word, value.value_or(""), greed)
                         : trim_pattern_prefix(word, value.value_or(""), greed);
      } catch (const Error& e) {
        throw LexFailure{e.what()};
      }
    }
    default:
      throw LexFailure{"unsupported modifier (" + chs + ") in substitution"};
  }
}

std::string ShellWord::process_replace(const std::string& name) {
  const bool all = scanner_.peek() == '/';
  if (all) scanner_.next();
  std::string pattern, replacement;
  try {
    pattern = process_stop_on('/', true).word;
  } catch (const LexFailure&) {
    if (scanner_.peek() == kEof) throw LexFailure{"syntax error: missing '/' in ${}"};
    throw;
  }
  try {
    replacement = process_stop_on('}', true).word;
  } catch (const LexFailure&) {
    if (scanner_.peek() == kEof) throw LexFailure{"syntax error: missing '}'"};
    throw;
  }
  const auto value = get_env(name);
  if (options_.skip_unset_env && !value)
    return "${" + name + "/" + pattern + "/" + replacement + "}";
  try {
    return replace_pattern(pattern, value.value_or(""), replacement,
                           all ? ReplaceCount::kAll : ReplaceCount::kFirst);
  } catch (const Error& e) {
    throw LexFailure{e.what()};
  }
}

std::string ShellWord::process_name() {
  std::string name;
  while (scanner_.peek() != kEof) {
    char32_t ch = scanner_.peek();
    if (name.empty() && is_digit(ch)) {
      while (scanner_.peek() != kEof && is_digit(scanner_.peek()))
        append_rune(name, scanner_.next());
      return name;
    }
    if (name.empty() && is_special_param(ch)) return rune_string(scanner_.next());
    if (!is_letter(ch) && !is_digit(ch) && ch != '_') break;
    append_rune(name, scanner_.next());
  }
  return name;
}

std::string go_quote_simple(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

LexResult shell_lex(std::string_view text, const Environment& env, char escape,
                    const LexOptions& options) {
  try {
    return ShellWord(text, env, escape, options).process();
  } catch (const LexFailure& failure) {
    throw Error("failed to process " + go_quote_simple(text) + ": " + failure.message);
  }
}

}  // namespace mkimg::parser
