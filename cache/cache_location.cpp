#include "cache/cache_location.h"

#include <map>
#include <vector>

#include "common/error.h"
#include "oci/digest.h"
#include "oci/reference.h"

namespace mkimg::cache {
namespace {

bool has_own_tag(const std::string& ref);

Error bad(std::string_view flag, std::string_view text, const std::string& why) {
  return Error(describe("parse " + std::string(flag), text, why));
}

/// "k=v,k=v" into a map; a value without '=' is the bare form (key "").
std::map<std::string, std::string> fields(std::string_view flag, std::string_view text) {
  std::map<std::string, std::string> out;
  if (text.find('=') == std::string_view::npos) {
    if (text.empty()) throw bad(flag, text, "empty value");
    out[""] = std::string(text);
    return out;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view field =
        text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    auto eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      throw bad(flag, text, "`" + std::string(field) + "` is not KEY=VALUE");
    }
    std::string key(field.substr(0, eq));
    if (!out.emplace(key, std::string(field.substr(eq + 1))).second) {
      throw bad(flag, text, "`" + key + "` is given twice");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

void check_registry_ref(std::string_view flag, std::string_view text, const std::string& ref) {
  if (ref.empty()) throw bad(flag, text, "type=registry needs ref=REPOSITORY");
  auto parsed = oci::Reference::try_parse(ref);
  if (!parsed) throw bad(flag, text, "`" + ref + "` is not a valid repository reference");
  // A tag of its own prefixes each key's tag ("<tag>-sha256-<64 hex>", at most 128).
  if (has_own_tag(ref) && parsed->tag && parsed->tag->size() > 128 - 72) {
    throw bad(flag, text, "the tag of `" + ref + "` is longer than 56 characters");
  }
}

CacheLocation parse(std::string_view flag, std::string_view text, bool exporting) {
  auto f = fields(flag, text);
  CacheLocation loc;
  loc.text = std::string(text);
  if (auto bare = f.find(""); bare != f.end()) {
    loc.ref = bare->second;
    check_registry_ref(flag, text, loc.ref);
    return loc;
  }
  auto take = [&](const std::string& key) {
    auto it = f.find(key);
    if (it == f.end()) return std::string();
    std::string v = it->second;
    f.erase(it);
    return v;
  };
  std::string type = take("type");
  if (type.empty()) type = "registry";
  std::string mode = take("mode");
  if (!mode.empty()) {
    if (!exporting) throw bad(flag, text, "mode= is a --cache-to setting");
    if (mode == "min") {
      loc.mode = ExportMode::kMin;
    } else if (mode == "max") {
      loc.mode = ExportMode::kMax;
    } else {
      throw bad(flag, text, "mode must be min or max, not `" + mode + "`");
    }
  }
  if (type == "registry") {
    loc.type = LocationType::kRegistry;
    loc.ref = take("ref");
    check_registry_ref(flag, text, loc.ref);
  } else if (type == "local") {
    loc.type = LocationType::kLocal;
    std::string dir = take(exporting ? "dest" : "src");
    if (dir.empty()) {
      throw bad(flag, text,
                std::string("type=local needs ") + (exporting ? "dest=DIR" : "src=DIR"));
    }
    loc.dir = dir;
  } else if (type == "inline") {
    if (!exporting) throw bad(flag, text, "type=inline is read with --cache-from IMAGE");
    loc.type = LocationType::kInline;
  } else {
    throw bad(flag, text,
              "unknown type `" + type + "` (registry, local" + (exporting ? ", inline)" : ")"));
  }
  if (std::string mounts = take("cache-mounts"); !mounts.empty()) {
    if (mounts != "true" && mounts != "false") {
      throw bad(flag, text, "cache-mounts must be true or false, not `" + mounts + "`");
    }
    if (loc.type == LocationType::kInline) {
      throw bad(flag, text, "cache-mounts is for type=registry and type=local");
    }
    loc.cache_mounts = mounts == "true";
  }
  // Settings of buildx that change nothing here are accepted and ignored.
  for (const char* ignored : {"compression", "compression-level", "force-compression",
                              "oci-mediatypes", "image-manifest", "ignore-error"}) {
    f.erase(ignored);
  }
  if (!f.empty()) throw bad(flag, text, "unknown setting `" + f.begin()->first + "`");
  return loc;
}

/// True when `ref` names a tag itself (the last path segment has a ':').
bool has_own_tag(const std::string& ref) {
  auto slash = ref.rfind('/');
  std::string last = slash == std::string::npos ? ref : ref.substr(slash + 1);
  return last.find(':') != std::string::npos && ref.find('@') == std::string::npos;
}

}  // namespace

CacheLocation parse_cache_to(std::string_view text) { return parse("--cache-to", text, true); }

CacheLocation parse_cache_from(std::string_view text) { return parse("--cache-from", text, false); }

std::string key_tag(const CacheLocation& location, const std::string& key) {
  std::string tag = key;
  if (auto colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
  if (has_own_tag(location.ref)) tag = *oci::Reference::parse(location.ref).tag + "-" + tag;
  return tag;
}

std::string mount_tag(const CacheLocation& location, const std::string& id) {
  std::string tag = "mount-" + oci::sha256_of(id).encoded();
  if (has_own_tag(location.ref)) tag = *oci::Reference::parse(location.ref).tag + "-" + tag;
  return tag;
}

std::string repository_of(const CacheLocation& location) {
  return oci::Reference::parse(location.ref).repository();
}

}  // namespace mkimg::cache
