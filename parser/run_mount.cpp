#include "parser/run_mount.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"

namespace mkimg::parser {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

bool parse_go_bool(std::string_view key, std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False")
    return false;
  throw Error("invalid value for " + std::string(key) + ": " + std::string(v));
}

std::uint64_t parse_unsigned(std::string_view key, std::string_view v, int base) {
  if (v.empty() || v.find_first_not_of(base == 8 ? "01234567" : "0123456789") != v.npos) {
    throw Error("invalid value for " + std::string(key) + ": " + std::string(v));
  }
  const std::uint64_t n = std::strtoull(std::string(v).c_str(), nullptr, base);
  if (n > 0xFFFFFFFFull)
    throw Error("invalid value for " + std::string(key) + ": " + std::string(v));
  return n;
}

/// docker/go-units RAMInBytes: "64m", "1.5GiB", "1024" (binary multiples).
std::uint64_t parse_ram_size(std::string_view v) {
  std::size_t pos = 0;
  while (pos < v.size() && ((v[pos] >= '0' && v[pos] <= '9') || v[pos] == '.')) ++pos;
  const std::string number(v.substr(0, pos));
  std::string unit = lower(v.substr(pos));
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  if (number.empty() || number[0] == '.') throw Error("invalid size: '" + std::string(v) + "'");
  double n = std::strtod(number.c_str(), nullptr);
  static const std::string kUnits = "kmgtp";
  double mult = 1;
  if (!unit.empty() && kUnits.find(unit[0]) != std::string::npos) {
    for (std::size_t i = 0; i <= kUnits.find(unit[0]); ++i) mult *= 1024;
    unit.erase(0, 1);
  }
  if (unit != "" && unit != "b" && unit != "ib" && unit != "i") {
    throw Error("invalid size: '" + std::string(v) + "'");
  }
  return static_cast<std::uint64_t>(n * mult);
}

MountType mount_type(std::string_view v) {
  const std::string t = lower(v);
  if (t == "bind") return MountType::kBind;
  if (t == "cache") return MountType::kCache;
  if (t == "tmpfs") return MountType::kTmpfs;
  if (t == "secret") return MountType::kSecret;
  if (t == "ssh") return MountType::kSsh;
  throw Error("unsupported mount type \"" + std::string(v) + "\"");
}

CacheSharing sharing_mode(std::string_view v) {
  const std::string s = lower(v);
  if (s == "shared") return CacheSharing::kShared;
  if (s == "private") return CacheSharing::kPrivate;
  if (s == "locked") return CacheSharing::kLocked;
  throw Error("unsupported sharing value \"" + std::string(v) + "\"");
}

const char* type_name(MountType t) {
  switch (t) {
    case MountType::kBind:
      return "bind";
    case MountType::kCache:
      return "cache";
    case MountType::kTmpfs:
      return "tmpfs";
    case MountType::kSecret:
      return "secret";
    case MountType::kSsh:
      return "ssh";
  }
  return "bind";
}

/// What parsing saw besides the RunMount itself.
struct MountSeen {
  bool read_only_given = false;
  bool sharing_given = false;
};

void apply_flag_word(RunMount& m, MountSeen& seen, const std::string& key,
                     const std::string& field) {
  if (key == "readonly" || key == "ro") {
    m.read_only = true, seen.read_only_given = true;
  } else if (key == "readwrite" || key == "rw") {
    m.read_only = false, seen.read_only_given = true;
  } else if (key == "required" && (m.type == MountType::kSecret || m.type == MountType::kSsh)) {
    m.required = true;
  } else if (key == "required") {
    throw Error("unexpected key 'required' for mount type '" + std::string(type_name(m.type)) +
                "'");
  } else {
    throw Error("invalid field '" + field + "' must be a key=value pair");
  }
}

void apply_field(RunMount& m, MountSeen& seen, const std::string& key, const std::string& value,
                 const std::string& field) {
  if (key == "type") {
    m.type = mount_type(value);
  } else if (key == "from") {
    m.from = value;
  } else if (key == "source" || key == "src") {
    m.source = value;
  } else if (key == "target" || key == "dst" || key == "destination") {
    m.target = value;
  } else if (key == "readonly" || key == "ro") {
    m.read_only = parse_go_bool(key, value), seen.read_only_given = true;
  } else if (key == "readwrite" || key == "rw") {
    m.read_only = !parse_go_bool(key, value), seen.read_only_given = true;
  } else if (key == "required") {
    if (m.type != MountType::kSecret && m.type != MountType::kSsh) {
      throw Error("unexpected key 'required' for mount type '" + std::string(type_name(m.type)) +
                  "'");
    }
    m.required = parse_go_bool(key, value);
  } else if (key == "id") {
    m.id = value;
  } else if (key == "sharing") {
    m.sharing = sharing_mode(value), seen.sharing_given = true;
  } else if (key == "mode") {
    m.mode = static_cast<std::uint32_t>(parse_unsigned(key, value, 8));
  } else if (key == "uid") {
    m.uid = static_cast<std::uint32_t>(parse_unsigned(key, value, 10));
  } else if (key == "gid") {
    m.gid = static_cast<std::uint32_t>(parse_unsigned(key, value, 10));
  } else if (key == "size" && m.type == MountType::kTmpfs) {
    m.size = parse_ram_size(value);
  } else if (key == "env" && m.type == MountType::kSecret) {
    m.env = value;
  } else {
    throw Error("unexpected key '" + key + "' in '" + field + "'");
  }
}

void check_mount(const RunMount& m, const MountSeen& seen) {
  const bool file_info =
      m.type == MountType::kSecret || m.type == MountType::kSsh || m.type == MountType::kCache;
  if (!file_info && (m.mode || m.uid || m.gid)) {
    throw Error(std::string("mode, uid and gid are not allowed for \"") + type_name(m.type) +
                "\" type mounts");
  }
  if (seen.sharing_given && m.type != MountType::kCache) {
    throw Error(std::string("invalid cache sharing set for ") + type_name(m.type) + " mount");
  }
  // No target is not an error here: as in BuildKit, a bind, cache or tmpfs mount without one
  // lands at the step's working directory (the builder resolves it, and refuses "/").
  if (m.type == MountType::kSecret) {
    if (!m.from.empty()) throw Error("secret mount should not have a from");
    if (m.source.empty() && m.target.empty() && m.id.empty() && m.env.empty()) {
      throw Error("invalid secret mount. one of source, target or id required");
    }
    if (!m.source.empty() && !m.id.empty()) throw Error("both source and id can't be set");
  }
}

}  // namespace

