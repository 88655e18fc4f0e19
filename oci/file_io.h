// Internal to oci/: small POSIX file helpers with the store's guarantees: every fd O_CLOEXEC
// and owned, files published by fsync + rename + fsync of the directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/fd.h"

namespace mkimg::oci::detail {

/// Opens the regular file `path` read-only (never waiting on a FIFO); throws mkimg::Error
/// ("open `path`: cause", "not a regular file").
UniqueFd open_read(const std::filesystem::path& path);
/// Creates a new file from the template prefix (mkostemp, O_CLOEXEC, mode 0600); fills `path`.
UniqueFd create_temp(const std::filesystem::path& prefix, std::filesystem::path& path);
/// Writes all of `bytes`; throws on a short write.
void write_all(int fd, const void* data, std::size_t size, const std::filesystem::path& path);
/// Reads the whole file; throws when it is larger than `max_size`.
std::string read_capped(const std::filesystem::path& path, std::size_t max_size);
/// Reads up to `size` bytes (fewer only at end of file).
std::size_t read_some(int fd, void* data, std::size_t size, const std::filesystem::path& path);
void fsync_fd(int fd, const std::filesystem::path& path);
void fsync_dir(const std::filesystem::path& dir);
/// syncfs(2) of the file system that holds the directory `dir`: every file written there is on
/// disk when it returns.
void sync_file_system(const std::filesystem::path& dir);
/// Creates `dir` with mode 0700 when missing.
void make_private_dir(const std::filesystem::path& dir);
/// A random lowercase hex string of `bytes` * 2 characters.
std::string random_hex(std::size_t bytes);

}  // namespace mkimg::oci::detail
