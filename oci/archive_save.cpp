// save_archive(): docker-archive and oci-archive writing with libarchive.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <set>

#include "common/archive_error.h"
#include "common/error.h"
#include "common/in_root.h"
#include "oci/archive.h"
#include "oci/file_io.h"
#include "oci/json_detail.h"
#include "oci/media_types.h"
#include "oci/store.h"

namespace mkimg::oci {
namespace fs = std::filesystem;
using detail::Json;

namespace {

struct WriterDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ReaderDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

/// A tar file being written to a temp name; finish() renames it onto the destination (the
/// regular file the user named, through symlinks: common/in_root.h output_target). `-` is
/// stdout, streamed as `docker save` does (never a terminal). The file is 0644.
class TarWriter {
 public:
  explicit TarWriter(const fs::path& dest) {
    a_.reset(archive_write_new());
    archive_write_set_format_pax_restricted(a_.get());
    if (dest == "-") {
      if (::isatty(STDOUT_FILENO)) {
        throw Error("refusing to write an archive to a terminal: redirect stdout or use -o FILE");
      }
      if (archive_write_open_fd(a_.get(), STDOUT_FILENO) != ARCHIVE_OK) fail();
      return;
    }
    dest_ = output_target(dest);
    // The archive is the user's file, readable as `docker save` leaves it (0644 under the usual
    // umask).
    file_.emplace(dest_);
    if (archive_write_open_fd(a_.get(), file_->fd()) != ARCHIVE_OK) fail();
  }

  void add_bytes(const std::string& name, std::string_view bytes) {
    header(name, static_cast<std::int64_t>(bytes.size()));
    if (!bytes.empty() && archive_write_data(a_.get(), bytes.data(), bytes.size()) < 0) fail();
  }

  void add_file(const std::string& name, const fs::path& file) {
    UniqueFd fd = detail::open_read(file);
    header(name, static_cast<std::int64_t>(fs::file_size(file)));
    std::string buf(1 << 20, '\0');
    while (std::size_t n = detail::read_some(fd.get(), buf.data(), buf.size(), file)) {
      if (archive_write_data(a_.get(), buf.data(), n) < 0) fail();
    }
  }

  /// A file of `size` bytes that `produce(write)` writes by calls of write(data, n).
  template <class Producer>
  void add_stream(const std::string& name, std::int64_t size, Producer&& produce) {
    header(name, size);
    std::int64_t written = 0;
    produce([&](const char* data, std::size_t n) {
      written += static_cast<std::int64_t>(n);
      if (written > size) throw Error(describe("write archive entry", name, "longer than read"));
      if (archive_write_data(a_.get(), data, n) < 0) fail();
    });
    if (written != size) throw Error(describe("write archive entry", name, "shorter than read"));
  }

  void add_dir(const std::string& name) { entry(name, AE_IFDIR | 0755, 0); }

  void finish() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) fail();
    if (dest_.empty()) return;  // stdout
    file_->commit(Flush::kWithDirectory);
  }

 private:
  void header(const std::string& name, std::int64_t size) { entry(name, AE_IFREG | 0644, size); }
  void entry(const std::string& name, unsigned mode, std::int64_t size) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_mode(e.get(), mode);
    archive_entry_set_size(e.get(), size);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) fail();
  }
  [[noreturn]] void fail() {
    throw Error(describe("write archive", dest_.empty() ? "-" : dest_.string(),
                         archive_message(a_.get(), "libarchive failed")));
  }

  fs::path dest_;
  std::optional<AtomicFile> file_;  // before a_: the archive is freed (and writes) first
  std::unique_ptr<struct archive, WriterDeleter> a_;
};

/// Streams the uncompressed bytes of a layer blob to `sink(data, size)` in chunks.
template <class Sink>
void decompress(const fs::path& blob, Sink&& sink) {
  std::unique_ptr<struct archive, ReaderDeleter> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  struct archive_entry* e = nullptr;
  if (archive_read_open_filename(a.get(), blob.c_str(), 1 << 16) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &e) != ARCHIVE_OK) {
    throw Error(describe("decompress", blob.string(), archive_message(a.get(), "corrupt")));
  }
  std::string buf(1 << 20, '\0');
  la_ssize_t n;
  while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) {
    sink(buf.data(), static_cast<std::size_t>(n));
  }
  if (n < 0)
    throw Error(describe("decompress", blob.string(), archive_message(a.get(), "corrupt")));
}

