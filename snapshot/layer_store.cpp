#include "snapshot/layer_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <variant>

#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "oci/digest.h"
#include "oci/file_io.h"
#include "oci/store.h"
#include "snapshot/apply.h"
#include "snapshot/layer_stream.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

std::string chain_id(const std::string& parent_chain, const std::string& diff_id) {
  if (parent_chain.empty()) return diff_id;
  return oci::sha256_of(parent_chain + " " + diff_id).str();
}

std::vector<std::string> chain_ids(const oci::ImageConfig& config) {
  std::vector<std::string> out;
  std::string chain;
  for (const auto& d : config.rootfs.diff_ids) {
    chain = chain_id(chain, d.str());
    out.push_back(chain);
  }
  return out;
}

std::filesystem::path layer_dir(const oci::Store& store, const std::string& chain) {
  return store.layers_dir() / oci::Digest::parse(chain).encoded();
}

std::string layer_dir_chain(const std::filesystem::path& dir) {
  auto chain = oci::Digest::try_parse("sha256:" + dir.filename().string());
  if (!chain) throw Error(describe("use layer directory", dir.string(), "not named by a chain id"));
  return chain->str();
}

namespace {

/// The chain id hex a stack's `below` file names, or "" when it names none.
std::string read_below(const std::filesystem::path& stack) {
  std::string hex;
  try {
    hex = read_host_file(stack / "below");
  } catch (const std::exception&) {
    return "";
  }
  return oci::Digest::try_parse("sha256:" + hex) ? hex : "";
}

/// layer_dirs by the chain's hex, at most `room` directories deep.
std::vector<std::filesystem::path> dirs_of(const oci::Store& store, const std::string& hex,
                                           std::size_t room) {
  std::error_code ec;
  auto whole = store.layers_dir() / hex;
  if (std::filesystem::is_directory(whole, ec)) return {whole};
  auto stack = store.layers_dir() / (hex + ".stack");
  if (room < 2 || !std::filesystem::is_directory(stack / "delta", ec)) return {};
  std::string below = read_below(stack);
  if (below.empty()) return {};
  auto dirs = dirs_of(store, below, room - 1);
  if (!dirs.empty()) dirs.push_back(stack / "delta");
  return dirs;
}

}  // namespace

std::vector<std::filesystem::path> layer_dirs(const oci::Store& store, const std::string& chain) {
  return dirs_of(store, std::string(oci::Digest::parse(chain).encoded()), kMaxStack);
}

namespace {

/// The in-process lock of one layer directory: two stages that need the same base layer at
/// once unpack it once, the second waits and reuses it. (Across processes the unpack's
/// RENAME_NOREPLACE decides, and the loser reuses the winner's directory.)
std::mutex& unpack_lock(const std::filesystem::path& dir) {
  static std::mutex guard;
  static std::map<std::filesystem::path, std::unique_ptr<std::mutex>> locks;
  std::lock_guard lock(guard);
  auto& m = locks[dir];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

}  // namespace

std::string blob_diff_id(const std::filesystem::path& blob) {
  LayerStream stream(blob, blob.string(), ApplyLimits{});
  stream.drain();
  return stream.diff_id();
}

std::vector<std::filesystem::path> ensure_unpacked(const oci::Store& store,
                                                   const oci::Descriptor& layer,
                                                   const std::string& diff_id,
                                                   const std::string& chain,
                                                   const std::function<bool()>& keep_going) {
  if (auto dirs = layer_dirs(store, chain); !dirs.empty()) return dirs;
  auto dir = layer_dir(store, chain);
  std::error_code ec;
  std::lock_guard lock(unpack_lock(dir));
  if (auto dirs = layer_dirs(store, chain); !dirs.empty()) return dirs;
  // A broken stack (what it was stacked on is gone) is left for prune; the whole directory,
  // unpacked beside it, is taken first from now on.
  std::filesystem::create_directories(store.layers_dir());
  try {
    ApplyLimits limits;
    limits.keep_going = keep_going;
    snapshot::unpack_layer(store.blob_path(layer.digest), dir, diff_id, limits);
  } catch (const std::exception& e) {
    // Another build may have unpacked the same layer meanwhile.
    if (std::filesystem::is_directory(dir, ec)) return {dir};
    throw with_context("unpack layer `" + layer.digest.str() + "`", e);
  }
  return {dir};
}

std::vector<std::filesystem::path> ensure_image_unpacked(const oci::Store& store,
                                                         const oci::ImageConfig& config,
                                                         const std::vector<oci::Descriptor>& layers,
                                                         const PendingLayers* pending,
                                                         const std::function<bool()>& keep_going) {
  auto chains = chain_ids(config);
  if (chains.size() != layers.size()) {
    throw Error(
        describe("unpack image", config.architecture, "layer count and diff_ids do not match"));
  }
  std::vector<std::filesystem::path> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    auto made = pending ? pending->find(chains[i]) : std::nullopt;
    auto dirs = made ? *made
                     : ensure_unpacked(store, layers[i], config.rootfs.diff_ids[i].str(), chains[i],
                                       keep_going);
    out.insert(out.end(), dirs.begin(), dirs.end());
  }
  return out;
}

