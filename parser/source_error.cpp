#include "parser/source_error.h"

namespace mkimg::parser {
namespace {

/// `text`, or its first 200 bytes and how many more: a 50 MB line makes a short message.
std::string shortened(std::string_view text) {
  constexpr std::size_t kShown = 200;
  if (text.size() <= kShown) return std::string(text);
  return std::string(text.substr(0, kShown)) + "... (" + std::to_string(text.size() - kShown) +
         " more bytes)";
}

}  // namespace

Error source_error(std::string_view file_name, const std::vector<std::string>& lines,
                   Location where, std::string_view message) {
  std::string text(file_name);
  text += ':' + std::to_string(where.line) + ':' + std::to_string(where.column) + ": ";
  text += shortened(message);
  if (where.line >= 1 && static_cast<std::size_t>(where.line) <= lines.size()) {
    text += '\n';
    text += shortened(lines[where.line - 1]);
  }
  return Error(text);
}

int first_column(const std::vector<std::string>& lines, int line) {
  if (line < 1 || static_cast<std::size_t>(line) > lines.size()) return 1;
  const std::string& text = lines[line - 1];
  const auto pos = text.find_first_not_of(" \t\v\f\r");
  return pos == std::string::npos ? 1 : static_cast<int>(pos) + 1;
}

int column_of(const std::vector<std::string>& lines, int line, std::string_view needle,
              int fallback) {
  if (line < 1 || static_cast<std::size_t>(line) > lines.size() || needle.empty()) return fallback;
  const auto pos = lines[line - 1].find(needle);
  return pos == std::string::npos ? fallback : static_cast<int>(pos) + 1;
}

}  // namespace mkimg::parser
