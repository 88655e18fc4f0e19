// RUN --mount: cache directories persisted in <root>/cache/mounts (one per id, the id hashed
// so no id can name a path, CVE-2024-9675), read-only binds from the build context or from a
// stage or image (the source resolved inside its root, pinned by an fd and bind-mounted
// through it onto a private mount point the runtime binds, CVE-2024-1753), tmpfs, secrets
// (a `--secret` value written to a private tmpfs and bound read-only, by default at
// /run/secrets/<id>, and/or put in the step's environment; never on disk, never in a key) and
// ssh (a `--ssh` agent socket bound at /run/buildkit/ssh_agent.<n>, SSH_AUTH_SOCK set). A
// secret or ssh id that was not provided fails the step when required=true, else the mount is
// skipped (BuildKit). Everything is released at scope exit. A bind's content is part of the
// RUN's key (bind_key_parts).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "builder/build_state.h"
#include "common/fd.h"
#include "parser/dockerfile.h"
#include "runtime/bundle_config.h"

namespace mkimg::builder {

class ImageView;

/// The key parts of the binds of `mounts` (BuildKit keys a RUN by what its mounts read, so a
/// changed file under a bind is a miss): per bind, "bind:<n>" with a digest of the files it
/// mounts of the context or of a --build-context directory (each file as COPY keys it), or the
/// layers' diff_ids of the stage or image it mounts. Throws when the source does not exist.
std::vector<cache::KeyPart> bind_key_parts(BuildSession& session,
                                           const std::vector<parser::RunMount>& mounts);

/// The mounts of one RUN step, ready for the bundle.
class RunMounts {
 public:
  RunMounts(BuildSession& session, const StageState& stage,
            const std::vector<parser::RunMount>& mounts);
  RunMounts(const RunMounts&) = delete;
  RunMounts& operator=(const RunMounts&) = delete;
  ~RunMounts();

  const std::vector<runtime::BindMount>& binds() const { return binds_; }
  const std::vector<std::string>& tmpfs() const { return tmpfs_; }
  /// KEY=VALUE the step's process gets on top of ENV (secret env=, SSH_AUTH_SOCK).
  const std::vector<std::string>& env() const { return env_; }

 private:
  void add_cache(BuildSession& session, const StageState& stage, const parser::RunMount& m);
  void add_bind(BuildSession& session, const parser::RunMount& m);
  void add_secret(BuildSession& session, const StageState& stage, const parser::RunMount& m);
  void add_ssh(BuildSession& session, const StageState& stage, const parser::RunMount& m);
  std::string target_path(const StageState& stage, const std::string& target) const;
  std::filesystem::path stage_source(BuildSession& session, const UniqueFd& src,
                                     const std::string& what);
  std::filesystem::path writable(BuildSession& session, const std::filesystem::path& ro,
                                 const std::string& what);

  std::vector<runtime::BindMount> binds_;
  std::vector<std::string> tmpfs_;
  std::vector<std::string> env_;
  int ssh_mounts_ = 0;
  std::vector<UniqueFd> pinned_;
  std::vector<std::filesystem::path> staged_;   ///< mounts made in <root>/tmp
  std::vector<std::filesystem::path> scratch_;  ///< rw binds' throw-away directories
  std::vector<UniqueFd> locks_;
  std::vector<std::unique_ptr<ImageView>> views_;
};

/// Where a bind, cache or tmpfs mount `m` lands in the container: its target, a relative one
/// (or none: BuildKit mounts at the working directory) joined to the stage's WORKDIR. Throws
/// mkimg::Error when that is "/", as BuildKit does.
std::string mount_target(const StageState& stage, const parser::RunMount& m);

/// mount_target of each bind, cache and tmpfs mount of a step: throws for the first that
/// would land on "/".
void check_mount_targets(const StageState& stage, const std::vector<parser::RunMount>& mounts);

/// The host directory of a cache mount id under `cache_dir`: "mounts/<sha256 of id>".
std::filesystem::path cache_mount_dir(const std::filesystem::path& cache_dir,
                                      const std::string& id);

}  // namespace mkimg::builder
