// build(): the stages the target needs, on a pool of threads (a stage as soon as the stages it
// uses are built), then the image written, tagged and output.
#include "builder/build.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "builder/build_plan.h"
#include "builder/build_state.h"
#include "builder/copy/git_source.h"
#include "builder/layer_step.h"
#include "builder/output_layout.h"
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

/// --output type=registry: the image to each -t name; a layer a registry cache hit named is
/// mounted from the cache's repository when it is on the same registry, else downloaded and
/// uploaded.
void push_outputs(BuildSession& session, const oci::Descriptor& manifest,
                  const std::vector<oci::Descriptor>& layers) {
  registry::PushOptions push;
  push.registry = session.options->registry;
  push.progress = [&](std::string_view line) { session.events->note(std::string(line)); };
  push.origins = layer_origins(session, layers);
  push.fetch_missing = [&](const oci::Descriptor& d) { fetch_remote_layers(session, {d}); };
  for (const auto& t : session.options->tags) {
    registry::push_image(*session.store, manifest, oci::Reference::parse(t), push);
  }
}

void write_outputs(BuildSession& session, const oci::Descriptor& manifest,
                   const std::vector<oci::Descriptor>& layers) {
  const auto& options = *session.options;
  std::vector<oci::Reference> names;
  for (const auto& t : options.tags) names.push_back(oci::Reference::parse(t));
  bool pushed = false;
  bool fetched = false;
  auto fetch_layers = [&] {
    // An image not kept in the store may lack layers a registry cache hit named.
    if (!fetched) fetch_remote_layers(session, layers);
    fetched = true;
  };
  for (const auto& out : options.outputs) {
    switch (out.type) {
      case OutputSpec::Type::kLocal:
        fetch_layers();
        write_local_output(*session.store, manifest, out.dest);
        session.events->note("writing files to " + out.dest.string() + " done");
        break;
      case OutputSpec::Type::kTar:
        fetch_layers();
        write_tar_output(*session.store, manifest, out.dest, options.source_date_epoch);
        session.events->note("writing tar to " +
                             (out.dest == "-" ? std::string("stdout") : out.dest.string()) +
                             " done");
        break;
      case OutputSpec::Type::kRegistry:
        if (!pushed) push_outputs(session, manifest, layers);
        pushed = true;
        break;
      case OutputSpec::Type::kOci:
        write_oci_layout(*session.store, manifest, out.dest, tag_of(options.tags));
        break;
      case OutputSpec::Type::kOciArchive:
        oci::save_archive(*session.store, {{manifest, names}}, out.dest, oci::ArchiveFormat::kOci);
        break;
      case OutputSpec::Type::kDocker:
        oci::save_archive(*session.store, {{manifest, names}}, out.dest,
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

/// One attempt of build(): `shared` is the --cache-from reader (null without).
BuildResult build_once(oci::Store& store, const BuildOptions& options, BuildEvents& events,
                       cache::SharedCacheReader* shared) {
  BuildSession session;
  session.store = &store;
  session.options = &options;
  session.events = &events;
  session.shared_cache = shared;
  session.dockerfile = parser::parse(options.dockerfile_text, options.dockerfile_name);
  session.ignore = parser::parse_dockerignore(options.dockerignore_text, options.dockerignore_name);
  session.cache = std::make_unique<cache::CacheIndex>(store.cache_dir());
  session.pending = std::make_unique<snapshot::PendingLayers>(store);
  session.hasher =
      std::make_unique<ContextHasher>(store.cache_dir() / "context-memos", options.context);
  // An empty directory (the lower of a scratch root, the view of a scratch image), removed at
  // the end. Mode 0755 like any root directory, not mkdtemp's 0700: a RUN --mount of a scratch
  // stage shows it to the container's user.
  TempDir empty(store.tmp_dir(), "empty-");
  if (::chmod(empty.path().c_str(), 0755) != 0) throw sys_error("chmod", empty.path().string());
  session.empty_dir = empty.path();
  declare_global_args(session);
  std::vector<oci::Reference> tags;
  for (const auto& t : options.tags) tags.push_back(oci::Reference::parse(t));
  StagePlan plan = plan_stages(session);
  std::size_t target = plan.target;
  session.finished.resize(plan.nodes.size());
  session.feeds_other_stage.assign(plan.nodes.size(), false);
  session.no_cache = plan.no_cache;
  for (std::size_t j : plan.order) {
    for (std::size_t d : plan.nodes[j].depends_on) session.feeds_other_stage[d] = true;
  }
  unsigned jobs = options.jobs > 0 ? options.jobs : default_jobs();
  run_stages(plan.nodes, plan.order, jobs, session.cancelled,
             [&](std::size_t i) { build_stage(session, i); });
  session.hasher->save();
  for (auto& [name, d] : session.named_dirs) d->hasher.save();
  // The one store-wide memo of earlier versions (every context's entries) is read no more.
  std::error_code ec;
  std::filesystem::remove(store.cache_dir() / "context-memo", ec);
  oci::ImageConfig config = final_config(session, *session.finished[target]);
  const auto& layers = session.finished[target]->layers;
  bool keep = keeps_image(options);
  if (keep) fetch_remote_layers(session, layers);
  BuildResult result;
  result.manifest =
      oci::write_image(store, config, layers, inline_cache_annotations(session, target),
                       keep ? oci::LayerBlobs::kInStore : oci::LayerBlobs::kAnywhere);
  result.image_id = oci::load_image(store, result.manifest).manifest.config.digest.str();
  result.layer_origins = layer_origins(session, layers);
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
  write_outputs(session, result.manifest, layers);
  export_shared_cache(session, target);
  result.steps = session.steps;
  result.cached_steps = session.cached_steps;
  result.shared_hits = session.shared_hits;
  events.note("writing image " + result.image_id + " done");
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