std::string hex_name(const Digest& d) { return d.encoded(); }

/// A docker-archive holds layers uncompressed, and a tar entry needs its size first: a
/// compressed layer is read twice, once for its size and digest (checked against the diff_id
/// before anything is written), once into the archive. Nothing is written into the store, so
/// a read-only store can be saved.
void add_docker_layer(TarWriter& tar, const Store& store, const Descriptor& layer,
                      const Digest& diff_id) {
  std::string name = hex_name(diff_id) + "/layer.tar";
  tar.add_dir(hex_name(diff_id));
  fs::path blob = store.blob_path(layer.digest);
  if (media_type::layer_compression(layer.media_type) == media_type::Compression::kNone) {
    tar.add_file(name, blob);
    return;
  }
  Sha256 hasher;
  std::int64_t size = 0;
  decompress(blob, [&](const char* data, std::size_t n) {
    hasher.update(data, n);
    size += static_cast<std::int64_t>(n);
  });
  if (Digest actual = hasher.finish(); actual != diff_id) {
    throw Error(describe("save layer", layer.digest.str(),
                         "uncompressed content has digest " + actual.str() + ", not its diff_id"));
  }
  tar.add_stream(name, size, [&](const auto& write) { decompress(blob, write); });
}

void save_docker(const Store& store, const std::vector<ArchiveImage>& images, TarWriter& tar) {
  Json manifest = Json::array();
  Json repositories = Json::object();
  std::set<Digest> written;
  for (const auto& item : images) {
    Image image = load_image(store, item.manifest);
    const auto& diff_ids = image.config.rootfs.diff_ids;
    Json entry = {{"Config", hex_name(image.manifest.config.digest) + ".json"},
                  {"RepoTags", Json::array()},
                  {"Layers", Json::array()}};
    if (written.insert(image.manifest.config.digest).second) {
      tar.add_bytes(entry["Config"], store.read_blob(image.manifest.config.digest));
    }
    for (std::size_t i = 0; i < image.manifest.layers.size() && i < diff_ids.size(); ++i) {
      entry["Layers"].push_back(hex_name(diff_ids[i]) + "/layer.tar");
      if (written.insert(diff_ids[i]).second) {
        add_docker_layer(tar, store, image.manifest.layers[i], diff_ids[i]);
      }
    }
    for (const auto& name : item.names) {
      entry["RepoTags"].push_back(name.familiar());
      if (!diff_ids.empty() && name.tag) {
        repositories[name.familiar_repository()][*name.tag] = hex_name(diff_ids.back());
      }
    }
    manifest.push_back(entry);
  }
  tar.add_bytes("manifest.json", detail::dump_canonical(manifest));
  tar.add_bytes("repositories", detail::dump_canonical(repositories));
}

void save_oci(const Store& store, const std::vector<ArchiveImage>& images, TarWriter& tar) {
  Index index;
  index.media_type = std::string(media_type::kOciIndex);
  std::set<Digest> blobs;
  for (const auto& item : images) {
    image_blobs(store, item.manifest, blobs);
    Descriptor d{.media_type = item.manifest.media_type,
                 .digest = item.manifest.digest,
                 .size = item.manifest.size};
    if (item.names.empty()) index.manifests.push_back(d);
    for (const auto& name : item.names) {
      d.annotations[kRefNameAnnotation] = name.familiar();
      index.manifests.push_back(d);
    }
  }
  tar.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  tar.add_bytes("index.json", to_json(index));
  tar.add_dir("blobs");
  tar.add_dir("blobs/sha256");
  for (const auto& digest : blobs) {
    if (!store.has_blob(digest)) continue;  // platforms never pulled
    std::string name = "blobs/" + std::string(digest.algorithm_name()) + "/" + digest.encoded();
    tar.add_file(name, store.blob_path(digest));
  }
}

}  // namespace

void save_archive(const Store& store, const std::vector<ArchiveImage>& images, const fs::path& file,
                  ArchiveFormat format) {
  try {
    if (images.empty()) throw Error("no images to save");
    TarWriter tar(file);
    if (format == ArchiveFormat::kDocker) {
      save_docker(store, images, tar);
    } else {
      save_oci(store, images, tar);
    }
    tar.finish();
  } catch (const Error& e) {
    throw with_context("save `" + file.string() + "`", e);
  } catch (const fs::filesystem_error& e) {
    throw Error(describe("save", file.string(), e.what()));
  }
}

}  // namespace mkimg::oci
