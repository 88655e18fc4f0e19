// open_source(): the built-in transports and the registered ones; pull(): copy an image into
// the store, verifying every digest and size.
#include "oci/transport.h"

#include <mutex>

#include "common/error.h"
#include "common/fd.h"
#include "oci/file_io.h"
#include "oci/media_types.h"
#include "oci/sources.h"
#include "oci/store.h"
#include "oci/tar_reader.h"

namespace mkimg::oci {
namespace {

std::mutex& transports_mutex() {
  static std::mutex m;
  return m;
}

std::vector<Transport>& transports() {
  static std::vector<Transport> list;
  return list;
}

/// "PATH[:REF]" split at the first colon, as skopeo does.
std::pair<std::string, std::optional<std::string>> split_path_ref(std::string_view rest) {
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return {std::string(rest), std::nullopt};
  return {std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
}

std::unique_ptr<ImageSource> open_builtin(std::string_view spec) {
  auto with_prefix = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (!spec.starts_with(prefix)) return std::nullopt;
    return spec.substr(prefix.size());
  };
  if (auto rest = with_prefix("oci:")) {
    auto [path, ref] = split_path_ref(*rest);
    return detail::oci_layout_source(detail::directory_tree(path), std::string(spec), {.ref = ref});
  }
  if (auto rest = with_prefix("oci-archive:")) {
    auto [path, ref] = split_path_ref(*rest);
    return detail::oci_layout_source(detail::tar_tree(path), std::string(spec), {.ref = ref});
  }
  if (auto rest = with_prefix("docker-archive:")) {
    auto [path, ref] = split_path_ref(*rest);
    detail::DockerSelector selector;
    if (ref) selector.ref = Reference::parse(*ref);
    return detail::docker_archive_source(detail::tar_tree(path), std::string(spec), selector);
  }
  return nullptr;
}

void report(const CopyOptions& options, const std::string& line) {
  if (options.progress) options.progress(line);
}

void check_bytes(const Descriptor& d, std::string_view bytes) {
  Digest actual = digest_of(d.digest.algorithm(), bytes);
  if (actual != d.digest) {
    throw Error(describe("verify", d.digest.str(), "content has digest " + actual.str()));
  }
  if (static_cast<std::int64_t>(bytes.size()) != d.size) {
    throw Error(describe(
        "verify", d.digest.str(),
        "expected " + std::to_string(d.size) + " bytes, got " + std::to_string(bytes.size())));
  }
}

std::string fetch_verified(ImageSource& source, const Descriptor& d) {
  if (d.size > static_cast<std::int64_t>(kMaxDocumentSize)) {
    throw Error(describe("fetch manifest", d.digest.str(), "larger than the 4 MiB limit"));
  }
  std::string bytes = source.fetch_manifest(d);
  check_bytes(d, bytes);
  return bytes;
}

void copy_blob(Store& store, ImageSource& source, const Descriptor& d, const CopyOptions& options) {
  if (store.has_blob(d.digest) && store.blob_size(d.digest) == d.size) {
    report(options, "exists " + d.digest.str());
    return;
  }
  auto stream = source.open_blob(d);
  BlobWriter writer = store.begin_blob(d.digest.algorithm());
  std::string buf(1 << 20, '\0');
  while (std::size_t n = stream->read(buf.data(), buf.size())) {
    writer.write(buf.data(), n);
    if (writer.size() > d.size) break;  // commit() reports the size mismatch
  }
  writer.commit(d.media_type, {.digest = d.digest, .size = d.size});
  report(options, "copied " + d.digest.str() + " (" + std::to_string(d.size) + " bytes)");
}

void check_layers(const Manifest& manifest, const ImageConfig& config) {
  if (config.rootfs.diff_ids.size() != manifest.layers.size()) {
    throw Error(describe("verify", manifest.config.digest.str(),
                         "config lists " + std::to_string(config.rootfs.diff_ids.size()) +
                             " diff_ids for " + std::to_string(manifest.layers.size()) +
                             " layers"));
  }
  for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
    const Descriptor& layer = manifest.layers[i];
    if (!media_type::is_layer(layer.media_type)) {
      throw Error(describe("verify", layer.digest.str(),
                           "unsupported layer type `" + layer.media_type + "`"));
    }
    if (media_type::layer_compression(layer.media_type) == media_type::Compression::kNone &&
        layer.digest != config.rootfs.diff_ids[i]) {
      throw Error(describe(
          "verify", layer.digest.str(),
          "uncompressed layer does not match its diff_id " + config.rootfs.diff_ids[i].str()));
    }
  }
}

/// A manifest as fetched: its descriptor, its exact bytes, and what they say.
struct FetchedManifest {
  Descriptor descriptor;
  std::string bytes;
  Manifest manifest;
};

/// The manifest `source` names (for an index, the one for `platform`), verified.
FetchedManifest resolve_manifest(ImageSource& source, const std::optional<Platform>& platform) {
  Descriptor top = source.resolve();
  std::string bytes = fetch_verified(source, top);
  auto doc = parse_manifest_document(bytes, top.media_type);
  if (auto* index = std::get_if<Index>(&doc)) {
    Platform want = platform.value_or(host_platform());
    auto entry = find_platform(*index, want);
    if (!entry) {
      throw Error("choose platform: the index has no manifest for " + to_string(want) +
                  " (it has " + describe_platforms(*index) + ")");
    }
    top = *entry;
    bytes = fetch_verified(source, top);
    doc = parse_manifest_document(bytes, top.media_type);
    if (!std::holds_alternative<Manifest>(doc)) throw Error("the index points to an index");
  }
  return {top, bytes, std::get<Manifest>(std::move(doc))};
}

/// Whether an index entry is an attestation manifest (BuildKit's: in-toto statements as its
/// "layers", which are no file system layers).
bool is_attestation(const Descriptor& d) {
  auto type = d.annotations.find("vnd.docker.reference.type");
  return type != d.annotations.end() && type->second == "attestation-manifest";
}

/// Copies the blobs of the manifest `d` (whose verified bytes are `bytes`) and then the manifest.
Descriptor copy_manifest(Store& store, ImageSource& source, const Descriptor& d,
                         const std::string& bytes, const Manifest& manifest,
                         const CopyOptions& options) {
  copy_blob(store, source, manifest.config, options);
  const bool attestation = is_attestation(d);
  if (!attestation) {
    check_layers(manifest, parse_image_config(store.read_blob(manifest.config.digest)));
  }
  for (const auto& layer : manifest.layers) {
    copy_blob(store, source, layer, options);
    if (!attestation) verify_layer_blob(store, layer);
  }
  std::string type = d.media_type.empty() ? std::string(media_type::kOciManifest) : d.media_type;
  return store.put_blob(bytes, type, {.digest = d.digest, .size = d.size});
}

/// CopyOptions::all_platforms: the index with every manifest it lists (attestations too).
std::optional<Descriptor> copy_index(Store& store, ImageSource& source,
                                     const CopyOptions& options) {
  Descriptor top = source.resolve();
  std::string bytes = fetch_verified(source, top);
  auto doc = parse_manifest_document(bytes, top.media_type);
  const Index* index = std::get_if<Index>(&doc);
  if (!index) return std::nullopt;
  for (const auto& m : index->manifests) {
    if (!media_type::is_manifest(m.media_type)) continue;
    std::string child = fetch_verified(source, m);
    auto child_doc = parse_manifest_document(child, m.media_type);
    if (!std::holds_alternative<Manifest>(child_doc)) throw Error("the index points to an index");
    copy_manifest(store, source, m, child, std::get<Manifest>(child_doc), options);
  }
  return store.put_blob(bytes, top.media_type, {.digest = top.digest, .size = top.size});
}

Descriptor copy_image(Store& store, ImageSource& source, const CopyOptions& options) {
  if (options.all_platforms) {
    if (auto index = copy_index(store, source, options)) return *index;
  }
  auto [top, bytes, manifest] = resolve_manifest(source, options.platform);
  return copy_manifest(store, source, top, bytes, manifest, options);
}

}  // namespace

