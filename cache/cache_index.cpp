#include "cache/cache_index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "cache/prune.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "oci/digest.h"

namespace mkimg::cache {
namespace {

using json = nlohmann::json;

std::string hex_of(const std::string& key) {
  auto colon = key.find(':');
  std::string hex = colon == std::string::npos ? key : key.substr(colon + 1);
  if (!oci::is_lower_hex(hex)) throw Error(describe("use cache key", key, "not a hex digest"));
  return hex;
}

/// An exclusive flock on <dir>/lock held for the object's life.
class DirLock {
 public:
  explicit DirLock(const std::filesystem::path& dir)
      : fd_(::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!fd_) throw sys_error("open", (dir / "lock").string());
    while (::flock(fd_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) throw sys_error("lock", (dir / "lock").string());
    }
  }

 private:
  UniqueFd fd_;
};

/// The entry without its part digests (they go to their own file).
json to_json(const CacheEntry& e) {
  json j{
      {"key", e.key},         {"layer_digest", e.layer_digest}, {"media_type", e.layer_media_type},
      {"size", e.layer_size}, {"diff_id", e.diff_id},           {"created", e.created}};
  if (!e.chain_key.empty()) j["chain_key"] = e.chain_key;
  return j;
}

/// The parts as JSON text. Their names carry file names, which are bytes: any that are not
/// UTF-8 are written with U+FFFD (as Go's encoding/json does). The parts only explain a miss;
/// the key itself is made from the bytes.
/// The bytes are those of the dump of a json object holding them (names sorted bytewise, the
/// last of a repeated name kept, each string escaped by nlohmann), written without making
/// that object first: a COPY of 100,000 files has 100,000 parts.
std::string parts_text(const CacheEntry& e) {
  std::vector<const KeyPart*> sorted;
  sorted.reserve(e.part_digests.size());
  std::size_t size = 2;
  for (const auto& p : e.part_digests) {
    sorted.push_back(&p);
    size += p.name.size() + p.value.size() + 6;
  }
  auto by_name = [](const KeyPart* a, const KeyPart* b) { return a->name < b->name; };
  // A COPY's parts come in walk order, which is name order for most trees: checked, not sorted.
  if (!std::is_sorted(sorted.begin(), sorted.end(), by_name)) {
    std::stable_sort(sorted.begin(), sorted.end(), by_name);
  }
  std::string out = "{";
  out.reserve(size);
  // Printable ASCII but `"` and `\\` is written as it is (what the dump gives, without making a
  // json value or a string per name: a COPY of 100,000 files has as many).
  auto put_quoted = [&out](const std::string& s) {
    bool plain = std::all_of(s.begin(), s.end(),
                             [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain) {
      out.append("\"").append(s).append("\"");
    } else {
      out.append(json(s).dump(-1, ' ', false, json::error_handler_t::replace));
    }
  };
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i + 1 < sorted.size() && sorted[i + 1]->name == sorted[i]->name) continue;
    if (out.size() > 1) out += ',';
    put_quoted(sorted[i]->name);
    out += ':';
    put_quoted(sorted[i]->value);
  }
  out += '}';
  return out;
}

void add_parts(CacheEntry& e, const json& parts) {
  for (const auto& [k, v] : parts.items()) e.part_digests.push_back({k, v});
}

CacheEntry from_json(const json& j) {
  CacheEntry e;
  e.key = j.at("key").get<std::string>();
  e.layer_digest = j.at("layer_digest").get<std::string>();
  e.layer_media_type = j.at("media_type").get<std::string>();
  e.layer_size = j.at("size").get<long long>();
  e.diff_id = j.at("diff_id").get<std::string>();
  e.created = j.value("created", "");
  e.chain_key = j.value("chain_key", "");
  if (auto parts = j.find("parts"); parts != j.end()) add_parts(e, *parts);  // older entries
  return e;
}

