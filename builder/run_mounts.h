// RUN --mount: cache directories persisted in <root>/cache/mounts (one per id, the id hashed
// so no id can name a path, CVE-2024-9675), read-only binds from the build context or from a
// stage or image (the source resolved inside its root and pinned by an fd the runtime reaches
// through /proc/<pid>/fd, CVE-2024-1753), and tmpfs. Everything is released at scope exit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "builder/build_state.h"
#include "builder/bundle_config.h"
#include "common/fd.h"
#include "parser/dockerfile.h"

namespace mkimg::builder {

class ImageView;

/// The mounts of one RUN step, ready for the bundle.
class RunMounts {
 public:
  RunMounts(BuildSession& session, const StageState& stage,
            const std::vector<parser::RunMount>& mounts);
  RunMounts(const RunMounts&) = delete;
  RunMounts& operator=(const RunMounts&) = delete;
  ~RunMounts();

  const std::vector<BindMount>& binds() const { return binds_; }
  const std::vector<std::string>& tmpfs() const { return tmpfs_; }

 private:
  void add_cache(BuildSession& session, const StageState& stage, const parser::RunMount& m);
  void add_bind(BuildSession& session, const parser::RunMount& m);
  std::string target_path(const StageState& stage, const std::string& target) const;

  std::vector<BindMount> binds_;
  std::vector<std::string> tmpfs_;
  std::vector<UniqueFd> pinned_;
  std::vector<UniqueFd> locks_;
  std::vector<std::unique_ptr<ImageView>> views_;
};

/// The host directory of a cache mount id under `cache_dir`: "mounts/<sha256 of id>".
std::filesystem::path cache_mount_dir(const std::filesystem::path& cache_dir,
                                      const std::string& id);

}  // namespace mkimg::builder
