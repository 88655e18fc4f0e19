// A small tokenizer for WWW-Authenticate: scheme, then name=value pairs (token or
// quoted-string with backslash escapes) separated by commas; a token followed by a space
// and no '=' starts the next challenge.
#include "registry/auth_challenge.h"
#include "common/ascii.h"

#include <cctype>
#include <optional>

namespace mkimg::registry {
namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/:").find(c) != std::string_view::npos;
}

/// A cursor over the header text.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;
  bool done() const { return i >= s.size(); }
  void skip_space() {
    while (!done() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  void skip_separators() {
    while (!done() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
  }
  std::string token() {
    std::size_t start = i;
    while (!done() && is_token_char(s[i])) ++i;
    return std::string(s.substr(start, i - start));
  }
  std::optional<std::string> quoted() {
    std::string out;
    for (++i; !done(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        out += s[++i];
      } else if (s[i] == '"') {
        ++i;
        return out;
      } else {
        out += s[i];
      }
    }
    return std::nullopt;  // unterminated
  }
  std::optional<std::string> value() {
    skip_space();
    if (!done() && s[i] == '"') return quoted();
    std::string t = token();
    while (!done() && s[i] == '=') t += s[i++];  // token68 padding
    return t;
  }
};

std::optional<AuthScheme> scheme_of(std::string_view name) {
  std::string n = ascii_lower(name);
  if (n == "basic") return AuthScheme::kBasic;
  if (n == "bearer") return AuthScheme::kBearer;
  return std::nullopt;
}

/// Reads name=value pairs until the next challenge (or the end); false on malformed text.
bool read_params(Cursor& c, std::map<std::string, std::string>& params) {
  for (;;) {
    c.skip_separators();
    if (c.done()) return true;
    std::size_t mark = c.i;
    std::string name = c.token();
    if (name.empty()) return false;
    c.skip_space();
    if (c.done() || c.s[c.i] != '=') {  // the next challenge's scheme
      c.i = mark;
      return true;
    }
    ++c.i;
    auto v = c.value();
    if (!v) return false;
    params[ascii_lower(name)] = *v;
  }
}

}  // namespace

std::string Challenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

std::vector<Challenge> parse_challenges(std::string_view header) {
  std::vector<Challenge> out;
  Cursor c{header};
  for (;;) {
    c.skip_separators();
    if (c.done()) break;
    std::string scheme = c.token();
    if (scheme.empty()) break;
    std::map<std::string, std::string> params;
    bool ok = read_params(c, params);
    if (auto s = scheme_of(scheme)) out.push_back(Challenge{*s, std::move(params)});
    if (!ok) break;
  }
  return out;
}

}  // namespace mkimg::registry