std::optional<CacheEntry> read_entry(const std::filesystem::path& p) {
  std::string text;
  try {
    text = read_host_file(p);
  } catch (const std::exception&) {
    return std::nullopt;  // no such entry
  }
  try {
    return from_json(json::parse(text));
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged entry is a miss, never a failure
  }
}

}  // namespace

std::string entry_document(const CacheEntry& entry) {
  json j = to_json(entry);
  json parts = json::object();
  for (const auto& p : entry.part_digests) parts[p.name] = p.value;
  j["parts"] = parts;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

CacheEntry parse_entry_document(std::string_view text) {
  try {
    return from_json(json::parse(text));
  } catch (const std::exception& e) {
    throw Error(describe("read cache entry", "document", e.what()));
  }
}

std::vector<KeyPart> CacheIndex::parts(const std::string& key) const {
  CacheEntry e;
  try {
    add_parts(e, json::parse(read_host_file(parts_path(key))));
  } catch (const std::exception&) {
    // not kept
  }
  return e.part_digests;
}

CacheIndex::CacheIndex(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_ / "steps");
  std::filesystem::create_directories(dir_ / "children");
}

std::filesystem::path CacheIndex::entry_path(const std::string& key) const {
  return dir_ / "steps" / (hex_of(key) + ".json");
}

std::filesystem::path CacheIndex::parts_path(const std::string& key) const {
  return dir_ / "steps" / (hex_of(key) + ".parts");
}

std::optional<CacheEntry> CacheIndex::find(const std::string& key) const {
  auto entry = read_entry(entry_path(key));
  if (entry) mark_used(entry_path(key));
  if (entry && !entry->part_digests.empty() && entry->key == key) {
    // An entry written before the parts moved beside it: split it once, so the next hit
    // parses a few hundred bytes (parts first, as put() does; a failure only keeps it whole).
    try {
      DirLock lock(dir_);
      write_file_atomic(parts_path(key), parts_text(*entry), Flush::kNo);
      write_file_atomic(entry_path(key), to_json(*entry).dump(), Flush::kNo);
    } catch (const std::exception&) {
    }
  }
  return entry;
}

void CacheIndex::put(const std::string& parent, const CacheEntry& entry) const {
  DirLock lock(dir_);
  // The parts first: an entry that is found always has its parts (a crash in between leaves
  // at most a parts file no entry uses, replaced by the next put of that key). No file is
  // flushed to disk: a power cut can at worst lose or tear one, and every reader checks them
  // (a torn entry does not parse: a miss; torn parts or children: a vaguer --explain), while
  // three device flushes a step would cost about as much as a one-line RUN's own diff.
  write_file_atomic(parts_path(entry.key), parts_text(entry), Flush::kNo);
  write_file_atomic(entry_path(entry.key), to_json(entry).dump(), Flush::kNo);
  std::string parent_name = parent.empty() ? "root" : hex_of(parent);
  write_file_atomic(dir_ / "children" / parent_name, entry.key, Flush::kNo);
}

