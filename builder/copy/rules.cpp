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

Chmod Chmod::parse(std::string_view text) {
  Chmod c;
  auto refuse = [&] {
    return Error(describe("parse --chmod", text,
                          "expected an octal mode such as 0755 or symbolic clauses such as "
                          "u+x,go-w"));
  };
  if (!text.empty() && text.find_first_not_of("01234567") == std::string_view::npos) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 8);
    if (ec != std::errc() || p != text.data() + text.size() || v > 07777) throw refuse();
    c.octal_ = v;
    return c;
  }
  std::size_t i = 0;
  while (true) {
    // One clause: [ugoa]* then one or more of op ([rwxXst]* | one of u g o).
    unsigned who = 0;
    for (; i < text.size() && std::string_view("ugoa").find(text[i]) != std::string_view::npos;
         ++i) {
      who |= text[i] == 'u' ? 04700u : text[i] == 'g' ? 02070u : text[i] == 'o' ? 01007u : 07777u;
    }
    if (who == 0) who = 07777;  // no who: all, no umask (BuildKit)
    bool any = false;
    while (i < text.size() && (text[i] == '+' || text[i] == '-' || text[i] == '=')) {
      Op op;
      op.who = who;
      op.op = text[i++];
      if (i < text.size() && std::string_view("ugo").find(text[i]) != std::string_view::npos) {
        op.copy = text[i] == 'u' ? 6 : text[i] == 'g' ? 3 : 0;
        ++i;
      } else {
        for (;
             i < text.size() && std::string_view("rwxXst").find(text[i]) != std::string_view::npos;
             ++i) {
          switch (text[i]) {
            case 'r':
              op.perm |= 0444;
              break;
            case 'w':
              op.perm |= 0222;
              break;
            case 'x':
              op.perm |= 0111;
              break;
            case 'X':
              op.x_if = true;
              break;
            case 's':
              op.perm |= 06000;
              break;
            case 't':
              op.perm |= 01000;
              break;
          }
        }
      }
      c.ops_.push_back(op);
      any = true;
    }
    if (!any) throw refuse();
    if (i == text.size()) break;
    if (text[i] != ',' || i + 1 == text.size()) throw refuse();
    ++i;
  }
  return c;
}

unsigned Chmod::apply(unsigned mode, bool is_dir) const {
  if (octal_) return *octal_;
  mode &= 07777;
  for (const auto& op : ops_) {
    unsigned bits = op.perm;
    if (op.copy >= 0) bits = ((mode >> op.copy) & 7u) * 0111u;
    if (op.x_if && (is_dir || (mode & 0111u) != 0)) bits |= 0111u;
    bits &= op.who;
    if (op.op == '+') {
      mode |= bits;
    } else if (op.op == '-') {
      mode &= ~bits;
    } else {
      mode = (mode & ~op.who) | bits;
    }
  }
  return mode;
}

}  // namespace mkimg::builder
