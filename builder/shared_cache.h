// Internal to builder/: the layers --cache-from hits named, downloaded only when needed, and
// what a build writes for --cache-to (cache/shared_cache.h has the format). Lookups on a miss
// are in layer_step.cpp.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "builder/build_state.h"
#include "common/error.h"
#include "oci/descriptor.h"

namespace mkimg::builder {

/// A layer a shared-cache hit named turned out unusable when its bytes were needed (it cannot
/// be downloaded, or its diff_id is not the entry's). The build has already used the entry, so
/// build() starts again; the reader refuses the entry (or the dead source) from then on, so it
/// is a miss the second time.
class RemoteLayerUnusable : public Error {
  using Error::Error;
};

/// Takes a shared-cache hit for the step whose parent key is `parent`: a layer from a registry
/// is downloaded only when needed (fetch_remote_layers), one from a local directory is copied
/// and checked now (a false return: it is unusable, a miss). The entry is recorded in the
/// store's cache index once its layer is in the store.
bool adopt_shared_hit(BuildSession& session, const cache::SharedHit& hit,
                      const std::string& parent);

/// Notes the layers of a base image resolved without them (a build that only pushes): they
/// come from the registry repository `origin` ("host/path") when a step needs their bytes, and
/// are mounted from there by the push otherwise.
void add_base_layers(BuildSession& session, const std::vector<oci::Descriptor>& layers,
                     const std::string& origin);

/// Downloads the layers among `layers` that shared-cache hits named and the store lacks, checks
/// each one's diff_id against its entry and records the entry in the store's cache index.
/// Throws RemoteLayerUnusable.
void fetch_remote_layers(BuildSession& session, const std::vector<oci::Descriptor>& layers);

/// For each of `layers` a registry cache hit or a base named and the store may lack: the
/// repository that has it.
std::map<std::string, std::string> layer_origins(BuildSession& session,
                                                 const std::vector<oci::Descriptor>& layers);

/// Notes that a step used the cache mount directory `dir` of `id`; before the first use of an
/// id in the build, when `dir` does not exist yet, fills it from a --cache-from source read with
/// cache-mounts=true (true then). A cache mount that cannot be had is a warning: the step gets
/// an empty directory.
bool use_cache_mount(BuildSession& session, const std::string& id,
                     const std::filesystem::path& dir);

/// The manifest annotations of the final image: the inline cache when --cache-to type=inline
/// asked for it (the entries of the image's own layer steps), else none.
std::map<std::string, std::string> inline_cache_annotations(BuildSession& session,
                                                            std::size_t target);

/// Writes the entries each registry or local --cache-to asks for: with mode=min the chain of
/// the final image (stage `target` back through the stages it is FROM), with mode=max every
/// entry the build used; with cache-mounts=true also each cache mount a step used. A failed
/// export is a warning: the image is built and tagged anyway.
void export_shared_cache(BuildSession& session, std::size_t target);

}  // namespace mkimg::builder
