// build(): the stages the target needs, on a pool of threads (a stage as soon as the stages it
// uses are built), then the image written, tagged and output.
#include "builder/build.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "builder/build_plan.h"
#include "builder/build_state.h"
#include "builder/copy/git_source.h"
#include "builder/layer_step.h"
#include "builder/output_layout.h"
#include "builder/provenance.h"
#include "builder/shared_cache.h"
#include "builder/stage_scheduler.h"
#include "builder/steps.h"
#include "common/error.h"
#include "common/in_root.h"
#include "common/temp_dir.h"
#include "oci/archive.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "parser/parse.h"
#include "registry/push.h"

namespace mkimg::builder {
namespace {

void build_stage(BuildSession& session, std::size_t i) {
  const parser::Stage& source = session.dockerfile.stages[i];
  StageState stage = start_stage(*session.options, i, source.name);
  std::size_t total = source.instructions.size() + 1;
  try {
    step_from(session, stage, source, stage_label(session, i, 1, total));
  } catch (const RemoteLayerUnusable&) {
    throw;  // build() starts again without the entry
  } catch (const std::exception& e) {
    throw located(session, source.location, e);
  }
  // From the end: does anything after instruction k read the stage's root?
  std::vector<bool> read_later(source.instructions.size(), session.feeds_other_stage[i]);
  for (std::size_t k = source.instructions.size(); k-- > 1;) {
    read_later[k - 1] = read_later[k] || touches_root(source.instructions[k]);
  }
  prefetch_shared_hits(session, stage, source.instructions, read_later);
  for (std::size_t k = 0; k < source.instructions.size(); ++k) {
    run_instruction(session, stage, source.instructions[k], stage_label(session, i, k + 2, total),
                    read_later[k]);
  }
  std::lock_guard lock(session.mutex);
  session.finished[i] = std::move(stage.image);
}

oci::ImageConfig final_config(const BuildSession& session, const ImageState& image) {
  oci::ImageConfig config = image.config;
  const auto& options = *session.options;
  if (!options.labels.empty()) {
    if (!config.config) config.config = oci::ContainerConfig{};
    if (!config.config->labels) config.config->labels = std::map<std::string, std::string>{};
    for (const auto& [k, v] : options.labels) (*config.config->labels)[k] = v;
  }
  config.created = image.created.empty() ? created_time(options) : image.created;
  if (options.source_date_epoch) config.created = created_time(options);
  return config;
}

std::string tag_of(const std::vector<std::string>& tags) {
  if (tags.empty()) return "latest";
  auto ref = oci::Reference::parse(tags.front());
  return ref.tag.value_or("latest");
}

/// One platform's part of a build: its options (`platform` set), its session (kept until the
/// outputs are written: a push or an export may still fetch a remote layer through it), and the
/// image it wrote, untagged.
struct PlatformBuild {
  BuildOptions options;
  BuildSession session;
  std::size_t target = 0;
  oci::Descriptor manifest;
  std::vector<oci::Descriptor> layers;
};
using PlatformBuilds = std::vector<std::unique_ptr<PlatformBuild>>;

/// Downloads the layers among `layers` that one of the platforms' shared-cache hits named and
/// the store lacks.
void fetch_layers(PlatformBuilds& builds, const std::vector<oci::Descriptor>& layers) {
  for (auto& b : builds) {
    std::vector<oci::Descriptor> mine;
    for (const auto& l : layers) {
      if (std::find(b->layers.begin(), b->layers.end(), l) != b->layers.end()) mine.push_back(l);
    }
    if (!mine.empty()) fetch_remote_layers(b->session, mine);
  }
}

/// --output type=registry: the image (or index) to each -t name; a layer a registry cache hit
/// named is mounted from the cache's repository when it is on the same registry, else
/// downloaded and uploaded.
void push_outputs(const BuildOptions& options, oci::Store& store, BuildEvents& events,
                  const oci::Descriptor& top, PlatformBuilds& builds) {
  registry::PushOptions push;
  push.registry = options.registry;
  push.progress = [&](std::string_view line) { events.note(std::string(line)); };
  for (auto& b : builds) push.origins.merge(layer_origins(b->session, b->layers));
  push.fetch_missing = [&](const oci::Descriptor& d) { fetch_layers(builds, {d}); };
  for (const auto& t : options.tags) {
    registry::push_image(store, top, oci::Reference::parse(t), push);
  }
}

/// The directory or file of one platform's files in a multi-platform local or tar output:
/// buildx's `linux_arm64` (os_arch[_variant]) under `dest`.
std::filesystem::path platform_dest(const std::filesystem::path& dest, const PlatformBuild& b) {
  std::string name = b.options.platform;
  std::replace(name.begin(), name.end(), '/', '_');
  return dest / name;
}

void write_outputs(const BuildOptions& options, oci::Store& store, BuildEvents& events,
                   const oci::Descriptor& top, PlatformBuilds& builds) {
  std::vector<oci::Reference> names;
  for (const auto& t : options.tags) names.push_back(oci::Reference::parse(t));
  bool pushed = false;
  bool fetched = false;
  auto fetch_all = [&] {
    // An image not kept in the store may lack layers a registry cache hit named.
    if (fetched) return;
    for (auto& b : builds) fetch_remote_layers(b->session, b->layers);
    fetched = true;
  };
  const bool several = builds.size() > 1;
  for (const auto& out : options.outputs) {
    switch (out.type) {
      case OutputSpec::Type::kLocal:
        fetch_all();
        // As buildx: one platform's files straight into DIR, several each in DIR/os_arch.
        for (auto& b : builds) {
          write_local_output(store, b->manifest, several ? platform_dest(out.dest, *b) : out.dest);
        }
        events.note("writing files to " + out.dest.string() + " done");
        break;
      case OutputSpec::Type::kTar:
        fetch_all();
        write_tar_output(store, top, out.dest, options.source_date_epoch);
        events.note("writing tar to " +
                    (out.dest == "-" ? std::string("stdout") : out.dest.string()) + " done");
        break;
      case OutputSpec::Type::kRegistry:
        if (!pushed) push_outputs(options, store, events, top, builds);
        pushed = true;
        break;
      case OutputSpec::Type::kOci:
        write_oci_layout(store, top, out.dest, tag_of(options.tags));
        break;
      case OutputSpec::Type::kOciArchive:
        oci::save_archive(store, {{top, names}}, out.dest, oci::ArchiveFormat::kOci);
        break;
      case OutputSpec::Type::kDocker:
        // One platform (several are refused before the build), without its attestation: a
        // docker-archive holds images only.
        if (options.provenance != ProvenanceMode::kOff) {
          events.note(
              "warning: --output type=docker carries no provenance attestation: use "
              "type=oci, type=oci-archive or type=registry for it");
        }
        oci::save_archive(store, {{builds.front()->manifest, names}}, out.dest,
                          oci::ArchiveFormat::kDocker);
        break;
    }
  }
}

/// Sets the process umask for the build and restores the caller's afterwards: the modes of
/// what the build creates (WORKDIR, parents of COPY destinations) must not depend on it.
class BuildUmask {
 public:
  BuildUmask() : saved_(::umask(022)) {}
  BuildUmask(const BuildUmask&) = delete;
  BuildUmask& operator=(const BuildUmask&) = delete;
  ~BuildUmask() { ::umask(saved_); }

