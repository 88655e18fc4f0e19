// What a build carries from step to step (internal to builder/).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "builder/build.h"
#include "builder/context_hash.h"
#include "builder/events.h"
#include "builder/history.h"
#include "builder/stage_graph.h"
#include "cache/cache_index.h"
#include "cache/shared_cache.h"
#include "common/error.h"
#include "common/parallel.h"
#include "common/temp_dir.h"
#include "oci/image.h"
#include "parser/dockerfile.h"
#include "parser/dockerignore.h"
#include "parser/expand.h"
#include "runtime/container_runtime.h"
#include "snapshot/layer_store.h"

namespace mkimg::builder {

/// An image as a stage builds it: config (with rootfs.diff_ids and history), the layer blobs
/// (bottom first; unpacked when a step needs them, layer_step.h image_lowers), and the cache
/// key chain.
struct ImageState {
  oci::ImageConfig config;
  std::vector<oci::Descriptor> layers;
  std::string cache_key;  ///< key of the last file-system step (or the base)
  std::string created;    ///< RFC 3339 time of the last change (cached steps keep theirs)
  /// The ARGs declared so far, in order, with their values: a stage FROM this one keeps them
  /// (BuildKit's dispatchState.buildArgs), for the `|N K=V` of a RUN's history entry.
  std::vector<BuildArg> build_args;
};

/// One stage being built: its image, the variables in scope and the shell.
struct StageState {
  std::size_t index = 0;
  std::string name;
  ImageState image;
  parser::Environment args;  ///< ARGs declared in this stage with their values
  std::vector<std::string> shell{"/bin/sh", "-c"};
  bool cmd_set = false;  ///< CMD given in this stage (ENTRYPOINT then keeps it)
};

/// A step's cache entry as the build used it, with its parent's key (the chain --cache-to
/// mode=min follows back from the final image).
struct UsedEntry {
  std::string parent;
  cache::CacheEntry entry;
  std::optional<cache::CacheEntry> alias;  ///< the same step under its alias key, if it has one
};

/// A layer the store does not have yet, fetched when its bytes are needed
/// (builder/shared_cache.h): one a shared-cache hit named (its entry recorded under `parent`
/// once the layer is in the store), or one of a base image a build that only pushes resolved
/// without its layers (from `origin`).
struct RemoteLayer {
  std::optional<cache::SharedHit> hit;
  std::string parent;
  std::string origin;          ///< a base's layer: the registry repository, "host/path"
  oci::Descriptor descriptor;  ///< a base's layer
  bool fetched = false;
};

/// A --build-context directory as COPY reads it: its hash memo and its .dockerignore.
struct NamedDirectory {
  NamedDirectory(const std::filesystem::path& memo_dir, const NamedContext& context);
  ContextHasher hasher;
  parser::Dockerignore ignore;
};

/// What a build read, recorded as it goes for its provenance (builder/provenance.h); guarded by
/// `mutex`.
struct BuildInputs {
  /// Each base and --from image as the Dockerfile named it -> the manifest digest used.
  std::map<std::string, std::string> images;
  /// "source:/path=key" for each main-context file a COPY or ADD read (its content key).
  std::set<std::string> context_files;
  bool network = false;  ///< a RUN ran with the network
};

/// Shared by every stage of one build. Stages may run on several threads at once: `finished`,
/// `runtime` and `base_locks` are guarded by `mutex`; the cache index, the context hasher, the
/// store and the events receiver are safe to use from several threads.
struct BuildSession {
  oci::Store* store = nullptr;
  std::mutex empty_mutex;
  std::optional<TempDir> empty;  ///< empty_dir()'s, once made
  const BuildOptions* options = nullptr;
  parser::Dockerfile dockerfile;
  parser::Environment global_args;  ///< ARGs before the first FROM, with values
  parser::Dockerignore ignore;
  std::unique_ptr<cache::CacheIndex> cache;
  cache::SharedCacheReader* shared_cache = nullptr;  ///< --cache-from; null without
  /// The layers shared-cache hits named, by layer digest: downloaded only when a step, an
  /// output or an export needs their bytes (builder/shared_cache.h). Guarded by `remote_mutex`.
  std::map<std::string, RemoteLayer> remote_layers;
  /// What the shared cache answered for keys asked ahead in one batch (prefetch_shared_hits):
  /// a hit, or nullopt for a miss. Guarded by `remote_mutex`.
  std::map<std::string, std::optional<cache::SharedHit>> prefetched;
  std::mutex remote_mutex;
  std::mutex fetch_mutex;  ///< one download of remote layers at a time
  /// The `RUN --mount=type=cache` directories steps of this build used, by id (for
  /// --cache-to ...,cache-mounts=true), and the ids already asked of --cache-from; guarded by
  /// `mounts_mutex`.
  std::map<std::string, std::filesystem::path> used_mounts;
  std::set<std::string> asked_mounts;
  std::mutex mounts_mutex;
  /// Every layer step's entry this build used (hit or run), by key, for --cache-to; guarded
  /// by `used_mutex`.
  std::map<std::string, UsedEntry> used;
  /// The key a stage continues from after a COPY --link, by that key: the key before the COPY
  /// and the COPY's own (parent-free) key, so --cache-to mode=min follows both. Guarded by
  /// `used_mutex`.
  std::map<std::string, std::pair<std::string, std::string>> links;
  std::mutex used_mutex;
  std::atomic<int> shared_hits{0};
  /// The main context's hash memo; one for every platform of a build (each file hashed once).
  std::shared_ptr<ContextHasher> hasher;
  /// The --build-context directories read so far, by name; guarded by `mutex`.
  std::map<std::string, std::unique_ptr<NamedDirectory>> named_dirs;
  std::optional<runtime::ContainerRuntime> runtime;  ///< found on the first RUN
  BuildEvents* events = nullptr;  ///< where progress goes (cli/progress.h renders it)
  std::vector<std::optional<ImageState>> finished;  ///< per stage, once built
  std::vector<bool> feeds_other_stage;              ///< per stage: a stage being built uses it
  std::vector<bool> no_cache;                       ///< per stage: named by --no-cache-filter
  BuildInputs inputs;                               ///< for the provenance
  std::mutex mutex;                              ///< guards finished, runtime, base_locks, inputs
  std::map<std::string, std::mutex> base_locks;  ///< one per base image name being resolved
  /// Set when a stage failed: the others stop early. build() also sets it when another
  /// platform of a multi-platform build failed.
  std::atomic<bool> cancelled{false};
  /// In front of every step label: "" for one platform, "linux/arm64 " when the build makes
  /// several (buildx's `[linux/arm64 stage 2/3]`).
  std::string label_prefix;
  std::atomic<int> steps{0};
  std::atomic<int> cached_steps{0};
  /// An empty directory of mode 0755 in the store's tmp/ (the lower of a scratch root, the view
  /// of a scratch image; 0755 like any root directory, since a RUN --mount of a scratch stage
  /// shows it to the container's user), made the first time it is asked for: a build that
  /// never meets scratch makes and removes none. Removed with the session.
  const std::filesystem::path& empty_dir();
  /// The layer directories this build made, recorded when the session ends
  /// (snapshot/layer_store.h).
  std::unique_ptr<snapshot::PendingLayers> pending;
  /// Work a step left to finish while the next ones run (a COPY's recall record), waited for
  /// when the stages are done; last, so that it is joined before the rest goes.
  Background background;
};

/// False when no --output asks for an image in the store (every one is type=registry, local or
/// tar): it is not kept in the store, so layers it has from a shared cache or a base are
/// downloaded only when an output needs their content (local, tar).
bool keeps_image(const BuildOptions& options);

/// How this build writes its layers, a part of every base key (and of a COPY --link's): a
/// layer written as gzip is no hit for a zstd build, nor one with real times for a build with
/// SOURCE_DATE_EPOCH.
cache::KeyPart layer_format(const BuildOptions& options);

/// How stage `i` uses the step cache: the build's mode, or kIgnore (as --no-cache) for a
/// stage --no-cache-filter names.
CacheMode stage_cache_mode(const BuildSession& session, std::size_t i);

/// The stages as the stage graph sees them: their names, no edges yet.
std::vector<StageNode> stage_name_nodes(const BuildSession& session);

/// What a FROM, `COPY --from` or `RUN --mount from=` word names, in BuildKit's order: a
/// --build-context of that name (it replaces a stage of the same name), else a stage (by
/// name or number, among the stages before `before`; stage_graph.h find_stage), else an image.
struct SourceRef {
  enum class Kind { kStage, kDirectory, kImage } kind = Kind::kImage;
  std::size_t stage = 0;                  ///< kStage
  const NamedContext* context = nullptr;  ///< a --build-context (kDirectory, or kImage)
  std::string image;                      ///< kImage: the reference or transport name to load
};
SourceRef resolve_source(const BuildSession& session, const std::string& word, std::size_t before);

/// The --build-context directory `context` as COPY reads it (made on first use).
NamedDirectory& named_directory(BuildSession& session, const NamedContext& context);

/// A copy of the finished image of stage `i` (nullopt when it is not built).
std::optional<ImageState> finished_stage(BuildSession& session, std::size_t i);

/// The effective environment of a step: image Env, then build ARGs in scope (ENV wins).
parser::Environment step_environment(const StageState& stage);

/// The stage's working directory: the config's WorkingDir, "/" when it is unset or empty.
std::string working_dir(const StageState& stage);

/// "KEY=value" list of the image's Env.
std::vector<std::string> image_env(const ImageState& image);

/// Sets KEY in the image's Env (replacing in place).
void set_image_env(ImageState& image, const std::string& key, const std::string& value);

/// The config's "created" time: SOURCE_DATE_EPOCH when set, else now.
std::string created_time(const BuildOptions& options);

/// An error already placed in the Dockerfile ("Dockerfile:3: ..."): an enclosing step (a FROM
/// running its base's ONBUILD triggers) passes it on instead of placing it a second time.
class LocatedError : public Error {
  using Error::Error;
};

/// `e` placed at `location` of the Dockerfile, with the instruction's text when given; an
/// error that is already a LocatedError is returned as it is.
LocatedError located(const BuildSession& session, const parser::Location& location,
                     const std::exception& e, const std::string& original = "");

}  // namespace mkimg::builder

namespace mkimg::builder {
/// The state a stage starts from, for a build and a dry run alike: its index and name, and the
/// predefined proxy ARGs (HTTP_PROXY, ...) given with --build-arg, in scope without ARG.
StageState start_stage(const BuildOptions& options, std::size_t index, const std::string& name);
}  // namespace mkimg::builder
