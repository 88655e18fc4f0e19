// Internal to oci/: reading members of a tar file (plain or compressed) with libarchive, for
// the oci-archive and docker-archive transports. Member names are normalised ("./a" is "a");
// symlinks and hardlinks between members are followed inside the archive only (at most 8
// hops); nothing is ever extracted to disk.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "oci/transport.h"

namespace mkimg::oci::detail {

/// Names of the regular files, directories and links in the archive, normalised.
std::vector<std::string> list_tar_members(const std::filesystem::path& archive);
/// A stream over one member's bytes; throws mkimg::Error when absent or the tar is corrupt.
std::unique_ptr<BlobStream> open_tar_member(const std::filesystem::path& archive,
                                            const std::string& name);
/// A whole member, capped at `max_size` bytes.
std::string read_tar_member(const std::filesystem::path& archive, const std::string& name,
                            std::size_t max_size);
/// Reads a whole stream, capped at `max_size` bytes.
std::string read_stream(BlobStream& stream, std::size_t max_size, const std::string& what);
/// "a/./b/../c" -> "a/c"; nullopt when it climbs above the top.
std::optional<std::string> normalise_member(const std::string& name);

}  // namespace mkimg::oci::detail
