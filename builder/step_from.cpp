// FROM: the stage's starting image: scratch, an earlier stage, the store, an archive
// (oci:, oci-archive:, docker-archive:) or a registry; then the base's ONBUILD triggers.
#include <algorithm>
#include <mutex>

#include "builder/shared_cache.h"
#include "builder/stage_graph.h"
#include "builder/steps.h"
#include "common/error.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "oci/transport.h"
#include "parser/parse.h"
#include "registry/pull.h"
#include "snapshot/layer_store.h"

namespace mkimg::builder {

ImageState load_image_state(BuildSession& session, const std::string& name);

namespace {

bool is_transport(const std::string& name) {
  return name.starts_with("oci:") || name.starts_with("oci-archive:") ||
         name.starts_with("docker-archive:");
}

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// BuildKit gives every stage a PATH: the default one is appended when the base has none.
void ensure_path(oci::ImageConfig& config) {
  if (!config.config) config.config = oci::ContainerConfig{};
  auto& env = config.config->env;
  if (!env) env = std::vector<std::string>{};
  for (const auto& e : *env) {
    if (e.starts_with("PATH=")) return;
  }
  env->push_back(kDefaultPath);
}

ImageState state_of(BuildSession& session, const oci::Image& image) {
  ImageState s;
  s.config = image.config;
  ensure_path(s.config);
  s.layers = image.manifest.layers;
  // Not unpacked here: the first step that needs the root file system unpacks it (image_lowers,
  // which checks every diff_id), so a build whose steps are all cached, or whose COPYs write
  // their layers straight from the sources, never decompresses its base.
  s.cache_key = cache::compute_key(
      {"", {{"from", image.manifest_descriptor.digest.str()}, layer_format(*session.options)}});
  return s;
}

oci::Image find_or_pull(BuildSession& session, const std::string& name,
                        const std::string& platform) {
  auto& store = *session.store;
  if (is_transport(name)) {
    auto source = oci::open_source(name, store);
    oci::CopyOptions copy;
    if (!platform.empty()) copy.platform = oci::parse_platform(platform);
    return oci::load_image(store, oci::pull(store, *source, copy));
  }
  // An image of the store; an index there without this platform's manifest is pulled again
  // for it (a base pulled for one platform names the others' manifests only).
  std::optional<oci::Platform> want;
  if (!platform.empty()) want = oci::parse_platform(platform);
  auto stored = [&](const std::string& n) -> std::optional<oci::Image> {
    auto d = store.resolve(n);
    if (!d) return std::nullopt;
    if (oci::media_type::is_index(d->media_type)) {
      auto doc = oci::parse_manifest_document(store.read_blob(d->digest), d->media_type);
      auto entry =
          oci::find_platform(std::get<oci::Index>(doc), want.value_or(oci::host_platform()));
      if (!entry || !store.has_blob(entry->digest)) return std::nullopt;
    }
    return oci::load_image(store, *d, want);
  };
  if (auto image = stored(name)) return *image;
  auto ref = oci::Reference::try_parse(name);
  if (!ref) throw Error(describe("resolve base image", name, "not a valid image reference"));
  if (auto image = stored(ref->str())) return *image;
  session.events->note("pulling " + ref->str());
  registry::PullOptions pull;
  pull.registry = session.options->registry;
  pull.platform = platform;
  pull.progress = [&](std::string_view line) { session.events->note(std::string(line)); };
  pull.layers = keeps_image(*session.options);
  try {
    oci::Image image = oci::load_image(store, registry::pull_image(store, *ref, pull));
    if (!pull.layers)
      add_base_layers(session, image.manifest.layers, ref->domain + "/" + ref->path);
    return image;
  } catch (const std::exception& e) {
    throw Error(describe("resolve base image", name,
                         std::string("not in the store and could not be pulled: ") + e.what()));
  }
}

/// A base from the store (or pulled) must be of the platform asked for, when one was.
void check_platform(const oci::Image& image, const std::string& name, const std::string& platform) {
  if (platform.empty()) return;
  oci::Platform want = oci::parse_platform(platform);
  const oci::ImageConfig& c = image.config;
  if (c.os != want.os || c.architecture != want.architecture) {
    throw Error(describe(
        "from", name,
        "the image is for " + c.os + "/" + c.architecture + ", the build asks for " + platform));
  }
}

ImageState scratch_state(BuildSession& session, const std::string& platform) {
  ImageState s;
  oci::Platform p = platform.empty() ? oci::host_platform() : oci::parse_platform(platform);
  s.config.architecture = p.architecture;
  s.config.os = p.os;
  if (!p.variant.empty()) s.config.variant = p.variant;
  ensure_path(s.config);
  s.config.config->working_dir = "/";
  s.cache_key = cache::compute_key(
      {"", {{"from", "scratch " + oci::to_string(p)}, layer_format(*session.options)}});
  return s;
}

std::vector<std::string> take_onbuild(ImageState& image) {
  std::vector<std::string> triggers;
  if (image.config.config && image.config.config->on_build) {
    triggers = *image.config.config->on_build;
    image.config.config->on_build.reset();
  }
  return triggers;
}

/// The platform a stage's base must have: FROM --platform, expanded with the build's ARGs
/// ($BUILDPLATFORM, $TARGETPLATFORM, ...) and checked, else --platform; empty: the host's.
std::string stage_platform(const BuildSession& session, const parser::Stage& source) {
  if (source.platform.empty()) return session.options->platform;
  std::string platform = parser::expand_word(source.platform, session.global_args,
                                             session.dockerfile.directives.escape);
  oci::parse_platform(platform);  // throws naming the value
  return platform;
}

}  // namespace

// Two stages naming the same base resolve it one after the other (the second finds it in the
// store); different bases resolve at the same time.
ImageState load_image_state(BuildSession& session, const std::string& name,
                            const std::string& platform) {
  std::mutex* lock = nullptr;
  {
    std::lock_guard guard(session.mutex);
    lock = &session.base_locks[name];
  }
  oci::Image image = [&] {
    std::lock_guard guard(*lock);
    return find_or_pull(session, name, platform);
  }();
  check_platform(image, name, platform);
  {
    std::lock_guard guard(session.mutex);
    session.inputs.images[name] = image.manifest_descriptor.digest.str();
  }
  return state_of(session, image);
}

void step_from(BuildSession& session, StageState& stage, const parser::Stage& source,
               const std::string& label) {
  std::string base =
      parser::expand_word(source.base, session.global_args, session.dockerfile.directives.escape);
  session.events->step(label, "FROM " + base);
  std::string platform = stage_platform(session, source);
  SourceRef r = resolve_source(session, base, stage.index);
  if ((base == "scratch" && !r.context) || r.kind == SourceRef::Kind::kDirectory) {
    stage.image = scratch_state(session, platform);
  } else if (r.kind == SourceRef::Kind::kStage) {
    auto built = finished_stage(session, r.stage);
    if (!built) throw Error(describe("from", base, "stage is not built"));
    stage.image = std::move(*built);
  } else {
    stage.image = load_image_state(session, r.image, platform);
  }
  // Metadata steps before the first layer step are dated like the base, so a rebuild with
  // every step cached gives the same config (and image id).
  stage.image.created = stage.image.config.created.value_or(oci::rfc3339_utc(0));
  stage.image.config.created.reset();
  if (r.kind == SourceRef::Kind::kDirectory) {
    // BuildKit: a directory --build-context as a base is the stage's root file system, in an
    // image with nothing but the default PATH and WORKDIR /. Here: scratch and one layer of
    // the directory's files, copied as `COPY --from=NAME . /` copies them (its .dockerignore
    // applied, keyed by content).
    parser::Instruction copy;
    copy.location = source.location;
    copy.original = "FROM " + base;
    copy.body = parser::Copy{{"."}, "/", base};
    run_instruction(session, stage, copy, label + " context");
    return;
  }
  auto triggers = take_onbuild(stage.image);
  for (const auto& t : triggers) {
    parser::Instruction inst = parser::parse_instruction(t);
    inst.location = source.location;
    run_instruction(session, stage, inst, label + " ONBUILD");
  }
}

}  // namespace mkimg::builder
