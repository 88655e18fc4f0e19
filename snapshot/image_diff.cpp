#include "snapshot/image_diff.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "oci/digest.h"
#include "oci/store.h"
#include "oci/transport.h"
#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {
namespace {

using nlohmann::json;
using snapshot::TarEntryInfo;

/// A blob of the store read through its file descriptor.
class FdBlobStream : public oci::BlobStream {
 public:
  explicit FdBlobStream(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(name) {}
  std::size_t read(void* data, std::size_t size) override {
    ssize_t n;
    do n = ::read(fd_.get(), data, size);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw sys_error("read", name_);
    return static_cast<std::size_t>(n);
  }

 private:
  UniqueFd fd_;
  std::string name_;
};

class StoreImage : public DiffImage {
 public:
  explicit StoreImage(const oci::Store& store) : store_(store) {}
  std::unique_ptr<oci::BlobStream> open_layer(const oci::Descriptor& layer) override {
    return std::make_unique<FdBlobStream>(store_.open_blob(layer.digest), layer.digest.str());
  }

 private:
  const oci::Store& store_;
};

class SourceImage : public DiffImage {
 public:
  explicit SourceImage(std::unique_ptr<oci::ImageSource> source) : source_(std::move(source)) {}
  std::unique_ptr<oci::BlobStream> open_layer(const oci::Descriptor& layer) override {
    return source_->open_blob(layer);
  }

