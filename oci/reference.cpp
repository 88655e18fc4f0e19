// Reference parsing and normalisation, after Docker's distribution/reference grammar.
#include "oci/reference.h"

#include <cctype>

#include "common/error.h"

namespace mkimg::oci {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::size_t kMaxNameLength = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
bool is_path_component(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  for (std::size_t i = 0; i < s.size();) {
    if (is_lower_alnum(s[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !is_lower_alnum(s[j])) ++j;
    std::string_view sep = s.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// (?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])
bool is_host_label(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

bool is_port(std::string_view s) {
  return !s.empty() && s.size() <= 5 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

bool is_domain(std::string_view s) {
  std::string_view host = s;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    std::string_view inner = s.substr(1, close - 1);
    if (inner.find_first_not_of("0123456789abcdefABCDEF:") != std::string_view::npos) return false;
    std::string_view rest = s.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && is_port(rest.substr(1)));
  }
  if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    if (!is_port(s.substr(colon + 1))) return false;
    host = s.substr(0, colon);
  }
  for (std::size_t start = 0;;) {
    auto dot = host.find('.', start);
    if (!is_host_label(host.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_path(std::string_view s) {
  for (std::size_t start = 0;;) {
    auto slash = s.find('/', start);
    if (!is_path_component(s.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool looks_like_domain(std::string_view first) {
  if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos) return true;
  for (char c : first) {
    if (std::isupper(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

[[noreturn]] void fail(std::string_view text, std::string_view cause) {
  throw Error(describe("parse reference", text.substr(0, 300), cause));
}

void split_name(std::string_view text, std::string_view name, Reference& ref) {
  auto slash = name.find('/');
  if (slash != std::string_view::npos && looks_like_domain(name.substr(0, slash))) {
    ref.domain = std::string(name.substr(0, slash));
    ref.path = std::string(name.substr(slash + 1));
  } else {
    ref.domain = std::string(kDefaultDomain);
    ref.path = std::string(name);
  }
  if (ref.domain == "index.docker.io") ref.domain = kDefaultDomain;
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  if (!is_domain(ref.domain)) fail(text, "invalid registry name `" + ref.domain + "`");
  for (char c : ref.path) {
    if (std::isupper(static_cast<unsigned char>(c)))
      fail(text, "repository name must be lowercase");
  }
  if (!is_path(ref.path)) fail(text, "invalid repository name `" + ref.path + "`");
  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength) {
    fail(text, "repository name longer than 255 characters");
  }
}

}  // namespace

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(tag.front())) return false;
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

Reference Reference::parse(std::string_view text) {
  if (text.empty()) fail(text, "empty reference");
  if (text.size() > 1024) fail(text, "reference too long");
  Reference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::try_parse(rest.substr(at + 1));
    if (!digest) fail(text, "invalid digest `" + std::string(rest.substr(at + 1)) + "`");
    ref.digest = *digest;
    rest = rest.substr(0, at);
  }
  auto colon = rest.rfind(':');
  auto slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!is_valid_tag(tag)) fail(text, "invalid tag `" + std::string(tag) + "`");
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) fail(text, "missing repository name");
  split_name(text, rest, ref);
  if (!ref.tag && !ref.digest) ref.tag = "latest";
  return ref;
}

std::optional<Reference> Reference::try_parse(std::string_view text) {
  try {
    return parse(text);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string Reference::repository() const { return domain + "/" + path; }

std::string Reference::familiar_repository() const {
  if (domain != kDefaultDomain) return repository();
  // A docker.io path whose first component looks like a registry would read back as one.
  if (looks_like_domain(path.substr(0, path.find('/')))) return repository();
  if (path.starts_with("library/") && path.find('/', 8) == std::string::npos) {
    return path.substr(8);
  }
  return path;
}

namespace {
std::string with_suffix(std::string name, const Reference& ref) {
  if (ref.tag) name.append(":").append(*ref.tag);
  if (ref.digest) name.append("@").append(ref.digest->str());
  return name;
}
}  // namespace

std::string Reference::str() const { return with_suffix(repository(), *this); }

std::string Reference::familiar() const { return with_suffix(familiar_repository(), *this); }

}  // namespace mkimg::oci