 private:
  mode_t saved_;
};

/// Builds one platform's stages and writes its image (config and manifest), untagged.
void build_platform(PlatformBuild& b, oci::Store& store, BuildEvents& events,
                    cache::SharedCacheReader* shared) {
  BuildSession& session = b.session;
  const BuildOptions& options = b.options;
  session.store = &store;
  session.options = &options;
  session.events = &events;
  session.shared_cache = shared;
  session.dockerfile = parser::parse(options.dockerfile_text, options.dockerfile_name);
  session.ignore = parser::parse_dockerignore(options.dockerignore_text, options.dockerignore_name);
  session.cache = std::make_unique<cache::CacheIndex>(store.cache_dir());
  session.pending = std::make_unique<snapshot::PendingLayers>(store);
  declare_global_args(session);
  StagePlan plan = plan_stages(session);
  b.target = plan.target;
  session.finished.resize(plan.nodes.size());
  session.feeds_other_stage.assign(plan.nodes.size(), false);
  session.no_cache = plan.no_cache;
  for (std::size_t j : plan.order) {
    for (std::size_t d : plan.nodes[j].depends_on) session.feeds_other_stage[d] = true;
  }
  prepare_runs(session, plan.order);
  unsigned jobs = options.jobs > 0 ? options.jobs : default_jobs();
  run_stages(plan.nodes, plan.order, jobs, session.cancelled,
             [&](std::size_t i) { build_stage(session, i); });
  session.background.wait();
  for (auto& [name, d] : session.named_dirs) d->hasher.save();
  oci::ImageConfig config = final_config(session, *session.finished[b.target]);
  b.layers = session.finished[b.target]->layers;
  bool keep = keeps_image(options);
  if (keep) fetch_remote_layers(session, b.layers);
  b.manifest =
      oci::write_image(store, config, b.layers, inline_cache_annotations(session, b.target),
                       keep ? oci::LayerBlobs::kInStore : oci::LayerBlobs::kAnywhere);
}

/// Builds every platform at the same time, each on its own thread with its own stage pool.
/// The first failure cancels the others and is the build's error, named by its platform.
void build_platforms(PlatformBuilds& builds, oci::Store& store, BuildEvents& events,
                     cache::SharedCacheReader* shared) {
  if (builds.size() == 1) {
    build_platform(*builds.front(), store, events, shared);
    return;
  }
  // Each platform's stages stop on their own flag, which its scheduler sets when one of them
  // fails; the others' flags are set only here, after the failure is recorded as the build's
  // error, so a platform that stopped because of it never takes its place.
  std::mutex mutex;
  std::exception_ptr first;
  auto failed = [&](std::exception_ptr error) {
    std::lock_guard lock(mutex);
    if (!first) first = error;
    for (auto& other : builds) other->session.cancelled = true;
  };
  std::vector<std::thread> threads;
  for (auto& b : builds) b->session.label_prefix = b->options.platform + " ";
  for (auto& b : builds) {
    threads.emplace_back([&, build = b.get()] {
      try {
        build_platform(*build, store, events, shared);
      } catch (const RemoteLayerUnusable&) {
        failed(std::current_exception());
      } catch (const std::exception& e) {
        failed(std::make_exception_ptr(with_context(build->options.platform, e)));
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

/// The image index of a multi-platform build or of one with provenance: each platform's
/// manifest, with the platform its config names, in --platform's order, then each one's
/// attestation manifest (BuildKit's order).
oci::Descriptor write_index(const oci::Store& store, const PlatformBuilds& builds,
                            const std::vector<oci::Descriptor>& attestations) {
  oci::Index index;
  index.media_type = std::string(oci::media_type::kOciIndex);
  for (const auto& b : builds) {
    oci::Image image = oci::load_image(store, b->manifest);
    oci::Descriptor d = b->manifest;
    d.platform = oci::Platform{.architecture = image.config.architecture,
                               .os = image.config.os,
                               .variant = image.config.variant.value_or("")};
    index.manifests.push_back(d);
  }
  index.manifests.insert(index.manifests.end(), attestations.begin(), attestations.end());
  return store.put_blob(oci::to_json(index), oci::media_type::kOciIndex);
}

/// A new invocation id: 25 characters of [a-z0-9], as BuildKit's.
std::string invocation_id() {
  static const char* chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  std::string id;
  for (int i = 0; i < 25; ++i) id += chars[random() % 36];
  return id;
}

/// Each platform's attestation manifest (builder/provenance.h), when the build asks for them.
std::vector<oci::Descriptor> write_attestations(const oci::Store& store,
                                                const BuildOptions& options,
                                                const PlatformBuilds& builds,
                                                const std::string& started_on) {
  std::vector<oci::Descriptor> out;
  if (options.provenance == ProvenanceMode::kOff) return out;
  std::string id = invocation_id();
  std::string finished_on = oci::rfc3339_utc(::time(nullptr));
  for (const auto& b : builds) {
    ProvenanceFacts facts = provenance_facts(b->session, b->manifest);
    facts.invocation_id = id;
    facts.started_on = started_on;
    facts.finished_on = finished_on;
    out.push_back(write_attestation(store, facts));
  }
  return out;
}

/// One attempt of build(): `shared` is the --cache-from reader (null without).
BuildResult build_once(oci::Store& store, const BuildOptions& options, BuildEvents& events,
                       cache::SharedCacheReader* shared) {
  std::vector<oci::Reference> tags;
  for (const auto& t : options.tags) tags.push_back(oci::Reference::parse(t));
  std::string started_on = oci::rfc3339_utc(::time(nullptr));
  PlatformBuilds builds;
  std::vector<std::string> platforms = options.platforms;
  if (platforms.size() <= 1) platforms = {options.platform};
  auto hasher =
      std::make_shared<ContextHasher>(ContextHasher::memo_dir(store.cache_dir()), options.context);
  for (const auto& p : platforms) {
    builds.push_back(std::make_unique<PlatformBuild>());
    builds.back()->options = options;
    builds.back()->options.platform = p;
    builds.back()->session.hasher = hasher;
  }
  build_platforms(builds, store, events, shared);
  hasher->save();
  // The one store-wide memo of earlier versions (every context's entries) is read no more.
  std::error_code ec;
  std::filesystem::remove(store.cache_dir() / "context-memo", ec);
  BuildResult result;
  std::vector<oci::Descriptor> attestations =
      write_attestations(store, options, builds, started_on);
  result.manifest = builds.front()->manifest;
  result.image_id = oci::load_image(store, result.manifest).manifest.config.digest.str();
  if (builds.size() > 1 || !attestations.empty()) {
    result.manifest = write_index(store, builds, attestations);
    if (builds.size() > 1) result.image_id = result.manifest.digest.str();
  }
  for (auto& b : builds) result.layer_origins.merge(layer_origins(b->session, b->layers));
  bool keep = keeps_image(options);
  if (keep) {
    for (const auto& ref : tags) store.tag(ref, result.manifest);
    if (tags.empty()) store.add_untagged(result.manifest);
  } else if (!tags.empty() &&
             std::none_of(options.outputs.begin(), options.outputs.end(), [](const OutputSpec& o) {
               return o.type == OutputSpec::Type::kRegistry;
             })) {
    // buildx ignores -t when no output makes an image; say so rather than tag nothing silently.
    events.note("warning: no image is kept with --output type=local or tar: -t " +
                tags.front().str() + (tags.size() > 1 ? " and the other -t names" : "") +
                " name nothing");
  }
  write_outputs(options, store, events, result.manifest, builds);
  for (auto& b : builds) {
    export_shared_cache(b->session, b->target);
    result.steps += b->session.steps;
    result.cached_steps += b->session.cached_steps;
    result.shared_hits += b->session.shared_hits;
  }
  events.note(std::string(builds.size() > 1 ? "writing image index " : "writing image ") +
              result.image_id + " done");
  if (keep) {
    for (const auto& ref : tags) events.note("naming to " + ref.str() + " done");
  }
  if (!options.iidfile.empty()) write_file_atomic(output_target(options.iidfile), result.image_id);
  return result;
}

}  // namespace

BuildResult build(oci::Store& store, const BuildOptions& given, BuildEvents& events) {
  BuildUmask umask;
  // Git --build-contexts are checked out first (into tmp/, for the build's length) and then
  // read as directories.
  BuildOptions options = given;
  std::vector<TempDir> checkouts;
  for (auto& c : options.named_contexts) {
    if (c.git.empty()) continue;
    GitSource git = parse_git_source(c.git);
    std::string commit = resolve_git_commit(git);
    events.note("git context " + c.name + ": " + c.git + " at " + commit);
    checkouts.emplace_back(store.tmp_dir(), "git-context-");
    checkout_git(git, commit, checkouts.back().path() / "repo", false);
    c.dir = checkouts.back().path() / "repo" / git.subdir;
    std::error_code ec;
    if (!std::filesystem::is_directory(c.dir, ec) || std::filesystem::is_symlink(c.dir, ec)) {
      throw Error(describe("--build-context", c.name + "=" + c.git,
                           "no directory " + git.subdir + " in the repository"));
    }
  }
  std::unique_ptr<cache::SharedCacheReader> shared;
  if (!options.cache_from.empty() && options.cache == CacheMode::kUse) {
    shared = std::make_unique<cache::SharedCacheReader>(
        store, options.cache_from, options.registry,
        [&events](const std::string& line) { events.note("warning: " + line); });
  }
  // A shared entry found unusable once its layer was needed is refused by the reader, so each
  // attempt uses fewer entries; the last builds without the shared cache at all.
  constexpr int kAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    try {
      return build_once(store, options, events, attempt < kAttempts ? shared.get() : nullptr);
    } catch (const RemoteLayerUnusable& e) {
      events.note(std::string("warning: ") + e.what() + ": building again without it");
    }
  }
}

}  // namespace mkimg::builder
