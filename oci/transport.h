// The transport seam: where images come from. An ImageSource names one image in some place
// (an OCI layout directory, an oci-archive, a docker-archive, a registry) and hands out its
// manifest and blobs; pull() copies that image into the Store, verifying every digest and
// that each layer's bytes are what its media type says.
//
// Sources are opened from a spec string by open_source():
//   oci:DIR[:REF]              an OCI image layout; REF matches a ref.name annotation, or
//                              is the manifest digest of an entry (sha256:<hex>)
//   oci-archive:FILE[:REF]     a tar of an OCI image layout
//   docker-archive:FILE[:REF]  what `docker save` writes; REF picks one of its RepoTags
// Other transports (registry/, the registry client: docker://REF and plain references) plug in
// with register_transport(); the `mkimg pull` command and the builder only call open_source().
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/descriptor.h"
#include "oci/image.h"
#include "oci/reference.h"

namespace mkimg::oci {

class Store;

/// A readable stream of one blob's bytes.
class BlobStream {
 public:
  virtual ~BlobStream() = default;
  /// Reads up to `size` bytes into `data`; returns 0 at the end. Throws mkimg::Error.
  virtual std::size_t read(void* data, std::size_t size) = 0;
};

/// One image in some place. Implementations verify nothing; pull() verifies everything.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  /// The spec this source was opened from, for messages ("oci-archive:/x.tar").
  virtual std::string name() const = 0;
  /// The descriptor of the manifest or index the spec names.
  virtual Descriptor resolve() = 0;
  /// The bytes of a manifest or index (the exact bytes whose digest is `descriptor.digest`).
  virtual std::string fetch_manifest(const Descriptor& descriptor) = 0;
  /// A stream of a config or layer blob.
  virtual std::unique_ptr<BlobStream> open_blob(const Descriptor& descriptor) = 0;
  /// The references the source itself names the image by (docker-archive RepoTags, an OCI
  /// ref.name that is a full reference, a registry reference); may be empty.
  virtual std::vector<Reference> names() = 0;
};

/// Options every source gets when opened.
struct SourceOptions {
  std::function<void(std::string_view)> progress;  ///< one line per event; may be empty
};

/// A kind of source other folders add (the registry client).
struct Transport {
  std::string name;                                    ///< "docker", for messages
  std::function<bool(std::string_view spec)> accepts;  ///< true when the spec is for it
  std::function<std::unique_ptr<ImageSource>(std::string_view spec, const Store& store,
                                             const SourceOptions& options)>
      open;
};

/// Adds a transport tried (in registration order) for specs the built-in ones do not take.
void register_transport(Transport transport);

/// Opens the source a spec names; throws mkimg::Error ("open source `spec`: ...") for an
/// unknown transport, a missing file, or a malformed spec.
std::unique_ptr<ImageSource> open_source(std::string_view spec, const Store& store,
                                         const SourceOptions& options = {});

/// How pull() picks and reports.
struct CopyOptions {
  std::optional<Platform> platform;  ///< for an index; nullopt = host_platform()
  /// For an index: the index itself and every manifest it lists (each platform's image and its
  /// attestation manifest), as `skopeo copy --all`; pull() then returns the index.
  bool all_platforms = false;
  std::function<void(std::string_view)> progress;  ///< may be empty
};

/// An image read from a source in place (nothing copied): its manifest and config.
struct SourceImage {
  Descriptor manifest_descriptor;
  Manifest manifest;
  ImageConfig config;
};

/// Reads the manifest (for an index: the one for `platform`, default the host's) and the
/// config of the image `source` names, verifying both digests and that the config's diff_ids
/// match the layers. Layers are then read with source.open_blob(). Throws mkimg::Error
/// ("read image `source`: ...").
SourceImage read_source_image(ImageSource& source, const std::optional<Platform>& platform = {});

/// Copies the image `source` names into `store`: for an index, the manifest for the platform
/// (with CopyOptions::all_platforms every manifest, and the index); then config and layers (blobs
/// present are skipped), then the manifest, each checked against its descriptor's digest and size;
/// the config's diff_ids must match the layer count, and each layer's bytes its media type
/// (verify_layer_blob). Returns the stored manifest's descriptor. Does not tag. Throws mkimg::Error
/// ("pull `source`: ...").
Descriptor pull(Store& store, ImageSource& source, const CopyOptions& options = {});

/// Checks that the stored blob of `layer` is what its media type says (docs/security.md 32):
/// gzip bytes (1f 8b) for a gzip type, zstd (28 b5 2f fd) for a zstd type, neither (a tar) for
/// an uncompressed one. Reads only the first bytes. Every path that stores a manifest from
/// outside calls it for each layer: pull() above, and the registry's pull_image. Peer tools
/// (skopeo, umoci) trust the media type and refuse a store where it lies, so mkimg refuses the
/// image, as containerd does, rather than relabel it. Throws mkimg::Error ("verify layer
/// `digest`: ...") naming the media type and what the bytes are.
void verify_layer_blob(const Store& store, const Descriptor& layer);

}  // namespace mkimg::oci
