#include "builder/build_state.h"

#include <algorithm>

#include <ctime>

#include "common/ascii.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "oci/store.h"

namespace mkimg::builder {

namespace {
const char* const kProxyArgs[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                  "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                  "ALL_PROXY",  "all_proxy"};
}  // namespace

bool keeps_image(const BuildOptions& options) {
  return options.outputs.empty() ||
         !std::all_of(options.outputs.begin(), options.outputs.end(), [](const OutputSpec& o) {
           return o.type == OutputSpec::Type::kRegistry || o.type == OutputSpec::Type::kLocal ||
                  o.type == OutputSpec::Type::kTar;
         });
}

cache::KeyPart layer_format(const BuildOptions& options) {
  std::string value(oci::media_type::oci_layer_type(options.compression));
  if (options.source_date_epoch) value += " epoch=" + std::to_string(*options.source_date_epoch);
  return {"layers", value};
}

std::vector<StageNode> stage_name_nodes(const BuildSession& session) {
  std::vector<StageNode> nodes;
  nodes.reserve(session.dockerfile.stages.size());
  for (const auto& s : session.dockerfile.stages) nodes.push_back({s.name, {}});
  return nodes;
}

namespace {

/// The name BuildKit looks a word up by among the named contexts: a reference in its familiar
/// form without ":latest" (`docker.io/library/alpine:latest` is `alpine`), else the word.
std::string context_lookup_name(const std::string& word) {
  if (auto ref = oci::Reference::try_parse(word)) {
    std::string name = ref->familiar();
    if (name.ends_with(":latest")) name.resize(name.size() - 7);
    return name;
  }
  return word;
}

}  // namespace

SourceRef resolve_source(const BuildSession& session, const std::string& word, std::size_t before) {
  SourceRef r;
  if (!session.options->named_contexts.empty()) {
    const std::string name = context_lookup_name(word);
    for (const auto& c : session.options->named_contexts) {
      if (c.name != name && ascii_lower(c.name) != ascii_lower(word)) continue;
      r.context = &c;
      r.kind =
          c.dir.empty() && c.git.empty() ? SourceRef::Kind::kImage : SourceRef::Kind::kDirectory;
      r.image = c.image;
      return r;
    }
  }
  std::size_t i = find_stage(stage_name_nodes(session), word, before);
  if (i < session.dockerfile.stages.size()) {
    r.kind = SourceRef::Kind::kStage;
    r.stage = i;
    return r;
  }
  r.image = word;
  return r;
}

NamedDirectory::NamedDirectory(const std::filesystem::path& memo_dir, const NamedContext& context)
    : hasher(memo_dir, context.dir),
      ignore(parser::parse_dockerignore(context.dockerignore_text, context.dockerignore_name)) {}

NamedDirectory& named_directory(BuildSession& session, const NamedContext& context) {
  std::lock_guard lock(session.mutex);
  auto& d = session.named_dirs[context.name];
  if (!d)
    d = std::make_unique<NamedDirectory>(ContextHasher::memo_dir(session.store->cache_dir()),
                                         context);
  return *d;
}

std::optional<ImageState> finished_stage(BuildSession& session, std::size_t i) {
  std::lock_guard lock(session.mutex);
  if (i >= session.finished.size()) return std::nullopt;
  return session.finished[i];
}

parser::Environment step_environment(const StageState& stage) {
  parser::Environment env;
  for (const auto& e : image_env(stage.image)) {
    auto eq = e.find('=');
    if (eq == std::string::npos) continue;
    parser::set_variable(env, e.substr(0, eq), e.substr(eq + 1));
  }
  for (const auto& [k, v] : stage.args.variables) {
    if (!parser::find_variable(env, k)) parser::set_variable(env, k, v);
  }
  return env;
}

std::string working_dir(const StageState& stage) {
  const auto& cfg = stage.image.config.config;
  return cfg && cfg->working_dir && !cfg->working_dir->empty() ? *cfg->working_dir : "/";
}

std::vector<std::string> image_env(const ImageState& image) {
  const auto& cfg = image.config.config;
  if (!cfg || !cfg->env) return {};
  return *cfg->env;
}

void set_image_env(ImageState& image, const std::string& key, const std::string& value) {
  auto& cfg = image.config.config;
  if (!cfg) cfg = oci::ContainerConfig{};
  if (!cfg->env) cfg->env = std::vector<std::string>{};
  for (auto& e : *cfg->env) {
    if (e.compare(0, key.size() + 1, key + "=") == 0) {
      e = key + "=" + value;
      return;
    }
  }
  cfg->env->push_back(key + "=" + value);
}

std::string created_time(const BuildOptions& options) {
  if (options.source_date_epoch) return oci::rfc3339_utc(*options.source_date_epoch);
  return oci::rfc3339_utc(static_cast<std::int64_t>(std::time(nullptr)));
}

const std::filesystem::path& BuildSession::empty_dir() {
  std::lock_guard lock(empty_mutex);
  if (!empty) {
    empty.emplace(store->tmp_dir(), "empty-");
    if (::chmod(empty->path().c_str(), 0755) != 0) throw sys_error("chmod", empty->path().string());
  }
  return empty->path();
}

CacheMode stage_cache_mode(const BuildSession& session, std::size_t i) {
  CacheMode mode = session.options->cache;
  if (mode == CacheMode::kUse && i < session.no_cache.size() && session.no_cache[i]) {
    return CacheMode::kIgnore;
  }
  return mode;
}

StageState start_stage(const BuildOptions& options, std::size_t index, const std::string& name) {
  StageState stage;
  stage.index = index;
  stage.name = name;
  for (const char* proxy : kProxyArgs) {
    if (auto it = options.build_args.find(proxy); it != options.build_args.end()) {
      parser::set_variable(stage.args, proxy, it->second);
    }
  }
  return stage;
}

LocatedError located(const BuildSession& session, const parser::Location& location,
                     const std::exception& e, const std::string& original) {
  if (const auto* placed = dynamic_cast<const LocatedError*>(&e)) return *placed;
  std::string message =
      session.options->dockerfile_name + ":" + std::to_string(location.line) + ": " + e.what();
  if (!original.empty()) message += "\n >>> " + original;
  return LocatedError(message);
}

}  // namespace mkimg::builder
