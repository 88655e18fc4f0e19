#include "builder/copy/rules.h"

#include <fnmatch.h>

#include <charconv>
#include <filesystem>

#include "common/error.h"
#include "common/in_root.h"

namespace mkimg::builder {
namespace {

std::string clean_absolute(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string part(path.substr(start, end - start));
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

}  // namespace

std::string clean_source(std::string_view source) {
  std::string abs = clean_absolute(source);
  return abs == "/" ? "" : abs.substr(1);
}

bool has_wildcard(std::string_view path) {
  return path.find_first_of("*?[") != std::string_view::npos;
}

bool match_component(std::string_view pattern, std::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), FNM_PATHNAME) == 0;
}

Destination resolve_destination(std::string_view dest, std::string_view workdir) {
  Destination d;
  std::string text(dest);
  d.dir_hint = text.empty() || text.back() == '/' || text == "." || text == ".." ||
               text.ends_with("/.") || text.ends_with("/..");
  std::string base = workdir.empty() ? "/" : std::string(workdir);
  std::string joined = !text.empty() && text.front() == '/' ? text : base + "/" + text;
  d.path = clean_absolute(joined);
  return d;
}

Destination resolved_in(const Destination& dest, const std::filesystem::path& root) {
  Destination d = dest;
  d.path = resolve_in_root(open_root(root).get(), dest.path);
  return d;
}

void check_multiple_sources(const Destination& dest, std::size_t source_count,
                            std::string_view instruction) {
  if (source_count > 1 && !dest.dir_hint) {
    throw Error(describe(instruction, dest.path,
                         "When using " + std::string(instruction) +
                             " with more than one source file, the destination must be a "
                             "directory and end with a /"));
  }
}

std::string target_path(const Destination& dest, bool dest_is_dir, bool source_is_dir,
                        std::string_view relative, Parents parents) {
  std::filesystem::path base(dest.path);
  if (parents == Parents::kYes) {
    return clean_absolute((base / std::string(relative)).string());
  }
  if (source_is_dir) return dest.path;
  if (!dest_is_dir) return dest.path;
  std::string name = std::filesystem::path(std::string(relative)).filename().string();
  return clean_absolute((base / name).string());
}

unsigned parse_chmod(std::string_view text) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 8);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 07777) {
    throw Error(describe("parse --chmod", text, "expected an octal mode such as 0755"));
  }
  return v;
}

}  // namespace mkimg::builder
