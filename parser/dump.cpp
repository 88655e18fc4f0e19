// BuildKit's parse-tree dump (Node.Dump): `(keyword ["flags"] "arg" ...)`, one line each, with
// Go's strconv.Quote escaping.
#include <cstdio>

#include "parser/describe.h"
#include "parser/syntax_tree.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

void append_hex(std::string& out, const char* format, unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, value);
  out += buf;
}

void append_escaped_rune(std::string& out, char32_t c) {
  switch (c) {
    case '\a':
      out += "\\a";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\v':
      out += "\\v";
      return;
    default:
      break;
  }
  if (c < 0x20 || c == 0x7F) return append_hex(out, "\\x%02x", static_cast<unsigned>(c));
  if (c < 0x10000) return append_hex(out, "\\u%04x", static_cast<unsigned>(c));
  append_hex(out, "\\U%08x", static_cast<unsigned>(c));
}

}  // namespace

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t pos = 0; pos < s.size();) {
    const Rune r = decode_rune(s, pos);
    if (r.width == 1 && r.value == kReplacementChar) {
      append_hex(out, "\\x%02x", static_cast<unsigned char>(s[pos]));
    } else if (r.value == '"' || r.value == '\\') {
      out += '\\';
      out += static_cast<char>(r.value);
    } else if (is_print(r.value)) {
      out.append(s.substr(pos, r.width));
    } else {
      append_escaped_rune(out, r.value);
    }
    pos += r.width;
  }
  return out + "\"";
}

std::string dump(const SyntaxNode& node) {
  std::string out;
  for (char c : node.keyword) out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (!node.flags.empty()) {
    out += " [";
    for (std::size_t i = 0; i < node.flags.size(); ++i) {
      if (i) out += ' ';
      out += go_quote(node.flags[i]);
    }
    out += ']';
  }
  for (const SyntaxNode& inner : node.inner) out += " (" + dump(inner) + ")";
  for (const std::string& arg : node.args) out += " " + go_quote(arg);
  return std::string(trim_space(out));
}

std::string dump(const SyntaxTree& tree) {
  std::string out;
  for (const SyntaxNode& node : tree.nodes) out += "(" + dump(node) + ")\n";
  return out;
}

}  // namespace mkimg::parser