void register_transport(Transport transport) {
  std::lock_guard lock(transports_mutex());
  transports().push_back(std::move(transport));
}

std::unique_ptr<ImageSource> open_source(std::string_view spec, const Store& store,
                                         const SourceOptions& options) {
  try {
    if (auto source = open_builtin(spec)) return source;
    std::vector<Transport> list;
    {
      std::lock_guard lock(transports_mutex());
      list = transports();
    }
    for (const auto& t : list) {
      if (t.accepts(spec)) return t.open(spec, store, options);
    }
  } catch (const Error& e) {
    throw with_context("open source `" + std::string(spec) + "`", e);
  }
  throw Error(describe("open source", spec,
                       "unknown transport; use oci:DIR[:REF], oci-archive:FILE[:REF] or "
                       "docker-archive:FILE[:REF]"));
}

SourceImage read_source_image(ImageSource& source, const std::optional<Platform>& platform) {
  try {
    SourceImage image;
    FetchedManifest fetched = resolve_manifest(source, platform);
    image.manifest_descriptor = fetched.descriptor;
    image.manifest = std::move(fetched.manifest);
    auto stream = source.open_blob(image.manifest.config);
    std::string config = detail::read_stream(*stream, kMaxDocumentSize, "image config");
    check_bytes(image.manifest.config, config);
    image.config = parse_image_config(config);
    check_layers(image.manifest, image.config);
    return image;
  } catch (const Error& e) {
    throw with_context("read image `" + source.name() + "`", e);
  }
}

void verify_layer_blob(const Store& store, const Descriptor& layer) {
  media_type::Compression labelled = media_type::layer_compression(layer.media_type);
  char head[4];
  UniqueFd fd = store.open_blob(layer.digest);
  std::size_t n = detail::read_some(fd.get(), head, sizeof head, store.blob_path(layer.digest));
  media_type::Compression actual = media_type::sniff_compression({head, n});
  if (actual == labelled) return;
  throw Error(describe("verify layer", layer.digest.str(),
                       "its media type `" + layer.media_type + "` says " +
                           std::string(media_type::compression_name(labelled)) +
                           ", but its bytes are " +
                           std::string(media_type::compression_name(actual))));
}

Descriptor pull(Store& store, ImageSource& source, const CopyOptions& options) {
  try {
    return copy_image(store, source, options);
  } catch (const Error& e) {
    throw with_context("pull `" + source.name() + "`", e);
  }
}

}  // namespace mkimg::oci
