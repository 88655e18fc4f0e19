// The OCI runtime (runc or crun) that runs RUN steps and `mkimg run`: finding a working one,
// and running one container from a bundle with its output streamed line by line. The
// container is killed and deleted by RAII, even when the build throws or is interrupted, so
// no process of a step survives into the diff (docs/security.md 14, 15). A SIGKILLed mkimg
// runs no destructor: its containers are deleted by a reaper process (container_runtime.cpp)
// that outlives it, or else by clear_leftovers() when the store is next opened alone
// (docs/security.md 24).
//
// A runtime "works" when it answers `--version`. Starting a Go binary costs tens of
// milliseconds, so a store remembers the binaries that answered (<root>/cache/runtime-probe,
// keyed by the file's device, inode, size, mtime and ctime): an unchanged binary is not asked
// again; a replaced, rewritten or chmod-ed one is. The memo is a hint, never fsynced: a lost
// or damaged memo only means asking again.
#pragma once

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace mkimg::oci {
class Store;
}

namespace mkimg {
class Background;
}

namespace mkimg::runtime {

/// A runtime binary that answered `--version`.
struct ContainerRuntime {
  std::filesystem::path binary;
  std::string name;  ///< "runc", "crun", or the file name of a custom path
};

/// Finds the runtime: `choice` is "" or "auto" (runc, then crun, in the system directories,
/// never through PATH), "runc", "crun", or a path. Throws naming the Debian package when none
/// works. With a `store`, its probe memo spares asking an unchanged binary again.
ContainerRuntime find_runtime(std::string_view choice, const oci::Store* store = nullptr);

/// How the container's stdio is connected: piped to a line callback (builds), or the
/// caller's own terminal (`mkimg run`).
enum class Stdio { kPipeLines, kInherit };

/// One container run.
struct ContainerRun {
  std::filesystem::path bundle;      ///< holds config.json
  std::filesystem::path state_root;  ///< the runtime's --root
  std::string id;                    ///< unique container id
  Stdio stdio = Stdio::kPipeLines;
  /// kInherit: the container reads the caller's stdin (`mkimg run -i`); otherwise /dev/null.
  bool attach_stdin = false;
  std::function<void(std::string_view)> on_line;  ///< each output line (kPipeLines)
  /// When set and it becomes true (another stage of the build failed), the container is
  /// killed and run_container throws "cancelled".
  const std::atomic<bool>* cancel = nullptr;
  /// When set, the runtime and (when this run starts it) the container reaper hold this fd
  /// open until they end: `mkimg run --name`'s claim on its name, which so outlives a killed
  /// mkimg until the runtime and the reaper are done with the container's state.
  int hold_fd = -1;
};

/// The exit status of the container's process and its last lines of output.
struct ContainerResult {
  int exit_code = 0;  ///< 128+signal when killed
  std::deque<std::string> last_lines;
};

/// Runs the container to its end. Throws mkimg::Error when the runtime cannot be started or
/// the build is interrupted or cancelled; a non-zero exit of the process is a result, not an error.
ContainerResult run_container(const ContainerRuntime& runtime, const ContainerRun& run);

/// Starts, on `beside`, the container reaper run_container() needs for the containers of
/// `state_root` (a shell, once per runtime, state root and process; nothing when it runs
/// already), so that its spawn (about 2 ms) overlaps what precedes the first run_container()
/// (a RUN's bundle, or all of a --no-cache build's start: builder/steps.h prepare_runs).
/// run_container() waits for one under way, and starts it itself, or throws its error, when
/// it could not start here.
void start_reaper(Background& beside, const ContainerRuntime& runtime,
                  const std::filesystem::path& state_root);

/// Where the runtime keeps the state of a store's containers (its --root): <tmp>/runtime-state.
std::filesystem::path state_root(const std::filesystem::path& store_tmp);

/// Clears what a killed mkimg left in a store's tmp/; called while no other process has the
/// store open, before tmp/ is emptied. Containers still there are deleted through the runtime
/// (`delete --force` kills them first) and every mount below tmp/ (a step's overlay, a secret's
/// tmpfs) is detached, so emptying tmp/ neither leaves a container running untracked (its
/// lower layers pruned under it) nor walks into a mount.
void clear_leftovers(const std::filesystem::path& store_tmp);

/// A fresh container id, unique across the threads of a build and across processes:
/// "mkimg-<pid>-<counter>-<random>". An id of another form (`mkimg run --name`) is made known
/// to the reaper while its container runs, so it is deleted with this process's own.
std::string new_container_id();

/// Deletes (`delete --force`: killed first) the container `id` of `state_root`, if there is
/// one; true when the runtime said it was done.
bool delete_container(const ContainerRuntime& runtime, const std::filesystem::path& state_root,
                      const std::string& id);

}  // namespace mkimg::runtime
