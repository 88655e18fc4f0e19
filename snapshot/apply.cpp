#include "snapshot/apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "common/archive_error.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/temp_dir.h"
#include "oci/file_io.h"
#include "snapshot/entry_applier.h"
#include "snapshot/layer_stream.h"
#include "snapshot/root_fs.h"

namespace mkimg::snapshot {

namespace {

std::atomic<int64_t> max_layer_bytes{int64_t{64} << 30};

ApplyResult apply_stream(const fs::path& blob, int root, ApplyMode mode, const ApplyLimits& limits,
                         const std::optional<ApplyOwner>& owner) {
  LayerStream stream(blob, "", limits);  // apply_layer names the layer
  TarOfStream a(stream, limits.keep_going);
  EntryApplier applier(root, mode, limits, owner);
  ApplyResult result;
  for (;;) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw a.failure("tar header");
    if (++result.entries > limits.max_entries) throw Error("too many entries");
    applier.apply(a.get(), e);
  }
  applier.finish();
  stream.drain();
  result.tar_size = stream.tar_size();
  result.diff_id = stream.diff_id();
  return result;
}

}  // namespace

int64_t max_layer_size() { return max_layer_bytes.load(); }

void set_max_layer_size(int64_t bytes) {
  if (bytes <= 0)
    throw Error(describe("set layer size limit", std::to_string(bytes), "not positive"));
  max_layer_bytes.store(bytes);
}

ApplyResult apply_layer(const fs::path& blob, const fs::path& dest, ApplyMode mode,
                        const ApplyLimits& limits, const std::optional<ApplyOwner>& owner) {
  try {
    UniqueFd root(::open(dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw sys_error("open", dest.string());
    return apply_stream(blob, root.get(), mode, limits, owner);
  } catch (const std::exception& e) {
    throw with_context("apply layer `" + blob.string() + "`", e);
  }
}

ApplyResult unpack_layer(const fs::path& blob, const fs::path& dest,
                         const std::string& expected_diff_id, const ApplyLimits& limits) {
  fs::path parent = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
  TempDir tmp(parent, ".tmp-" + dest.filename().string() + "-");
  ::chmod(tmp.path().c_str(), 0755);
  ApplyResult result = apply_layer(blob, tmp.path(), ApplyMode::kOverlayLower, limits);
  if (result.diff_id != expected_diff_id) {
    throw Error(describe("unpack layer", blob.string(),
                         "diff_id " + result.diff_id + " does not match " + expected_diff_id));
  }
  oci::detail::sync_file_system(tmp.path());
  if (::renameat2(AT_FDCWD, tmp.path().c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
    throw sys_error("rename into", dest.string());
  }
  tmp.release();
  UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent_fd) ::fsync(parent_fd.get());
  return result;
}

}  // namespace mkimg::snapshot
