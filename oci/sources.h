// Internal to oci/: the built-in image sources behind open_source(), also used directly by
// load_archive() to walk every image of an archive.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "oci/transport.h"

namespace mkimg::oci::detail {

/// Where the files of an OCI layout or a docker-archive are: a directory or a tar file.
class FileTree {
 public:
  virtual ~FileTree() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<BlobStream> open(const std::string& relative) const = 0;
  std::string read(const std::string& relative, std::size_t max_size) const;
};

std::unique_ptr<FileTree> directory_tree(const std::filesystem::path& dir);
std::unique_ptr<FileTree> tar_tree(const std::filesystem::path& file);

/// Which image of an OCI layout: a ref.name, the one entry, or an index.json position.
struct OciSelector {
  std::optional<std::string> ref;
  std::optional<std::size_t> position;
};

/// An image of an OCI layout; `spec` is used in messages.
std::unique_ptr<ImageSource> oci_layout_source(std::unique_ptr<FileTree> tree, std::string spec,
                                               OciSelector selector);
/// How many entries the layout's index.json has.
std::size_t oci_layout_size(const FileTree& tree);

/// Which image of a docker-archive: one naming `ref` in RepoTags, the one entry, or a
/// manifest.json position.
struct DockerSelector {
  std::optional<Reference> ref;
  std::optional<std::size_t> position;
};

/// An image of a docker-archive (manifest.json); presented as an OCI manifest over the
/// archive's config and layer files.
std::unique_ptr<ImageSource> docker_archive_source(std::unique_ptr<FileTree> tree, std::string spec,
                                                   DockerSelector selector);
/// How many entries the archive's manifest.json has.
std::size_t docker_archive_size(const FileTree& tree);

}  // namespace mkimg::oci::detail