std::string CacheIndex::explain_miss(const StepKey& key) const {
  std::string parent_name = key.parent.empty() ? "root" : hex_of(key.parent);
  std::error_code ec;
  auto child = dir_ / "children" / parent_name;
  if (!std::filesystem::exists(child, ec)) return "no earlier build of a step on this parent";
  std::string previous_key = read_host_file(child);
  auto colon = previous_key.find(':');  // a file a power cut tore names no entry
  if (colon == std::string::npos || !oci::is_lower_hex(previous_key.substr(colon + 1))) {
    return "no earlier build of a step on this parent";
  }
  auto previous = read_entry(entry_path(previous_key));
  if (!previous) return "no earlier build of a step on this parent";
  if (previous->part_digests.empty()) {
    try {
      add_parts(*previous, json::parse(read_host_file(parts_path(previous_key))));
    } catch (const std::exception&) {
      // no parts recorded: every part counts as changed
    }
  }
  // An entry adopted from a shared cache may carry its source parts folded into one.
  std::vector<KeyPart> current = part_digests(key);
  bool folded = std::any_of(previous->part_digests.begin(), previous->part_digests.end(),
                            [](const KeyPart& p) { return p.name == kFoldedSources; });
  if (folded) current = fold_sources(current, 0);
  // By name in hash maps: a COPY of 100,000 files has as many parts.
  std::unordered_map<std::string_view, std::string_view> before;
  std::unordered_set<std::string_view> now;
  for (const auto& old : previous->part_digests) before[old.name] = old.value;
  for (const auto& part : current) now.insert(part.name);
  // At most kShownParts names, then how many more: one line, whatever the step.
  constexpr std::size_t kShownParts = 20;
  std::string changed;
  std::size_t count = 0;
  auto add = [&](std::string_view name, std::string_view suffix) {
    if (count++ >= kShownParts) return;
    changed.append(changed.empty() ? "" : ", ").append(name).append(suffix);
  };
  for (const auto& part : current) {
    auto it = before.find(part.name);
    if (it == before.end() || it->second != part.value) add(part.name, "");
  }
  for (const auto& old : previous->part_digests) {
    if (!now.contains(old.name)) add(old.name, " (removed)");
  }
  if (count > kShownParts) changed += " and " + std::to_string(count - kShownParts) + " more";
  return changed.empty() ? "an identical entry was replaced" : "changed: " + changed;
}

std::vector<std::string> CacheIndex::layer_digests() const {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "steps")) {
    if (f.path().extension() != ".json") continue;
    if (auto e = read_entry(f.path()); e && !e->layer_digest.empty()) {
      out.push_back(e->layer_digest);
    }
  }
  return out;
}

std::vector<StoredEntry> CacheIndex::stored() const {
  std::map<std::string, StoredEntry> by_hex;
  std::map<std::string, bool> has_entry_file;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "steps", ec)) {
    std::string name = f.path().filename().string();
    std::string hex = name.substr(0, name.find('.'));
    struct stat st {};
    if (hex.size() != 64 || ::lstat(f.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    try {
      hex_of(hex);
    } catch (const Error&) {
      continue;  // not a file of ours
    }
    StoredEntry& e = by_hex[hex];
    e.key = "sha256:" + hex;
    e.file_bytes += st.st_size;
    bool entry_file = name == hex + ".json";
    if (entry_file || (!has_entry_file[hex] && st.st_mtime > e.last_used)) {
      e.last_used = st.st_mtime;
    }
    if (entry_file) {
      has_entry_file[hex] = true;
      if (auto read = read_entry(f.path())) e.layer_digest = read->layer_digest;
    }
  }
  std::vector<StoredEntry> out;
  for (auto& [hex, e] : by_hex) out.push_back(std::move(e));
  return out;
}

void CacheIndex::remove(const std::vector<std::string>& keys) const {
  DirLock lock(dir_);
  std::set<std::string> hexes;
  for (const auto& key : keys) hexes.insert(hex_of(key));
  std::vector<std::filesystem::path> entries, others;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "steps", ec)) {
    std::string name = f.path().filename().string();
    if (!hexes.contains(name.substr(0, name.find('.')))) continue;
    (f.path().extension() == ".json" ? entries : others).push_back(f.path());
  }
  // The entries first, so that a prune killed half-way leaves at most parts no entry uses.
  for (const auto& f : entries) std::filesystem::remove(f, ec);
  for (const auto& f : others) std::filesystem::remove(f, ec);
  std::vector<std::filesystem::path> stale;
  for (const auto& f : std::filesystem::directory_iterator(dir_ / "children", ec)) {
    try {
      if (std::filesystem::exists(entry_path(read_host_file(f.path())))) continue;
    } catch (const std::exception&) {
      // unreadable or not a key: nothing to explain a miss with
    }
    stale.push_back(f.path());
  }
  for (const auto& f : stale) std::filesystem::remove(f, ec);
}

}  // namespace mkimg::cache
