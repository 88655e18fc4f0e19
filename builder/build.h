// builder/: the build engine. A newcomer's map of the folder:
//
//   build.h            build(): Dockerfile + context -> an image in the store (this file)
//   events.h           BuildEvents: what the engine tells about a build (cli/ renders it)
//   build_state.h      what a build carries from step to step: the image being made (config,
//                      layers), the cache key chain, ARG/ENV scope
//   build_plan.h       the plan before anything runs: global ARGs, the stage graph, the
//                      target's stages in order and parallel groups; `build --dry-run`
//   stage_graph.h      which stages the target needs, in what order; cycles are errors
//   stage_scheduler.h  runs the stages on a pool of --jobs threads, each once the stages it
//                      uses are built; the first failure cancels the rest
//   steps.h            one file per kind of instruction: step_from.cpp, step_run.cpp,
//                      step_copy.cpp, step_workdir.cpp, step_metadata.cpp; run_instruction.cpp
//                      dispatches
//   layer_step.h       a file-system step: cache lookup, overlay mount, work, diff, commit
//   history.h          each step's history entry as BuildKit writes it (created_by, comment)
//   context_hash.h     the stat-keyed memo of context file hashes (step keys and the cache
//                      index are in cache/)
//   shared_cache.cpp   --cache-from lookups on a local miss, --cache-to exports at the end
//   run_mounts.h       RUN --mount: cache, bind, tmpfs, secret (--secret, on a tmpfs), ssh
//                      (--ssh agent sockets)
//   output_layout.h    --output type=oci,dest=DIR, and the root file system as files
//                      (type=local,dest=DIR) or one tar (type=tar,dest=FILE|-)
//   provenance.h       --provenance: a SLSA provenance v1 attestation per platform, attached
//                      as BuildKit attaches it; read back for `mkimg verify`
//   copy/              COPY and ADD:
//     rules.h          Docker's COPY/ADD path rules (wildcards, dir contents, trailing slash),
//                      --chmod (octal or symbolic)
//     plan.h           sources selected and hashed, then applied to the root or written
//                      straight into the layer (direct.cpp)
//     recall.h         what a COPY made last time (entries, gzip members, its directory),
//                      reused by its next run after a change
//     url_source.h     ADD <http(s) URL>: file naming, download into <root>/tmp, --checksum
//     git_source.h     ADD <git URL> and git --build-contexts: ref -> commit, checkout
//
// The engine looks steps up in cache/ (the store's index, then the --cache-from sources), runs
// containers through runtime/ (runc, overlays, the image's users), makes and unpacks layers through
// snapshot/ (layer_store.h keeps the unpacked layers), pulls bases through registry/ and oci/'s
// transports, and reads Dockerfiles through parser/.
//
// `--platform a,b` builds each platform at once with its own session (build.cpp's
// PlatformBuild), and the image is then an index over the platforms' manifests (and, with
// --provenance, their attestation manifests).
//
// A build: parse the Dockerfile, plan the stages the target needs, and build them on a small
// pool of threads (--jobs; default the number of cores, at most 4): a stage starts as soon as
// the stages it uses (FROM <stage>, COPY --from, RUN --mount from=) are finished, and walks its
// instructions. What stages share is safe from several threads: the cache index and the
// context hash memo lock, layer directories are unpacked once (others wait), blobs and index
// entries are written to temp names and renamed, container ids are unique, cache mounts follow
// their sharing= mode. The first failing stage cancels the others (their containers are
// killed) and its error is the build's; with --jobs 1 the stages run one after another in
// build order, and the image is byte-identical either way. `--dry-run` (dry_run()) prints the
// plan and runs, pulls and writes nothing. Metadata instructions change the config and add an
// empty_layer history entry. File-system instructions (RUN, COPY, ADD, WORKDIR) compute a cache
// key; on a hit the cached layer is reused; on a miss an overlay of the parent's unpacked
// layers is mounted with a fresh upper directory in <root>/tmp, the step runs (a RUN in a
// runc/crun container with the build's --add-host, --ulimit and --shm-size), the upper
// directory is diffed into a layer blob (snapshot/) committed to the store, and the upper
// directory itself becomes the unpacked layer <root>/layers/<chain id>. A COPY onto new paths
// skips the diff: its layer is written from its sources (copy/plan.h direct_copy_entries), and
// its files are written straight into its upper directory beside it only when a later step
// reads them; after a change it takes its last run's unchanged entries and gzip members from
// its blob and records only the delta over its directory (copy/recall.h). Layers are
// unpacked lazily, when a step first runs on them (layer_step.h image_lowers). The
// final image is written (config + manifest) and tagged only when every step succeeded, so a failed
// build leaves the previous tag and the store as they were. The build runs with umask 022
// (restored afterwards), so the caller's umask never reaches a layer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/events.h"
#include "cache/cache_location.h"
#include "oci/descriptor.h"
#include "oci/media_types.h"
#include "registry/options.h"
#include "runtime/bundle_config.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

/// Whether cached steps are reused: kUse reads and records the step cache; kIgnore (--no-cache)
/// re-runs every step and records the results; kBypass re-runs every step and records nothing
/// (the second build of --verify-reproducible, which must leave the first build's cache alone).
enum class CacheMode { kUse, kIgnore, kBypass };
/// Whether each cache miss prints which part of the key changed.
enum class ExplainMode { kQuiet, kExplain };

/// `--provenance` / `--attest type=provenance,mode=...` (builder/provenance.h): none, or an
/// attestation per platform with BuildKit's min or max detail.
enum class ProvenanceMode { kOff, kMin, kMax };