/// Go's encoding/csv for one record: commas separate, "..." quotes with "" for a quote.
std::vector<std::string> mount_fields(std::string_view text) {
  std::vector<std::string> fields;
  std::string field;
  std::size_t pos = 0;
  for (;;) {
    field.clear();
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      for (;;) {
        if (pos >= text.size())
          throw Error("parse mount `" + std::string(text) + "`: unterminated quote");
        if (text[pos] == '"') {
          if (pos + 1 < text.size() && text[pos + 1] == '"') {
            field += '"', pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        field += text[pos++];
      }
      if (pos < text.size() && text[pos] != ',') {
        throw Error("parse mount `" + std::string(text) +
                    "`: extraneous text after a quoted field");
      }
    } else {
      while (pos < text.size() && text[pos] != ',') field += text[pos++];
    }
    fields.push_back(field);
    if (pos >= text.size()) break;
    ++pos;  // the comma
  }
  return fields;
}

RunMount parse_run_mount(std::string_view text, MountCheck check,
                         const MountValueExpander& expand) {
  RunMount m;
  m.text = std::string(text);
  MountSeen seen;
  for (const std::string& field : mount_fields(text)) {
    if (field.empty()) continue;
    if (check == MountCheck::kLenient && field.find('$') != std::string::npos) continue;
    const auto eq = field.find('=');
    const std::string key = lower(field.substr(0, eq));
    if (eq == std::string::npos) {
      apply_flag_word(m, seen, key, field);
    } else {
      const std::string value = field.substr(eq + 1);
      apply_field(m, seen, key, expand ? expand(value) : value, field);
    }
  }
  if (!seen.read_only_given)
    m.read_only = m.type != MountType::kCache && m.type != MountType::kTmpfs;
  if (check == MountCheck::kStrict || m.text.find('$') == std::string::npos) check_mount(m, seen);
  return m;
}

}  // namespace mkimg::parser
