#include "builder/run_mounts.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "builder/layer_step.h"
#include "builder/root_path.h"
#include "builder/stage_graph.h"
#include "common/error.h"
#include "oci/digest.h"
#include "oci/store.h"

namespace mkimg::builder {
namespace {

std::string pinned_path(int fd) {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd);
}

}  // namespace

std::filesystem::path cache_mount_dir(const std::filesystem::path& cache_dir,
                                      const std::string& id) {
  return cache_dir / "mounts" / oci::sha256_of(id).encoded();
}

RunMounts::RunMounts(BuildSession& session, const StageState& stage,
                     const std::vector<parser::RunMount>& mounts) {
  for (const auto& m : mounts) {
    switch (m.type) {
      case parser::MountType::cache:
        add_cache(session, stage, m);
        break;
      case parser::MountType::bind:
        add_bind(session, m);
        binds_.back().destination = target_path(stage, m.target);
        break;
      case parser::MountType::tmpfs:
        tmpfs_.push_back(target_path(stage, m.target));
        break;
      case parser::MountType::secret:
      case parser::MountType::ssh:
        throw Error(describe("mount", m.text, "secret and ssh mounts are not supported"));
    }
  }
}

RunMounts::~RunMounts() = default;

std::string RunMounts::target_path(const StageState& stage, const std::string& target) const {
  if (!target.empty() && target.front() == '/') return target;
  auto& cfg = stage.image.config.config;
  std::string wd = cfg && cfg->working_dir ? *cfg->working_dir : "/";
  return (std::filesystem::path(wd) / target).lexically_normal().string();
}

void RunMounts::add_cache(BuildSession& session, const StageState& stage,
                          const parser::RunMount& m) {
  std::string target = target_path(stage, m.target);
  std::string id = m.id.empty() ? target : m.id;
  auto dir = cache_mount_dir(session.store->cache_dir(), id);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), m.mode.value_or(0755));
    if (::chown(dir.c_str(), m.uid.value_or(0), m.gid.value_or(0)) != 0) {
      throw sys_error("chown", dir.string());
    }
  }
  if (m.sharing == parser::CacheSharing::locked) {
    UniqueFd lock(::open((dir.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX) != 0) throw sys_error("lock cache", id);
    locks_.push_back(std::move(lock));
  }
  BindMount b{dir, target,
              m.read_only ? BindMount::Access::kReadOnly : BindMount::Access::kReadWrite};
  binds_.push_back(b);
}

void RunMounts::add_bind(BuildSession& session, const parser::RunMount& m) {
  std::filesystem::path root = session.options->context;
  if (!m.from.empty()) {
    std::vector<StageNode> nodes;
    for (const auto& s : session.dockerfile.stages) nodes.push_back({s.name, {}});
    std::size_t i = find_stage(nodes, m.from, nodes.size());
    if (i >= nodes.size() || !session.finished[i]) {
      throw Error(describe("mount", m.text, "from= must name a built stage"));
    }
    views_.push_back(std::make_unique<ImageView>(session, *session.finished[i]));
    root = views_.back()->root();
  }
  UniqueFd root_fd = open_root(root);
  UniqueFd src = open_in_root(root_fd.get(), m.source.empty() ? "/" : m.source, O_PATH);
  if (!src) throw sys_error("mount source", m.source);
  binds_.push_back({pinned_path(src.get()), m.target, BindMount::Access::kReadOnly});
  pinned_.push_back(std::move(src));
}

}  // namespace mkimg::builder
