#include "parser/source_error.h"

namespace mkimg::parser {

Error source_error(std::string_view file_name, const std::vector<std::string>& lines,
                   Location where, std::string_view message) {
  std::string text(file_name);
  text += ':' + std::to_string(where.line) + ':' + std::to_string(where.column) + ": ";
  text += message;
  if (where.line >= 1 && static_cast<std::size_t>(where.line) <= lines.size()) {
    text += '\n';
    text += lines[where.line - 1];
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