PendingLayers::~PendingLayers() {
  try {
    record();
  } catch (const std::exception& e) {
    spdlog::warn("layer directories not kept: {}", e.what());
  }
}

void PendingLayers::add(const std::filesystem::path& upper, const std::string& chain,
                        const std::string& below) {
  auto dir = store_.temp_path("layer-");
  Pending p{dir, !below.empty()};
  if (p.stack) {
    std::filesystem::create_directory(dir);
    write_file_atomic(dir / "below", oci::Digest::parse(below).encoded(), Flush::kWithDirectory,
                      store_.tmp_dir());
  }
  auto to = p.stack ? dir / "delta" : dir;
  if (::rename(upper.c_str(), to.c_str()) != 0) {
    int err = errno;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    throw sys_error("rename", upper.string(), err);
  }
  std::lock_guard lock(mutex_);
  auto [it, added] = dirs_.emplace(chain, p);
  if (!added) {  // two stages made the same layer: keep the first
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

std::optional<std::vector<std::filesystem::path>> PendingLayers::find(
    const std::string& chain) const {
  std::lock_guard lock(mutex_);
  auto it = dirs_.find(chain);
  if (it == dirs_.end()) return std::nullopt;
  if (!it->second.stack) return std::vector<std::filesystem::path>{it->second.dir};
  // Stacked on a layer the store has (a recorded one: see add).
  auto dirs = dirs_of(store_, read_below(it->second.dir), kMaxStack - 1);
  if (dirs.empty()) {
    throw Error(describe("use layer", chain, "the layer it is stacked on is gone"));
  }
  dirs.push_back(it->second.dir / "delta");
  return dirs;
}

std::optional<std::vector<std::pair<std::filesystem::path, std::string>>> entries_to_fsync(
    const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::pair<std::filesystem::path, std::string>> out;
  for (const auto& dir : dirs) {
    UniqueFd root = open_tree_root(dir.string());
    out.emplace_back(dir, "");
    bool few = out.size() <= kFsyncEachUpTo;
    walk_tree(root.get(), [&](const std::string& rel, const struct stat& st) {
      if (!few) return false;
      if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) out.emplace_back(dir, rel);
      few = out.size() <= kFsyncEachUpTo;
      return few && S_ISDIR(st.st_mode);
    });
    if (!few) return std::nullopt;
  }
  return out;
}

void PendingLayers::record() {
  std::lock_guard lock(mutex_);
  if (dirs_.empty()) return;
  std::filesystem::create_directories(store_.layers_dir());
  // The layers' files are on disk before they are recorded (docs/security.md 21).
  std::vector<std::filesystem::path> dirs;
  for (const auto& [chain, pending] : dirs_) dirs.push_back(pending.dir);
  if (auto each = entries_to_fsync(dirs)) {
    UniqueFd root;
    std::filesystem::path root_dir;
    for (const auto& [dir, rel] : *each) {
      if (!root || dir != root_dir) root = open_tree_root((root_dir = dir).string());
      UniqueFd fd = open_beneath(root.get(), rel, O_RDONLY | O_NOFOLLOW);
      if (!fd) throw sys_error("open", (dir / rel).string());
      oci::detail::fsync_fd(fd.get(), dir / rel);
    }
  } else {
    oci::detail::sync_file_system(store_.layers_dir());
  }
  for (auto it = dirs_.begin(); it != dirs_.end(); it = dirs_.erase(it)) {
    auto target = layer_dir(store_, it->first);
    std::error_code ec;
    if (it->second.stack) {
      // Not when the whole directory is there already (it is taken first).
      if (std::filesystem::is_directory(target, ec)) {
        std::filesystem::remove_all(it->second.dir, ec);
        continue;
      }
      target += ".stack";
    }
    if (::rename(it->second.dir.c_str(), target.c_str()) != 0) {
      if (errno != EEXIST && errno != ENOTEMPTY) throw sys_error("rename", it->second.dir.string());
      std::filesystem::remove_all(it->second.dir, ec);
    }
  }
}

namespace {

/// Adds the chain ids (hex) of the image `d` names, of every platform of an index. A document
/// that cannot be read keeps nothing: its layers unpack again when needed.
void collect_chains(const oci::Store& store, const oci::Descriptor& d,
                    std::set<std::string>& live) {
  if (!store.has_blob(d.digest)) return;
  try {
    auto doc = oci::parse_manifest_document(store.read_blob(d.digest), d.media_type);
    if (const auto* index = std::get_if<oci::Index>(&doc)) {
      for (const auto& m : index->manifests) collect_chains(store, m, live);
      return;
    }
    const auto& manifest = std::get<oci::Manifest>(doc);
    auto config = oci::parse_image_config(store.read_blob(manifest.config.digest));
    for (const auto& chain : chain_ids(config)) {
      live.insert(std::string(oci::Digest::parse(chain).encoded()));
    }
  } catch (const Error&) {
  }
}

/// The size of the files below `dir`, each inode counted once.
std::int64_t tree_size(const std::filesystem::path& dir) {
  std::int64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.emplace(st.st_dev, st.st_ino).second) continue;
    total += static_cast<std::int64_t>(st.st_size);
  }
  return total;
}

}  // namespace

