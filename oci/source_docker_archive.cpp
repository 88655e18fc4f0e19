// The docker-archive source: manifest.json + config + layer files, presented as an OCI
// manifest. Layer digests are computed by reading each layer file once at resolve().
#include <algorithm>
#include <map>

#include "common/error.h"
#include "oci/json_detail.h"
#include "oci/media_types.h"
#include "oci/sources.h"

namespace mkimg::oci::detail {
namespace {

/// One entry of manifest.json.
struct ArchiveEntry {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

std::vector<std::string> strings_of(const Json& j, const char* key, const std::string& what) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw Error(describe("parse", what, std::string(key) + " is not an array"));
  for (const auto& s : *it) {
    if (!s.is_string())
      throw Error(describe("parse", what, std::string(key) + " holds a non-string"));
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::vector<ArchiveEntry> read_entries(const FileTree& tree) {
  std::string what = tree.name() + ":manifest.json";
  std::string text = tree.read("manifest.json", kMaxDocumentSize);
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) throw Error(describe("parse", what, "not a JSON array"));
  std::vector<ArchiveEntry> out;
  for (const auto& e : j) {
    if (!e.is_object()) throw Error(describe("parse", what, "entry is not an object"));
    ArchiveEntry entry{.config = string_member(e, "Config", what),
                       .repo_tags = strings_of(e, "RepoTags", what),
                       .layers = strings_of(e, "Layers", what)};
    if (entry.config.empty()) throw Error(describe("parse", what, "entry without Config"));
    out.push_back(std::move(entry));
  }
  if (out.empty()) throw Error(describe("parse", what, "no images"));
  return out;
}

class DockerArchiveSource : public ImageSource {
 public:
  DockerArchiveSource(std::unique_ptr<FileTree> tree, std::string spec, DockerSelector selector)
      : tree_(std::move(tree)), spec_(std::move(spec)), selector_(std::move(selector)) {}

  std::string name() const override { return spec_; }

  Descriptor resolve() override {
    if (manifest_bytes_.empty()) build_manifest();
    return manifest_;
  }

  std::string fetch_manifest(const Descriptor& d) override {
    resolve();
    if (d.digest != manifest_.digest) throw Error(describe("read", spec_, "unknown manifest"));
    return manifest_bytes_;
  }

  std::unique_ptr<BlobStream> open_blob(const Descriptor& d) override {
    resolve();
    auto it = files_.find(d.digest);
    if (it == files_.end()) throw Error(describe("read", spec_, "no blob " + d.digest.str()));
    return tree_->open(it->second);
  }

  std::vector<Reference> names() override {
    std::vector<Reference> out;
    for (const auto& tag : choose().repo_tags) {
      if (auto ref = Reference::try_parse(tag)) out.push_back(*ref);
    }
    return out;
  }

 private:
  ArchiveEntry choose() {
    if (!entry_) entry_ = select(read_entries(*tree_));
    return *entry_;
  }

  ArchiveEntry select(const std::vector<ArchiveEntry>& entries) const {
    if (selector_.position) {
      if (*selector_.position >= entries.size())
        throw Error(describe("open", spec_, "no such entry"));
      return entries[*selector_.position];
    }
    if (selector_.ref) {
      for (const auto& e : entries) {
        for (const auto& tag : e.repo_tags) {
          if (Reference::try_parse(tag) == selector_.ref) return e;
        }
      }
      throw Error(describe("open", spec_, "no image tagged `" + selector_.ref->familiar() + "`"));
    }
    if (entries.size() != 1) {
      throw Error(describe("open", spec_, "the archive holds several images; name one with :REF"));
    }
    return entries.front();
  }

  Descriptor describe_file(const std::string& file, std::string_view type) {
    auto stream = tree_->open(file);
    Sha256 hasher;
    std::int64_t size = 0;
    char buf[1 << 16];
    std::string head;  // a layer's type is what its first bytes are
    while (std::size_t n = stream->read(buf, sizeof buf)) {
      if (head.size() < 4) head.append(buf, std::min<std::size_t>(n, 4 - head.size()));
      hasher.update(buf, n);
      size += static_cast<std::int64_t>(n);
    }
    std::string_view sniffed = media_type::oci_layer_type(media_type::sniff_compression(head));
    Descriptor d{.media_type = std::string(type.empty() ? sniffed : type),
                 .digest = hasher.finish(),
                 .size = size};
    files_[d.digest] = file;
    return d;
  }

  void build_manifest() {
    ArchiveEntry entry = choose();
    Manifest m;
    m.media_type = std::string(media_type::kOciManifest);
    m.config = describe_file(entry.config, media_type::kOciConfig);
    for (const auto& layer : entry.layers) m.layers.push_back(describe_file(layer, ""));
    manifest_bytes_ = to_json(m);
    manifest_ = Descriptor{.media_type = std::string(media_type::kOciManifest),
                           .digest = sha256_of(manifest_bytes_),
                           .size = static_cast<std::int64_t>(manifest_bytes_.size())};
  }

  std::unique_ptr<FileTree> tree_;
  std::string spec_;
  DockerSelector selector_;
  std::optional<ArchiveEntry> entry_;
  std::map<Digest, std::string> files_;
  std::string manifest_bytes_;
  Descriptor manifest_;
};

}  // namespace

std::unique_ptr<ImageSource> docker_archive_source(std::unique_ptr<FileTree> tree, std::string spec,
                                                   DockerSelector selector) {
  return std::make_unique<DockerArchiveSource>(std::move(tree), std::move(spec),
                                               std::move(selector));
}

std::size_t docker_archive_size(const FileTree& tree) { return read_entries(tree).size(); }

}  // namespace mkimg::oci::detail
