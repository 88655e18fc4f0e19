#include "parser/syntax_tree.h"

#include <set>

#include "common/ascii.h"
#include "parser/heredoc.h"
#include "parser/line_parsers.h"
#include "parser/source_error.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

/// The raw lines of the file, each with its newline (as BuildKit's scanLines gives them).
std::vector<std::string_view> raw_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    const auto nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_comment(std::string_view raw) {
  const auto t = trim_left_space(trim_newline(raw));
  return !t.empty() && t[0] == '#';
}

bool is_re_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

/// The parser-directive state: `# escape=`, `# syntax=`, `# check=` at the top of the file.
class DirectiveReader {
 public:
  explicit DirectiveReader(Directives& directives) : directives_(directives) {}

  /// Looks at one (newline-trimmed) line; throws mkimg::Error for a bad or repeated directive.
  void look(std::string_view line) {
    if (done_) return;
    std::string key, value;
    if (!match(line, key, value)) {
      done_ = true;
      return;
    }
    if (key != "escape" && key != "syntax" && key != "check") {
      done_ = true;
      return;
    }
    if (!seen_.insert(key).second) throw Error("only one " + key + " parser directive can be used");
    if (key == "escape") {
      if (value != "`" && value != "\\") {
        throw Error("invalid escape token '" + value + "' does not match ` or \\");
      }
      directives_.escape = value[0];
    } else if (key == "syntax") {
      directives_.syntax = value;
    } else {
      directives_.check = value;
    }
  }

 private:
  // ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
  static bool match(std::string_view line, std::string& key, std::string& value) {
    std::size_t pos = 0;
    if (line.empty() || line[0] != '#') return false;
    ++pos;
    while (pos < line.size() && is_re_space(line[pos])) ++pos;
    const std::size_t key_start = pos;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (pos >= line.size() || !alpha(line[pos])) return false;
    while (pos < line.size() && (alpha(line[pos]) || (line[pos] >= '0' && line[pos] <= '9'))) ++pos;
    key = std::string(line.substr(key_start, pos - key_start));
    while (pos < line.size() && is_re_space(line[pos])) ++pos;
    if (pos >= line.size() || line[pos] != '=') return false;
    ++pos;
    while (pos < line.size() && is_re_space(line[pos])) ++pos;
    std::size_t end = line.size();
    while (end > pos && is_re_space(line[end - 1])) --end;
    if (end == pos) return false;
    value = std::string(line.substr(pos, end - pos));
    key = ascii_lower(key);
    return true;
  }

  Directives& directives_;
  bool done_ = false;
  std::set<std::string> seen_;
};

/// Removes a trailing line-continuation (the escape character, then only blanks), unless the
/// escape character is itself escaped. Returns whether the line continues.
bool trim_continuation(std::string& line, char escape) {
  std::size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != escape) return false;
  if (end >= 2 && line[end - 2] == escape) return false;
  line.resize(end - 1);
  return true;
}

/// Reads a whole file into a SyntaxTree, line by line.
class TreeReader {
 public:
  TreeReader(std::string_view text, std::string_view file_name)
      : file_name_(file_name), raw_(raw_lines(text)), directives_(tree_.directives) {
    tree_.lines.reserve(raw_.size());
    for (std::size_t i = 0; i < raw_.size(); ++i) {
      std::string_view l = trim_newline(raw_[i]);
      if (i == 0 && l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);
      tree_.lines.emplace_back(l);
    }
  }

  SyntaxTree read() {
    while (next_ < raw_.size()) read_instruction();
    if (tree_.nodes.empty()) fail(std::max(line_, 1), 1, "file with no instructions");
    return std::move(tree_);
  }

 private:
  [[noreturn]] void fail(int line, int column, std::string_view message) {
    throw source_error(file_name_, tree_.lines, {line, column}, message);
  }

  /// BuildKit's processLine: trim the newline (and leading blanks), look for a directive,
  /// drop a comment.
  std::string process_line(std::string_view raw, bool strip_left) {
    std::string_view token = trim_newline(raw);
    if (line_ == 0 && token.substr(0, 3) == "\xEF\xBB\xBF") token.remove_prefix(3);
    if (strip_left) token = trim_left_space(token);
    try {
      directives_.look(token);
    } catch (const Error& e) {
      fail(line_ + 1, 1, e.what());
    }
    if (!token.empty() && token[0] == '#') return {};
    return std::string(token);
  }

  void read_instruction() {
    std::string line = process_line(raw_[next_++], true);
    ++line_;
    const int start = line_;
    const char escape = tree_.directives.escape;
    bool continues = trim_continuation(line, escape);
    if (!continues && line.empty()) return;
    while (continues && next_ < raw_.size()) {
      const std::string_view raw = raw_[next_++];
      std::string piece = process_line(raw, false);
      ++line_;
      if (is_comment(raw) || trim_left_space(piece).empty()) continue;
      continues = trim_continuation(piece, escape);
      line += piece;
    }
    const int column = first_column(tree_.lines, start);
    SyntaxNode node;
    try {
      node = node_from_line(line, escape);
    } catch (const Error& e) {
      fail(start, column, e.what());
    }
    node.location = {start, column};
    read_heredocs(node, line);
    node.end_line = line_;
    tree_.nodes.push_back(std::move(node));
  }

  static bool can_contain_heredoc(const SyntaxNode& node) {
    const SyntaxNode& n = !node.inner.empty() ? node.inner[0] : node;
    std::string key;
    for (char c : n.keyword) key.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    return (key == "run" || key == "copy" || key == "add") && n.form != ArgumentForm::kJson;
  }

  void read_heredocs(SyntaxNode& node, std::string_view line) {
    if (!can_contain_heredoc(node) || line.find("<<") == std::string_view::npos) return;
    std::vector<Heredoc> heredocs;
    try {
      heredocs = heredocs_from_line(line);
    } catch (const Error& e) {
      fail(node.location.line, node.location.column, e.what());
    }
    for (Heredoc& heredoc : heredocs) {
      bool terminated = false;
      while (next_ < raw_.size()) {
        const std::string_view raw = raw_[next_++];
        ++line_;
        std::string_view candidate = trim_newline(raw);
        if (heredoc.tabs == HeredocTabs::kStrip) {
          while (!candidate.empty() && candidate[0] == '\t') candidate.remove_prefix(1);
        }
        if (candidate == heredoc.name) {
          terminated = true;
          break;
        }
        heredoc.content += raw;
      }
      if (!terminated) {
        fail(
            node.location.line, node.location.column,
            "unterminated heredoc " + heredoc.name + " (no line \"" + heredoc.name + "\" ends it)");
      }
      node.heredocs.push_back(std::move(heredoc));
    }
  }

  std::string_view file_name_;
  SyntaxTree tree_;
  std::vector<std::string_view> raw_;
  DirectiveReader directives_;
  std::size_t next_ = 0;
  int line_ = 0;
};

}  // namespace

SyntaxTree parse_syntax(std::string_view text, std::string_view file_name) {
  return TreeReader(text, file_name).read();
}

SyntaxNode parse_syntax_line(std::string_view line) {
  SyntaxTree tree = parse_syntax(line, "ONBUILD");
  if (tree.nodes.size() != 1) throw Error("parse trigger: expected exactly one instruction");
  return std::move(tree.nodes[0]);
}

}  // namespace mkimg::parser