/// One `--output`.
struct OutputSpec {
  /// kRegistry: pushed to each -t name and not kept in the store (buildx's type=registry).
  /// kLocal: the image's root file system written as files into `dest`; kTar: the same as one
  /// tar to the file `dest` ("-": stdout). Neither makes an image: the image is kept and tagged
  /// in the store only when some other output (or none at all) asks for one, as with buildx.
  enum class Type { kOci, kOciArchive, kDocker, kRegistry, kLocal, kTar } type = Type::kOci;
  std::filesystem::path dest;
};

/// One `--secret`: where a `RUN --mount=type=secret` finds the value, read when a step mounts
/// it (never stored, never in a cache key).
struct SecretSource {
  std::string id;
  std::filesystem::path file;  ///< src=; empty when the value comes from `env`
  std::string env;             ///< env=: an environment variable of mkimg
};

/// One `--ssh`: an ssh-agent socket forwarded to `RUN --mount=type=ssh`.
struct SshSource {
  std::string id;  ///< "default" unless given
  std::filesystem::path socket;
};

/// One `--build-context NAME=VALUE` (buildx's named contexts): `FROM NAME`, `COPY --from=NAME`
/// and `RUN --mount from=NAME` read it instead of a stage or an image of that name.
struct NamedContext {
  std::string name;
  std::filesystem::path dir;      ///< a local directory (absolute), read like the main context
  std::string dockerignore_text;  ///< dir: its .dockerignore, "" when none
  std::string dockerignore_name;  ///< dir: the file it came from, for errors
  std::string image;              ///< else an image: a reference, or `oci:DIR[:REF]`
  /// A git URL (`URL#REF:SUBDIR`): checked out when the build starts, then read as `dir`.
  std::string git;
};

/// Everything `mkimg build` was asked.
struct BuildOptions {
  std::filesystem::path context;
  std::string dockerfile_text;
  std::string dockerfile_name = "Dockerfile";
  std::string dockerignore_text;                    ///< "" when there is none
  std::string dockerignore_name = ".dockerignore";  ///< the file it came from, for errors
  std::vector<std::string> tags;
  std::map<std::string, std::string> build_args;
  std::string target;
  CacheMode cache = CacheMode::kUse;
  /// --no-cache-filter: the stages (by name, any case) whose steps run again as with
  /// --no-cache while the other stages still use the cache. A name no stage has is an error.
  std::vector<std::string> no_cache_stages;
  ExplainMode explain = ExplainMode::kQuiet;
  std::map<std::string, std::string> labels;
  NetworkMode network = NetworkMode::kHost;
  /// `--allow security.insecure`: RUN --security=insecure may run privileged (else an error).
  bool allow_insecure = false;
  /// docker build's RUN container options, for every RUN container of the build (never in a
  /// layer): `--add-host` lines of its /etc/hosts, `--ulimit` limits (at most one per type),
  /// `--shm-size` of its /dev/shm.
  std::vector<runtime::HostEntry> extra_hosts;
  std::vector<runtime::Rlimit> ulimits;
  std::uint64_t shm_size = runtime::kDefaultShmSize;
  std::string runtime;  ///< "", "runc", "crun" or a path
  std::vector<OutputSpec> outputs;
  std::filesystem::path iidfile;
  oci::media_type::Compression compression = oci::media_type::Compression::kGzip;
  std::optional<std::int64_t> source_date_epoch;
  /// The platform this build is for (os/arch[/variant]); "" = the host's.
  std::string platform;
  /// `--platform a,b,...` with more than one platform: build() builds the image once for each
  /// (each with `platform` set to it, at the same time) and the result is one OCI image index
  /// listing the platforms' manifests in this order. Empty or one: `platform` alone.
  std::vector<std::string> platforms;
  std::vector<SecretSource> secrets;
  std::vector<SshSource> ssh;
  std::vector<NamedContext> named_contexts;  ///< --build-context
  unsigned jobs = 0;  ///< --jobs: stages built at once; 0 = default_jobs(), 1 = one by one
  /// Off by default (the store's image stays one manifest, as docker's image store keeps it);
  /// with it the image is an index holding each platform's image and its attestation. A
  /// docker-archive output carries no attestation.
  ProvenanceMode provenance = ProvenanceMode::kOff;
  std::vector<cache::CacheLocation> cache_from;  ///< --cache-from, asked in order on a miss
  std::vector<cache::CacheLocation> cache_to;    ///< --cache-to, written when the build ends
  registry::RegistryOptions registry;            ///< for base images and --cache-from/--cache-to
};

/// What a build made.
struct BuildResult {
  oci::Descriptor manifest;  ///< the image's manifest, or the index of a multi-platform build
  /// The config digest, "sha256:..."; a multi-platform build's is the index digest (as
  /// buildx's image id of a manifest list).
  std::string image_id;
  int steps = 0;
  int cached_steps = 0;
  int shared_hits = 0;  ///< cached steps found through --cache-from
  /// For each layer of the image that came from a registry --cache-from, the repository
  /// (`host/path`) that has it: a push mounts it from there instead of uploading it.
  std::map<std::string, std::string> layer_origins;
};

/// Builds the image and tags it in `store`, telling `events` what it does. Throws mkimg::Error
/// with the Dockerfile line of the failing step in front; nothing is tagged then.
BuildResult build(oci::Store& store, const BuildOptions& options, BuildEvents& events);

}  // namespace mkimg::builder