LayerPruneResult prune_layers(const oci::Store& store) {
  std::set<std::string> live;
  for (const auto& entry : store.list()) collect_chains(store, entry.manifest, live);
  // A needed layer's stack is used only when it has no whole directory and what it is stacked
  // on (its `below`, and so on down) is there; a used stack needs its `below`. A stack that is
  // not used (broken, or a whole directory was unpacked beside it) goes.
  std::set<std::string> used_stacks;
  std::vector<std::string> todo(live.begin(), live.end());
  while (!todo.empty()) {
    std::string hex = std::move(todo.back());
    todo.pop_back();
    std::error_code ec;
    if (std::filesystem::exists(store.layers_dir() / hex, ec)) continue;
    if (dirs_of(store, hex, kMaxStack).size() < 2) continue;  // broken, or none
    used_stacks.insert(hex);
    std::string below = read_below(store.layers_dir() / (hex + ".stack"));
    if (live.insert(below).second) todo.push_back(below);
  }
  std::vector<std::filesystem::path> unused;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(store.layers_dir(), ec)) {
    std::string name = entry.path().filename().string();
    bool stack = name.ends_with(".stack");
    if (stack) name.resize(name.size() - 6);
    if (!(stack ? used_stacks.contains(name) : live.contains(name))) unused.push_back(entry.path());
  }
  LayerPruneResult result;
  for (const auto& dir : unused) {
    std::int64_t size = tree_size(dir);
    auto doomed = store.temp_path("pruned-layer");
    if (::rename(dir.c_str(), doomed.c_str()) != 0) throw sys_error("rename", dir.string());
    if (std::filesystem::remove_all(doomed, ec); ec) {
      throw Error(describe("remove", doomed.string(), ec.message()));
    }
    // .tmp-* leftovers of killed unpacks are removed but not counted as layers.
    if (!dir.filename().string().starts_with(".")) ++result.layers_removed;
    result.bytes_removed += size;
  }
  return result;
}

std::vector<std::filesystem::path> overlay_lowers(
    const std::vector<std::filesystem::path>& unpacked) {
  return {unpacked.rbegin(), unpacked.rend()};
}

}  // namespace mkimg::snapshot
