#include "builder/copy/recall.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <array>
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

constexpr std::string_view kHeader = "mkimg-copy-recall 3";

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
  /// The line's space-separated fields; the last one takes the rest of the line (a path).
  template <std::size_t N>
  std::optional<std::array<std::string_view, N>> fields() {
    auto line = next();
    if (!line) return std::nullopt;
    std::array<std::string_view, N> out;
    for (std::size_t i = 0; i + 1 < N; ++i) {
      std::size_t space = line->find(' ');
      if (space == std::string_view::npos) return std::nullopt;
      out[i] = line->substr(0, space);
      line->remove_prefix(space + 1);
    }
    out[N - 1] = *line;
    return out;
  }
  static std::optional<int64_t> parse(std::string_view s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
    return v;
  }
  std::size_t consumed(std::string_view whole) const { return whole.size() - rest_.size(); }

 private:
  std::string_view rest_;
};

/// The bytes of a fingerprint written as hex (oci::hex_encode); "" when `hex` is not hex of
/// 15 bytes.
std::string from_hex(std::string_view hex) {
  auto bytes = hex.size() == 30 ? oci::hex_decode(hex) : std::nullopt;
  return bytes ? std::move(*bytes) : std::string();
}

/// The record `owned`; nullopt, or an exception from a digest, when it is malformed or its
/// checksum (the last line: "end <sha256 of everything before it>") does not match.
std::optional<CopyRecall> parse(std::string owned) {
  CopyRecall r;
  r.text = std::move(owned);
  std::string_view text = r.text;
  Lines lines(text);
  auto header = lines.next();
  auto format = lines.next();
  auto blob = lines.next();
  auto chain = lines.next();
  auto epoch = lines.next();
  auto tar_size = lines.number();
  auto count = lines.number();
  if (!header || *header != kHeader || !format || !blob || !chain || !epoch || !tar_size ||
      !count) {
    return std::nullopt;
  }
  r.layer.format = *format;
  r.blob_digest = *blob;
  r.chain = *chain;
  r.layer.tar_size = *tar_size;
  if (*epoch != "-") {
    auto e = Lines::parse(*epoch);
    if (!e) return std::nullopt;
    r.layer.source_date_epoch = *e;
  }
  for (int64_t i = 0; i < *count; ++i) {
    auto f = lines.fields<5>();
    if (!f) return std::nullopt;
    auto offset = Lines::parse((*f)[1]), size = Lines::parse((*f)[2]);
    auto tar_offset = Lines::parse((*f)[3]);
    std::string_view state = (*f)[4] == "-" ? std::string_view() : (*f)[4];
    if (!offset || !size || !tar_offset ||
        (!state.empty() && !oci::ResumableSha256::is_mid_state(state))) {
      return std::nullopt;
    }
    oci::Digest::parse((*f)[0]);  // throws for anything but a digest: the record is not used
    r.layer.members.push_back(
        {std::string((*f)[0]), *offset, *size, *tar_offset, std::string(state)});
  }
  auto entries = lines.number();
  if (!entries) return std::nullopt;
  r.layer.entries.reserve(static_cast<std::size_t>(*entries));
  for (int64_t i = 0; i < *entries; ++i) {
    auto f = lines.fields<4>();
    if (!f) return std::nullopt;
    auto offset = Lines::parse((*f)[1]), size = Lines::parse((*f)[2]);
    std::string fingerprint = (*f)[0] == "-" ? std::string() : from_hex((*f)[0]);
    if (!offset || !size || (fingerprint.empty() && (*f)[0] != "-")) return std::nullopt;
    r.layer.entries.emplace((*f)[3],
                            snapshot::EarlierEntry{std::move(fingerprint), *offset, *size});
  }
  std::size_t body = lines.consumed(text);
  auto end = lines.next();
  if (!end || *end != "end " + std::string(oci::sha256_of(text.substr(0, body)).encoded()) ||
      lines.next()) {
    return std::nullopt;
  }
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
    if (std::filesystem::exists(blob)) {
      r->layer.blob = blob;
      r->layer.digest = r->blob_digest;  // checked whole before its members are used
    }
    if (!r->chain.empty()) r->dirs = snapshot::layer_dirs(store, r->chain);
  } catch (const std::exception& e) {
    spdlog::debug("copy recall for this step not used: {}", e.what());
    return std::nullopt;
  }
  return r;
}

void save_copy_recall(const oci::Store& store, const std::string& key,
                      const snapshot::LayerBlob& blob, const std::string& chain,
                      std::optional<int64_t> source_date_epoch,
                      const std::vector<std::string>& changed) {
  std::unordered_set<std::string_view> unsure(changed.begin(), changed.end());
  // Every entry is listed (a layer stacked on this one must hide those that go); one whose
  // source changed while it was written has no fingerprint ("-"): it is written again next
  // time. A path with a newline cannot be a line: the record is not kept then.
  for (const auto& e : blob.written) {
    if (e.first.find('\n') != std::string::npos) return;
  }
  // Sized first and written in place: a COPY of 100,000 files makes a record of megabytes.
  std::size_t size = 200 + blob.member_format.size() + blob.digest.size() + chain.size();
  for (const auto& m : blob.members) size += m.hash.size() + m.tar_state.size() + 64;
  for (const auto& e : blob.written) size += e.first.size() + 2 * e.second.fingerprint.size() + 46;
  std::string out;
  out.reserve(size);
  auto number = [&out](int64_t n) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, p);
  };
  out.append(kHeader).append("\n").append(blob.member_format).append("\n");
  out.append(blob.digest).append("\n").append(chain).append("\n");
  if (source_date_epoch) {
    number(*source_date_epoch);
  } else {
    out.append("-");
  }
  out.append("\n");
  number(blob.tar_size);
  out.append("\n");
  number(static_cast<int64_t>(blob.members.size()));
  out.append("\n");
  for (const auto& m : blob.members) {
    out.append(m.hash).append(" ");
    number(m.offset);
    out.append(" ");
    number(m.size);
    out.append(" ");
    number(m.tar_offset);
    out.append(" ").append(m.tar_state.empty() ? "-" : m.tar_state).append("\n");
  }
  number(static_cast<int64_t>(blob.written.size()));
  out.append("\n");
  for (const auto& e : blob.written) {
    bool sure = !e.second.fingerprint.empty() && !unsure.contains(e.first);
    out.append(sure ? oci::hex_encode(e.second.fingerprint) : "-").append(" ");
    number(e.second.tar_offset);
    out.append(" ");
    number(e.second.tar_size);
    out.append(" ").append(e.first).append("\n");
  }
  std::string checksum = oci::sha256_of(out).encoded();  // of everything before the end line
  out.append("end ").append(checksum).append("\n");
  try {
    auto file = recall_file(store, key);
    std::filesystem::create_directories(file.parent_path());
    // No device flush (megabytes for 100,000 files): one torn by a power cut fails its
    // checksum and is a miss.
    write_file_atomic(file, out, Flush::kNo, store.tmp_dir());
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