 private:
  std::unique_ptr<oci::ImageSource> source_;
};

bool is_transport_spec(std::string_view spec) {
  for (std::string_view prefix : {"oci:", "oci-archive:", "docker-archive:"}) {
    if (spec.starts_with(prefix)) return true;
  }
  return false;
}

// --- config -----------------------------------------------------------------------------

std::string dump(const json& j) { return j.is_null() ? "" : j.dump(); }

void diff_value(const std::string& field, const json& a, const json& b,
                std::vector<FieldChange>& out) {
  if (a != b) out.push_back({field, dump(a), dump(b)});
}

/// Object members one by one (`prefix` + key), arrays in `per_item` element by element.
void diff_object(const std::string& prefix, const json& a, const json& b,
                 const std::vector<std::string>& per_item, std::vector<FieldChange>& out) {
  std::map<std::string, std::pair<json, json>> keys;
  if (a.is_object())
    for (const auto& [k, v] : a.items()) keys[k].first = v;
  if (b.is_object())
    for (const auto& [k, v] : b.items()) keys[k].second = v;
  for (const auto& [k, pair] : keys) {
    const auto& [va, vb] = pair;
    std::string field = prefix + k;
    bool items = std::find(per_item.begin(), per_item.end(), field) != per_item.end();
    if (items && (va.is_array() || vb.is_array())) {
      std::size_t n = std::max(va.is_array() ? va.size() : 0, vb.is_array() ? vb.size() : 0);
      for (std::size_t i = 0; i < n; ++i) {
        json ia = va.is_array() && i < va.size() ? va[i] : json();
        json ib = vb.is_array() && i < vb.size() ? vb[i] : json();
        diff_value(field + "[" + std::to_string(i) + "]", ia, ib, out);
      }
    } else if (field == "config" || field == "rootfs") {
      diff_object(field + ".", va, vb, per_item, out);
    } else {
      diff_value(field, va, vb, out);
    }
  }
}

std::vector<FieldChange> diff_configs(const DiffImage& a, const DiffImage& b) {
  std::vector<FieldChange> out;
  diff_object("", json::parse(oci::to_json(a.config)), json::parse(oci::to_json(b.config)),
              {"history", "rootfs.diff_ids"}, out);
  json ma = json::parse(oci::to_json(a.manifest)), mb = json::parse(oci::to_json(b.manifest));
  for (const char* k : {"mediaType", "annotations", "artifactType", "subject"}) {
    diff_value(std::string("manifest.") + k, ma.value(k, json()), mb.value(k, json()), out);
  }
  return out;
}

// --- files ------------------------------------------------------------------------------

std::string octal(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string printable(const std::string& bytes) {
  bool text = std::all_of(bytes.begin(), bytes.end(),
                          [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
  if (text) return json(bytes).dump();
  return "0x" + oci::hex_encode(bytes);
}

std::string mtime_text(const TarEntryInfo& e) {
  std::string s = std::to_string(e.mtime);
  if (e.mtime_nsec != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%09ld", e.mtime_nsec);
    s += buf;
  }
  return s;
}

void compare(std::vector<FieldChange>& out, const char* field, const std::string& a,
             const std::string& b) {
  if (a != b) out.push_back({field, a, b});
}

/// "/a/b" for a tar path "a/b".
std::string display_path(const std::string& path) { return "/" + path; }

}  // namespace

std::vector<FieldChange> diff_entries(const TarEntryInfo& a, const TarEntryInfo& b) {
  std::vector<FieldChange> out;
  compare(out, "type", std::string(to_string(a.type)), std::string(to_string(b.type)));
  compare(out, "mode", octal(a.mode), octal(b.mode));
  compare(out, "uid", std::to_string(a.uid), std::to_string(b.uid));
  compare(out, "gid", std::to_string(a.gid), std::to_string(b.gid));
  compare(out, "size", std::to_string(a.size), std::to_string(b.size));
  compare(out, "content", a.content_digest, b.content_digest);
  compare(out, "mtime", mtime_text(a), mtime_text(b));
  compare(out, "link", a.link_target, b.link_target);
  compare(out, "device", std::to_string(a.dev_major) + ":" + std::to_string(a.dev_minor),
          std::to_string(b.dev_major) + ":" + std::to_string(b.dev_minor));
  std::map<std::string, std::pair<std::string, std::string>> xattrs;
  for (const auto& [k, v] : a.xattrs) xattrs[k].first = printable(v);
  for (const auto& [k, v] : b.xattrs) xattrs[k].second = printable(v);
  for (const auto& [k, v] : xattrs) {
    if (v.first != v.second) out.push_back({"xattr " + k, v.first, v.second});
  }
  return out;
}

std::vector<FileChange> diff_layers(const snapshot::BlobReader& before,
                                    std::string_view before_name, const snapshot::BlobReader& after,
                                    std::string_view after_name, const std::string& before_diff_id,
                                    const std::string& after_diff_id) {
  // Metadata of the first layer's entries only (no content); the second is streamed past it.
  std::map<std::string, TarEntryInfo> first;
  snapshot::read_layer_entries(
      before, before_name,
      [&](TarEntryInfo&& e) {
        std::string path = e.path;
        first.insert_or_assign(std::move(path), std::move(e));
      },
      before_diff_id);
  std::vector<FileChange> out;
  std::set<std::string> seen;
  snapshot::read_layer_entries(
      after, after_name,
      [&](TarEntryInfo&& e) {
        auto it = first.find(e.path);
        if (it == first.end()) {
          if (seen.emplace(e.path).second) {
            out.push_back({FileChange::Kind::kAdded, display_path(e.path), {}, std::nullopt, e});
          }
          return;
        }
        auto fields = diff_entries(it->second, e);
        if (!fields.empty()) {
          out.push_back(
              {FileChange::Kind::kChanged, display_path(e.path), std::move(fields), it->second, e});
        }
        seen.emplace(e.path);
        first.erase(it);
      },
      after_diff_id);
  for (auto& [path, e] : first) {
    if (seen.count(path)) continue;
    out.push_back({FileChange::Kind::kRemoved, display_path(path), {}, std::move(e), std::nullopt});
  }
  std::sort(out.begin(), out.end(), [](const FileChange& x, const FileChange& y) {
    return snapshot::layer_path_less(x.path, y.path);
  });
  return out;
}

std::unique_ptr<DiffImage> open_diff_image(const oci::Store& store, std::string_view spec) {
  std::unique_ptr<DiffImage> image;
  if (is_transport_spec(spec)) {
    auto source = oci::open_source(spec, store);
    oci::SourceImage read = oci::read_source_image(*source);
    image = std::make_unique<SourceImage>(std::move(source));
    image->manifest_descriptor = read.manifest_descriptor;
    image->manifest = std::move(read.manifest);
    image->config = std::move(read.config);
  } else {
    auto descriptor = store.resolve(spec);
    if (!descriptor) throw Error(describe("diff", spec, "no such image in the store"));
    oci::Image loaded = oci::load_image(store, *descriptor);
    image = std::make_unique<StoreImage>(store);
    image->manifest_descriptor = loaded.manifest_descriptor;
    image->manifest = std::move(loaded.manifest);
    image->config = std::move(loaded.config);
  }
  image->name = std::string(spec);
  return image;
}

namespace {

snapshot::BlobReader reader_of(oci::BlobStream& stream) {
  return [&stream](void* data, std::size_t size) { return stream.read(data, size); };
}

LayerDiff diff_layer_pair(DiffImage& a, DiffImage& b, std::size_t i) {
  LayerDiff d;
  d.index = i;
  if (i < a.manifest.layers.size()) {
    d.before = a.manifest.layers[i];
    d.before_diff_id = a.config.rootfs.diff_ids[i];
  }
  if (i < b.manifest.layers.size()) {
    d.after = b.manifest.layers[i];
    d.after_diff_id = b.config.rootfs.diff_ids[i];
  }
  if (!d.before || !d.after || *d.before_diff_id == *d.after_diff_id) return d;
  auto sa = a.open_layer(*d.before);
  auto sb = b.open_layer(*d.after);
  d.files = diff_layers(reader_of(*sa), a.name + " layer " + d.before->digest.str(), reader_of(*sb),
                        b.name + " layer " + d.after->digest.str(), d.before_diff_id->str(),
                        d.after_diff_id->str());
  d.only_tar_bytes = d.files.empty();
  return d;
}

}  // namespace

ImageDiff diff_images(DiffImage& a, DiffImage& b) {
  ImageDiff diff;
  diff.before_name = a.name;
  diff.after_name = b.name;
  diff.before_manifest = a.manifest_descriptor.digest;
  diff.after_manifest = b.manifest_descriptor.digest;
  diff.before_layers = a.manifest.layers.size();
  diff.after_layers = b.manifest.layers.size();
  if (diff.identical()) return diff;
  diff.config = diff_configs(a, b);
  std::size_t n = std::max(diff.before_layers, diff.after_layers);
  for (std::size_t i = 0; i < n; ++i) {
    LayerDiff d = diff_layer_pair(a, b, i);
    bool same_blob = d.before && d.after && d.before->digest == d.after->digest;
    if (same_blob) continue;
    if (d.before && d.after && *d.before_diff_id == *d.after_diff_id) {
      std::string field = "layers[" + std::to_string(i) + "] (same tar, compressed differently)";
      diff.config.push_back(
          {field, json(d.before->digest.str()).dump(), json(d.after->digest.str()).dump()});
      continue;
    }
    diff.layers.push_back(std::move(d));
  }
  if (diff.config.empty() && diff.layers.empty()) {
    diff.config.push_back({"manifest (bytes only)", json(diff.before_manifest.str()).dump(),
                           json(diff.after_manifest.str()).dump()});
  }
  return diff;
}

// --- output -----------------------------------------------------------------------------

namespace {

std::string summary(const TarEntryInfo& e) {
  std::string s = std::string(to_string(e.type)) + " " + octal(e.mode) + " " +
                  std::to_string(e.uid) + ":" + std::to_string(e.gid);
  if (e.type == snapshot::TarEntryType::kFile) {
    s += " " + std::to_string(e.size) + " bytes " + e.content_digest;
  }
  if (!e.link_target.empty()) s += " -> " + e.link_target;
  return s;
}

std::string layer_name(const std::optional<oci::Descriptor>& d) {
  return d ? d->digest.str() : "(none)";
}

}  // namespace

std::string format_text(const ImageDiff& diff) {
  if (diff.identical()) return "";
  std::string out = "--- " + diff.before_name + " " + diff.before_manifest.str() + "\n+++ " +
                    diff.after_name + " " + diff.after_manifest.str() + "\n";
  for (const auto& f : diff.config) {
    out += f.field + ":\n  - " + (f.before.empty() ? "(absent)" : f.before) + "\n  + " +
           (f.after.empty() ? "(absent)" : f.after) + "\n";
  }
  if (diff.before_layers != diff.after_layers) {
    out += "layer count: " + std::to_string(diff.before_layers) + " -> " +
           std::to_string(diff.after_layers) + "\n";
  }
  for (const auto& l : diff.layers) {
    out += "layer " + std::to_string(l.index + 1) + ": " + layer_name(l.before) + " -> " +
           layer_name(l.after) + "\n";
    if (!l.before || !l.after) continue;
    if (l.only_tar_bytes) out += "  (no entry differs: entry order or other tar header fields)\n";
    for (const auto& f : l.files) {
      switch (f.kind) {
        case FileChange::Kind::kAdded:
          out += "  added   " + f.path + " (" + summary(*f.after) + ")\n";
          break;
        case FileChange::Kind::kRemoved:
          out += "  removed " + f.path + " (" + summary(*f.before) + ")\n";
          break;
        case FileChange::Kind::kChanged:
          out += "  changed " + f.path + ":";
          for (const auto& c : f.fields)
            out += " " + c.field + " " + c.before + " -> " + c.after + ";";
          out.back() = '\n';
          break;
      }
    }
  }
  return out;
}

namespace {

json entry_json(const std::optional<TarEntryInfo>& e) {
  if (!e) return json();
  json j{{"type", to_string(e->type)},
         {"mode", octal(e->mode)},
         {"uid", e->uid},
         {"gid", e->gid},
         {"size", e->size},
         {"mtime", mtime_text(*e)}};
  if (!e->content_digest.empty()) j["content"] = e->content_digest;
  if (!e->link_target.empty()) j["link"] = e->link_target;
  return j;
}

json changes_json(const std::vector<FieldChange>& fields) {
  json out = json::array();
  for (const auto& f : fields)
    out.push_back({{"field", f.field}, {"before", f.before}, {"after", f.after}});
  return out;
}

}  // namespace

std::string format_json(const ImageDiff& diff) {
  json j{{"identical", diff.identical()},
         {"before",
          {{"name", diff.before_name},
           {"manifest", diff.before_manifest.str()},
           {"layers", diff.before_layers}}},
         {"after",
          {{"name", diff.after_name},
           {"manifest", diff.after_manifest.str()},
           {"layers", diff.after_layers}}},
         {"config", changes_json(diff.config)},
         {"layers", json::array()}};
  for (const auto& l : diff.layers) {
    json files = json::array();
    for (const auto& f : l.files) {
      const char* kind = f.kind == FileChange::Kind::kAdded     ? "added"
                         : f.kind == FileChange::Kind::kRemoved ? "removed"
                                                                : "changed";
      files.push_back({{"path", f.path},
                       {"change", kind},
                       {"fields", changes_json(f.fields)},
                       {"before", entry_json(f.before)},
                       {"after", entry_json(f.after)}});
    }
    j["layers"].push_back({{"index", l.index},
                           {"before", l.before ? json(l.before->digest.str()) : json()},
                           {"after", l.after ? json(l.after->digest.str()) : json()},
                           {"only_tar_bytes", l.only_tar_bytes},
                           {"files", files}});
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace mkimg::snapshot
