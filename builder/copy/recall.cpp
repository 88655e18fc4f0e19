#include "builder/copy/recall.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <string_view>
#include <unordered_set>

#include "common/in_root.h"
#include "oci/digest.h"
#include "oci/file_io.h"
#include "oci/store.h"
#include "snapshot/layer_store.h"

namespace mkimg::builder {
namespace {

constexpr std::string_view kHeader = "mkimg-copy-recall 1";

std::filesystem::path recall_file(const oci::Store& store, const std::string& key) {
  return store.cache_dir() / "copy-recall" / oci::sha256_of(key).encoded();
}

/// Reads the record line by line; any malformed line makes the whole record unusable.
class Lines {
 public:
  explicit Lines(std::string_view text) : rest_(text) {}
  std::optional<std::string_view> next() {
    std::size_t end = rest_.find('\n');
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(end + 1);
    return line;
  }
  std::optional<int64_t> number() {
    auto line = next();
    return line ? parse(*line) : std::nullopt;
  }
  static std::optional<int64_t> parse(std::string_view s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
    return v;
  }

 private:
  std::string_view rest_;
};

/// The record in `text`; nullopt, or an exception from a member digest, when it is malformed.
std::optional<CopyRecall> parse(std::string_view text) {
  Lines lines(text);
  CopyRecall r;
  auto header = lines.next();
  auto format = lines.next();
  auto blob = lines.next();
  auto chain = lines.next();
  auto count = lines.number();
  if (!header || *header != kHeader || !format || !blob || !chain || !count) return std::nullopt;
  r.members.format = *format;
  r.blob_digest = *blob;
  r.chain = *chain;
  for (int64_t i = 0; i < *count; ++i) {
    auto line = lines.next();
    if (!line) return std::nullopt;
    std::size_t a = line->find(' '), b = line->rfind(' ');
    if (a == std::string_view::npos || a == b) return std::nullopt;
    std::string hash(line->substr(0, a));
    auto offset = Lines::parse(line->substr(a + 1, b - a - 1));
    auto size = Lines::parse(line->substr(b + 1));
    if (!offset || !size) return std::nullopt;
    oci::Digest::parse(hash);  // throws for anything but a digest: the record is not used
    r.members.members.push_back({std::move(hash), *offset, *size});
  }
  auto files = lines.number();
  if (!files) return std::nullopt;
  for (int64_t i = 0; i < *files; ++i) {
    auto line = lines.next();
    if (!line) return std::nullopt;
    std::size_t a = line->find(' ');
    if (a == std::string_view::npos) return std::nullopt;
    r.files.digests.emplace(std::string(line->substr(a + 1)), std::string(line->substr(0, a)));
  }
  auto end = lines.next();
  if (!end || *end != "end") return std::nullopt;
  return r;
}

}  // namespace

std::optional<CopyRecall> load_copy_recall(const oci::Store& store, const std::string& key) {
  std::optional<CopyRecall> r;
  try {
    auto file = recall_file(store, key);
    if (!std::filesystem::exists(file)) return std::nullopt;
    r = parse(read_host_file(file));
    if (!r) {
      spdlog::debug("copy recall {} unusable, not used", file.string());
      return std::nullopt;
    }
    auto blob = store.blob_path(oci::Digest::parse(r->blob_digest));
    if (std::filesystem::exists(blob)) r->members.blob = blob;
    if (!r->chain.empty()) {
      auto dir = snapshot::layer_dir(store, r->chain);
      if (std::filesystem::is_directory(dir)) r->files.dir = dir;
    }
  } catch (const std::exception& e) {
    spdlog::debug("copy recall for this step not used: {}", e.what());
    return std::nullopt;
  }
  return r;
}

void save_copy_recall(const oci::Store& store, const std::string& key,
                      const snapshot::LayerBlob& blob, const std::string& chain,
                      const std::vector<snapshot::SpecEntry>& entries,
                      const std::vector<std::string>& changed) {
  std::unordered_set<std::string_view> unsure(changed.begin(), changed.end());
  // A path with a newline cannot be a line: that file is written again next time.
  auto recorded = [&](const snapshot::SpecEntry& e) {
    return S_ISREG(e.mode) && e.link_group < 0 && !e.digest.empty() &&
           e.path.find('\n') == std::string::npos && !unsure.contains(e.path);
  };
  // Sized first and written in place: a COPY of 100,000 files makes a record of megabytes.
  std::size_t count = 0, size = 128 + blob.member_format.size() + blob.digest.size() + chain.size();
  for (const auto& m : blob.members) size += m.hash.size() + 42;
  for (const auto& e : entries) {
    if (recorded(e)) ++count, size += e.digest.size() + e.path.size() + 2;
  }
  std::string out;
  out.reserve(size);
  out.append(kHeader).append("\n").append(blob.member_format).append("\n");
  out.append(blob.digest).append("\n").append(chain).append("\n");
  out.append(std::to_string(blob.members.size())).append("\n");
  for (const auto& m : blob.members) {
    out.append(m.hash).append(" ").append(std::to_string(m.offset)).append(" ");
    out.append(std::to_string(m.size)).append("\n");
  }
  out.append(std::to_string(count)).append("\n");
  for (const auto& e : entries) {
    if (recorded(e)) out.append(e.digest).append(" ").append(e.path).append("\n");
  }
  out.append("end\n");
  try {
    auto file = recall_file(store, key);
    std::filesystem::create_directories(file.parent_path());
    oci::detail::replace_file(file, out, store.tmp_dir());
  } catch (const std::exception& e) {
    spdlog::warn("could not record the COPY for the next build: {}", e.what());
  }
}

std::size_t prune_copy_recalls(const oci::Store& store) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(store.cache_dir() / "copy-recall", ec)) {
    bool keep = false;
    try {
      auto r = parse(read_host_file(e.path()));
      keep = r && store.has_blob(oci::Digest::parse(r->blob_digest));
    } catch (const std::exception&) {
      // unreadable: removed
    }
    if (!keep && std::filesystem::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace mkimg::builder
