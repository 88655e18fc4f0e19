// COPY and ADD: sources from the context, a stage or an image, heredocs, local archives, and
// ADD's http(s) URLs (copy/url_source.h).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <future>

#include "builder/copy/git_source.h"
#include "builder/copy/plan.h"
#include "builder/copy/recall.h"
#include "builder/copy/url_source.h"
#include "builder/history.h"
#include "builder/layer_step.h"
#include "builder/stage_graph.h"
#include "builder/steps.h"
#include "common/error.h"
#include "common/in_root.h"
#include "common/parallel.h"
#include "oci/store.h"
#include "runtime/cancel.h"
#include "runtime/user_database.h"
#include "snapshot/apply.h"
#include "snapshot/layer_store.h"
#include "snapshot/spec_tree.h"

namespace mkimg::builder {

namespace {

/// What COPY and ADD share.
struct CopyArgs {
  std::string keyword;
  std::vector<std::string> sources;
  std::string dest;
  std::string from;
  std::string chown;
  std::string chmod;
  bool parents = false;
  bool link = false;
  std::vector<std::string> excludes;
  std::vector<parser::Heredoc> heredocs;
  std::vector<std::string> urls;        ///< ADD's http(s) sources (not in `sources`)
  std::optional<oci::Digest> checksum;  ///< ADD --checksum (one URL source)
};

/// The history entry's created_by of the COPY or ADD `inst` (as expanded, as BuildKit shows it).
std::string created_by(const parser::Instruction& inst) {
  if (auto* c = std::get_if<parser::Copy>(&inst.body)) return copy_created_by(*c);
  return copy_created_by(std::get<parser::Add>(inst.body));
}

std::string workdir_of(const StageState& stage) {
  auto& cfg = stage.image.config.config;
  return cfg && cfg->working_dir ? *cfg->working_dir : "/";
}

/// The image a --from names: a finished stage or an image, kept alive with a read-only view.
struct FromSource {
  std::optional<ImageState> image;
  std::unique_ptr<ImageView> view;
};

FromSource open_from(BuildSession& session, const SourceRef& from, const std::string& word) {
  FromSource fs;
  if (from.kind == SourceRef::Kind::kStage) {
    fs.image = finished_stage(session, from.stage);
    if (!fs.image) throw Error(describe("copy --from", word, "stage is not built"));
  } else {
    fs.image = load_image_state(session, from.image, session.options->platform);
  }
  fs.view = std::make_unique<ImageView>(session, *fs.image);
  return fs;
}

std::string options_text(const CopyArgs& a) {
  std::string s = a.keyword + "\ndest=" + a.dest + "\nfrom=" + a.from + "\nchown=" + a.chown +
                  "\nchmod=" + a.chmod + "\nparents=" + (a.parents ? "1" : "0");
  for (const auto& e : a.excludes) s += "\nexclude=" + e;
  return s;
}

std::vector<CopySource> heredoc_sources(const CopyArgs& a) {
  std::vector<CopySource> out;
  for (const auto& h : a.heredocs) {
    CopySource s;
    s.relative = h.name;
    CopyFile f;
    f.type = S_IFREG;
    f.mode = a.chmod.empty() ? 0644 : Chmod::parse(a.chmod).apply(0644, false);
    f.content = h.content;
    s.files.push_back(f);
    out.push_back(std::move(s));
  }
  return out;
}

/// One part per source file; room is made for `more` parts after them. Made a run of files
/// at a time on every core (100,000 files are 200,000 strings).
void add_key_parts(cache::StepKey& key, const std::vector<CopySource>& sources, std::size_t more) {
  struct Run {
    const CopySource* source;
    std::span<const CopyFile> files;
    std::size_t first_part;
  };
  std::vector<Run> runs;
  std::size_t count = key.parts.size();
  for (const auto& s : sources) {
    for (std::size_t r = 0; r < s.files.run_count(); ++r) {
      runs.push_back({&s, s.files.run(r), count});
      count += s.files.run(r).size();
    }
  }
  key.parts.reserve(count + more);
  key.parts.resize(count);
  for_each_index(runs.size(), core_threads(8), [&](std::size_t r) {
    const CopySource& s = *runs[r].source;
    cache::KeyPart* part = &key.parts[runs[r].first_part];
    for (const auto& f : runs[r].files) {
      part->name.reserve(9 + s.relative.size() + f.sub.size());
      part->name.append("source:/").append(s.relative);
      if (!f.sub.empty()) part->name.append("/").append(f.sub);
      part->value = file_key(f);
      if (f.content) part->value.append(" ").append(*f.content);
      ++part;
    }
  });
}

std::optional<CopyOwner> resolve_owner(const std::string& chown,
                                       const std::filesystem::path& merged) {
  if (chown.empty()) return std::nullopt;
  UniqueFd root = open_root(merged);
  auto r = runtime::resolve_user(runtime::read_user_database(root.get()), chown,
                                 runtime::DefaultGroup::kSameAsUid);
  return CopyOwner{r.uid, r.gid};
}

bool is_archive(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return false;
  unsigned char b[512] = {};
  ssize_t n = ::pread(fd.get(), b, sizeof b, 0);
  if (n < 6) return false;
  if (b[0] == 0x1f && b[1] == 0x8b) return true;                                  // gzip
  if (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) return true;  // zstd
  if (b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') return true;                     // bzip2
  if (b[0] == 0xfd && b[1] == '7' && b[2] == 'z' && b[3] == 'X') return true;     // xz
  return n >= 262 && std::string_view(reinterpret_cast<char*>(b) + 257, 5) == "ustar";
}

/// ADD unpacks a local source that is an archive.
bool is_local_archive(const CopyInput& input, const CopySource& s) {
  return !s.is_dir && s.files.front().type == S_IFREG && !s.files.front().content &&
         is_archive(input.root / s.read_from);
}

/// COPY straight into the layer (copy/plan.h) unless MKIMG_COPY_PATH=overlay asks for the
/// overlay path always (tests compare the two).
bool direct_copy_enabled() {
  const char* v = std::getenv("MKIMG_COPY_PATH");
  return !(v && std::string_view(v) == "overlay");
}

void extract_archive(const std::filesystem::path& archive, const std::filesystem::path& merged,
                     const std::string& dest) {
  UniqueFd root = open_root(merged);
  UniqueFd dir = make_dirs_in_root(root.get(), dest);
  UniqueFd real(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!real) throw sys_error("open", dest);
  std::string pinned = "/proc/self/fd/" + std::to_string(real.get());
  snapshot::ApplyLimits limits;
  limits.keep_going = runtime::keep_going;
  snapshot::apply_layer(archive, pinned, snapshot::ApplyMode::kFlatten, limits);
}

/// ADD's URL sources: downloaded once the key needs their content (no --checksum) or when
/// the step runs (--checksum), into one download directory of the store's tmp/.
class UrlSources {
 public:
  UrlSources(const oci::Store& store, const CopyArgs& a) : args_(a) {
    if (a.urls.empty()) return;
    if (!a.checksum && speculating()) throw Error("the key of this step needs a download");
    dir_.emplace(make_download_dir(store));
    files_.resize(a.urls.size());
    if (a.checksum) return;
    for (std::size_t i = 0; i < a.urls.size(); ++i) {
      files_[i] = download_url(a.urls[i], *dir_, i, std::nullopt);
    }
  }

  /// The key parts: BuildKit's HTTP source key (file name, checksum or content digest and
  /// Last-Modified), not the URL itself.
  void add_key_parts(cache::StepKey& key) const {
    for (std::size_t i = 0; i < args_.urls.size(); ++i) {
      std::string value = args_.checksum ? "checksum=" + args_.checksum->str()
                                         : "digest=" + files_[i]->digest.str() +
                                               " mtime=" + std::to_string(files_[i]->mtime);
      key.parts.push_back({"url:" + url_file_name(args_.urls[i]), value});
    }
  }

  /// Downloads what is not downloaded yet and writes every URL's file below `dest`.
  void apply(const std::filesystem::path& merged, const Destination& dest,
             std::optional<CopyOwner> owner, bool force_dir_dest) {
    if (args_.urls.empty()) return;
    CopyInput input;
    input.root = dir_->path();
    std::vector<CopySource> sources;
    for (std::size_t i = 0; i < args_.urls.size(); ++i) {
      if (!files_[i]) files_[i] = download_url(args_.urls[i], *dir_, i, args_.checksum);
      CopySource s;
      s.relative = url_file_name(args_.urls[i]);
      s.read_from = files_[i]->name;
      CopyFile f;
      f.type = S_IFREG;
      f.mode = args_.chmod.empty() ? 0600 : Chmod::parse(args_.chmod).apply(0600, false);
      f.mtime.tv_sec = static_cast<time_t>(files_[i]->mtime);
      f.digest = files_[i]->digest.str();
      s.files.push_back(std::move(f));
      sources.push_back(std::move(s));
    }
    apply_sources(input, sources, merged, dest, owner, Parents::kNo, force_dir_dest);
  }

 private:
  const CopyArgs& args_;
  std::optional<TempDir> dir_;
  std::vector<std::optional<UrlFile>> files_;
};

/// Where a COPY reads: the context, or a stage or image (its view kept mounted while the step
/// runs), with the --exclude and --chmod of the instruction.
struct CopyOrigin {
  FromSource from;
  ContextHasher image_hasher{""};
  CopyInput input;
};

/// The instruction's --exclude patterns and --chmod, on whatever `input` reads.
void set_filters(const CopyArgs& a, CopyInput& input) {
  std::string exclude_text;
  for (const auto& x : a.excludes) exclude_text += x + "\n";
  input.excludes = parser::parse_dockerignore(exclude_text, "--exclude");
  if (!a.chmod.empty()) input.chmod = Chmod::parse(a.chmod);
}

void open_origin(BuildSession& session, const CopyArgs& a, CopyOrigin& o) {
  o.input.hasher = session.hasher.get();
  SourceRef from;
  if (!a.from.empty()) from = resolve_source(session, a.from, session.dockerfile.stages.size());
  if (!a.from.empty() && from.kind == SourceRef::Kind::kDirectory) {
    // A --build-context directory reads like the main context: its own hash memo and its
    // own .dockerignore (BuildKit's named local contexts).
    NamedDirectory& named = named_directory(session, *from.context);
    o.input.root = from.context->dir;
    o.input.hasher = &named.hasher;
    o.input.ignore = &named.ignore;
  } else if (!a.from.empty()) {
    o.from = open_from(session, from, a.from);
    o.input.root = o.from.view->root();
    o.input.kind = CopyInput::Kind::kImage;
    o.input.hasher = &o.image_hasher;
  } else {
    o.input.root = session.options->context;
    o.input.ignore = &session.ignore;
  }
  set_filters(a, o.input);
}

/// What a COPY copies where, as selected before the step runs.
struct CopyShape {
  Destination dest;
  std::vector<CopySource> sources;
  bool wildcard = false;
  std::size_t source_count = 0;
  bool force_dir_dest = false;
  Parents parents = Parents::kNo;
  bool extract_archives = false;
  std::string shown;       ///< the instruction as written
  std::string recall_key;  ///< names this COPY's recall record (copy/recall.h)
};

CopyShape shape_copy(const StepContext& ctx, const CopyArgs& a, const CopyInput& input,
                     bool extract_archives) {
  CopyShape s;
  s.dest = resolve_destination(a.dest, workdir_of(ctx.stage));
  s.sources = a.heredocs.empty() ? select_sources(input, a.sources) : heredoc_sources(a);
  for (const auto& src : a.sources) s.wildcard = s.wildcard || has_wildcard(src);
  s.source_count = a.sources.size() + a.heredocs.size() + a.urls.size();
  check_multiple_sources(s.dest, s.source_count, a.keyword);
  s.force_dir_dest = s.wildcard || s.sources.size() > 1 || s.source_count > 1;
  s.parents = a.parents ? Parents::kYes : Parents::kNo;
  s.extract_archives = extract_archives;
  s.shown = ctx.instruction.original;
  s.recall_key = options_text(a) + "\n" + s.dest.path + "\n" +
                 (input.kind == CopyInput::Kind::kContext ? "context " + input.root.string()
                                                          : "from " + a.from);
  return s;
}

/// What a COPY written straight into its layer keeps from planning to writing: the view, the
/// source root, the plan, the last run's recall record and this run's layer.
struct DirectCopy {
  std::unique_ptr<ImageView> view;
  UniqueFd src_root;
  std::optional<std::vector<snapshot::SpecEntry>> plan;
  std::optional<CopyRecall> recall;
  std::optional<snapshot::LayerBlob> made;
  std::vector<std::string> changed;  ///< files whose source changed while they were written
};

/// The layer writer of a COPY onto new paths (copy/plan.h), or none when the destination
/// needs the container path.
LayerWriter plan_direct(const StepContext& ctx, const CopyArgs& a, const CopyInput& input,
                        CopyShape& s, DirectCopy& d) {
  auto& session = ctx.session;
  for (const auto& src : s.sources) {
    if (s.extract_archives && is_local_archive(input, src)) return {};
  }
  d.view = std::make_unique<ImageView>(session, ctx.stage.image);
  auto owner = resolve_owner(a.chown, d.view->root());
  d.src_root = open_root(input.root);
  // The last run's record is read meanwhile (a tenth of a second for 100,000 files). --no-cache
  // builds from nothing: not even files or gzip members of the last build.
  std::future<std::optional<CopyRecall>> recall;
  if (stage_cache_mode(session, ctx.stage.index) == CacheMode::kUse) {
    recall = std::async(std::launch::async, [&store = *session.store, &key = s.recall_key] {
      return load_copy_recall(store, key);
    });
  }
  d.plan = direct_copy_entries(s.sources, d.src_root.get(), d.view->root(),
                               resolved_in(s.dest, d.view->root()), owner, s.parents,
                               s.force_dir_dest, ::time(nullptr));
  if (!d.plan) return {};
  snapshot::fingerprint_entries(*d.plan);
  // The plan holds all the layer needs from here on: the sources (and for 100,000 files their
  // tens of megabytes) go now, while the layer and the files are written.
  std::vector<CopySource>().swap(s.sources);
  if (recall.valid()) d.recall = recall.get();
  return [&d, &s](const std::filesystem::path& out_file, const snapshot::LayerOptions& options) {
    snapshot::LayerOptions o = options;
    o.index_members = true;
    if (d.recall && !d.recall->layer.blob.empty()) o.earlier = &d.recall->layer;
    StepTimer timer;
    d.made = snapshot::write_layer_spec(*d.plan, out_file, o);
    spdlog::debug(
        "{}: layer written in {:.3f}s, {} of {} gzip members copied from the last build ({} "
        "not even decompressed), {} of {} entries taken from it unread",
        s.shown, timer.seconds(), d.made->members_reused, d.made->members.size(),
        d.made->members_unread, d.made->entries_reused, d.made->entries);
    return *d.made;
  };
}

DirectWork direct_work(const StepContext& ctx, const CopyArgs& a, const CopyInput& input,
                       CopyShape& s, DirectCopy& d) {
  DirectWork direct;
  direct.also_on_disk = ctx.root_read_later;
  if (!a.urls.empty() || !direct_copy_enabled()) return direct;
  direct.plan = [&ctx, &a, &input, &s, &d] { return plan_direct(ctx, a, input, s, d); };
  direct.materialize = [&d, &s](const std::filesystem::path& upper) {
    StepTimer timer;
    auto keep_going = runtime::keep_going;
    // Only what differs from the whole directory at the bottom of the last build's layer,
    // stacked on it; else every file, the unchanged ones linked from that layer.
    if (d.recall && !d.recall->dirs.empty()) {
      // The image below may have changed since (the recall is keyed by the instruction, not
      // the base): a whiteout must not hide anything of it.
      UniqueFd below = open_root(d.view->root());
      auto nothing_below = [&below](const std::string& path) {
        UniqueFd fd = open_resolved(below.get(), path, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
                                    O_PATH | O_NOFOLLOW);
        return !fd && errno == ENOENT;
      };
      if (auto stats = snapshot::materialize_delta(*d.plan, upper, d.recall->layer.entries,
                                                   d.recall->dirs, nothing_below, keep_going)) {
        d.changed = std::move(stats->changed);
        spdlog::debug(
            "{}: files made in {:.3f}s, {} written, {} hidden, {} kept in the last "
            "build's layer below, {} linked from it",
            s.shown, timer.seconds(), stats->written, stats->whiteouts, stats->kept, stats->linked);
        return snapshot::layer_dir_chain(d.recall->dirs.front());
      }
    }
    std::optional<snapshot::SharedFiles> shared;
    if (d.recall && !d.recall->dirs.empty()) {
      shared = snapshot::SharedFiles{d.recall->dirs, &d.recall->layer.entries};
    }
    auto stats =
        snapshot::materialize_spec(*d.plan, upper, shared ? &*shared : nullptr, keep_going);
    d.changed = std::move(stats.changed);
    spdlog::debug("{}: files made in {:.3f}s, {} written, {} linked from the last build's layer",
                  s.shown, timer.seconds(), stats.written, stats.linked);
    return std::string();
  };
  return direct;
}

/// The COPY run on the mounted root: archives extracted (ADD), files applied, then URLs.
StepWork container_work(const CopyArgs& a, const CopyInput& input, const CopyShape& s,
                        UrlSources& urls) {
  return [&a, &input, &s, &urls](const std::filesystem::path& merged) {
    auto owner = resolve_owner(a.chown, merged);
    Destination dest = resolved_in(s.dest, merged);
    std::vector<CopySource> plain;
    for (const auto& src : s.sources) {
      if (s.extract_archives && is_local_archive(input, src)) {
        extract_archive(input.root / src.read_from, merged, dest.path);
      } else {
        plain.push_back(src);
      }
    }
    apply_sources(input, plain, merged, dest, owner, s.parents, s.force_dir_dest);
    // Mixed with local sources, URLs are written after them (BuildKit leaves the order of a
    // mixed ADD undefined).
    urls.apply(merged, dest, owner, s.wildcard || s.source_count > 1);
    return std::vector<runtime::MountStub>{};
  };
}

/// The alias key of `COPY --from=STAGE` (layer_step.h reuse_by_alias): the instruction, the
/// working directory its destination is resolved in and the stage's last key. None for a COPY
/// from the context or an image.
std::optional<cache::StepKey> stage_alias(const StepContext& ctx, const CopyArgs& a) {
  if (a.from.empty()) return std::nullopt;
  SourceRef r = resolve_source(ctx.session, a.from, ctx.session.dockerfile.stages.size());
  if (r.kind != SourceRef::Kind::kStage) return std::nullopt;
  std::size_t i = r.stage;
  // A stage --no-cache-filter ran again keeps its keys but maybe not its files: the COPY is
  // then keyed by what it copies (the files' digests), not by the stage's last key.
  if (stage_cache_mode(ctx.session, i) != CacheMode::kUse) return std::nullopt;
  auto from = finished_stage(ctx.session, i);
  if (!from || from->cache_key.empty()) return std::nullopt;
  std::string sources;
  for (const auto& src : a.sources) sources += src + '\0';
  return cache::StepKey{ctx.stage.image.cache_key,
                        {{"instruction", options_text(a)},
                         {"sources", sources},
                         {"workdir", workdir_of(ctx.stage)},
                         {"from-stage", from->cache_key}}};
}

void run_copy(const StepContext& ctx, const CopyArgs& a, bool extract_archives);

/// `--chown` as numbers: names are resolved in the stage's own /etc/passwd and /etc/group (a
/// COPY --link writes onto an empty root, which has none).
std::string numeric_owner(BuildSession& session, const StageState& stage,
                          const std::string& chown) {
  if (chown.empty() || chown.find_first_not_of("0123456789:") == std::string::npos) return chown;
  ImageView view(session, stage.image);
  auto owner = resolve_owner(chown, view.root());
  return std::to_string(owner->uid) + ":" + std::to_string(owner->gid);
}

/// COPY --link (BuildKit's rebase, without --chmod as BuildKit): the COPY runs on an empty root
/// with the stage's config, so its layer and its key depend on neither the files nor the keys
/// of the layers below; the layer is then stacked on the stage's, which continues from a key
/// joining both. A changed base keeps the COPY cached and its blob reused. Parents the COPY
/// creates are in its layer (0755, root or the --chown owner) and so replace the metadata of
/// those directories below, as BuildKit's merged layers do; symlinks below are not followed.
void run_linked(const StepContext& ctx, const CopyArgs& a, bool extract_archives) {
  auto& session = ctx.session;
  StageState& stage = ctx.stage;
  StageState linked = stage;
  linked.image.layers.clear();
  linked.image.config.rootfs.diff_ids.clear();
  linked.image.config.history.clear();
  oci::ImageConfig& c = stage.image.config;
  linked.image.cache_key = cache::compute_key(
      {"",
       {{"link", "COPY --link onto an empty root"},
        {"workdir", workdir_of(stage)},
        {"platform", c.os + "/" + c.architecture + (c.variant ? "/" + *c.variant : "")},
        layer_format(*session.options)}});
  CopyArgs linked_args = a;
  linked_args.link = false;
  linked_args.chown = numeric_owner(session, stage, a.chown);
  StepContext linked_ctx{session, linked, ctx.instruction, ctx.label, ctx.root_read_later};
  run_copy(linked_ctx, linked_args, extract_archives);
  // What the COPY added, stacked on the stage.
  auto& layers = linked.image.layers;
  auto& diff_ids = linked.image.config.rootfs.diff_ids;
  auto& history = linked.image.config.history;
  stage.image.layers.insert(stage.image.layers.end(), layers.begin(), layers.end());
  c.rootfs.diff_ids.insert(c.rootfs.diff_ids.end(), diff_ids.begin(), diff_ids.end());
  c.history.insert(c.history.end(), history.begin(), history.end());
  stage.image.created = linked.image.created;
  std::string joined =
      cache::compute_key({stage.image.cache_key, {{"linked", linked.image.cache_key}}});
  {
    std::lock_guard lock(session.used_mutex);
    session.links[joined] = {stage.image.cache_key, linked.image.cache_key};
  }
  stage.image.cache_key = joined;
}

void run_copy(const StepContext& ctx, const CopyArgs& a, bool extract_archives) {
  auto& session = ctx.session;
  auto& stage = ctx.stage;
  if (a.link && a.chmod.empty()) return run_linked(ctx, a, extract_archives);
  std::optional<cache::StepKey> alias = stage_alias(ctx, a);
  if (alias && reuse_by_alias(session, stage, *alias,
                              {ctx.label, ctx.instruction.original, created_by(ctx.instruction)})) {
    return;
  }
  CopyOrigin origin;
  open_origin(session, a, origin);
  const CopyInput& input = origin.input;
  CopyShape shape = shape_copy(ctx, a, input, extract_archives);
  UrlSources urls(*session.store, a);
  cache::StepKey key{stage.image.cache_key, {{"instruction", options_text(a)}}};
  add_key_parts(key, shape.sources, a.urls.size());
  if (session.options->provenance != ProvenanceMode::kOff && input.hasher == session.hasher.get()) {
    // The main context's files this step read, for the provenance's context digest.
    std::lock_guard lock(session.mutex);
    for (const auto& part : key.parts) {
      if (part.name.starts_with("source:")) {
        session.inputs.context_files.insert(part.name + "=" + part.value);
      }
    }
  }
  urls.add_key_parts(key);
  StepDescription desc{ctx.label, shape.shown, created_by(ctx.instruction)};
  // Straight into the layer when the destination allows (copy/plan.h); `direct` lives until
  // the step is done.
  DirectCopy direct;
  run_layer_step(session, stage, key, desc, container_work(a, input, shape, urls),
                 direct_work(ctx, a, input, shape, direct), alias ? &*alias : nullptr);
  // Not for a build that leaves the cache alone (--verify-reproducible's second build).
  if (direct.made && direct.made->entries > 0 && session.options->cache != CacheMode::kBypass) {
    // The record (megabytes for 100,000 files) is written while the next step runs, and the
    // plan its entries' paths are in, the last record and the key's parts freed after it.
    struct Record {
      std::string key, chain;
      snapshot::LayerBlob made;
      std::optional<std::vector<snapshot::SpecEntry>> plan;
      std::optional<CopyRecall> last;
      std::vector<std::string> changed;
      cache::StepKey step_key;
    };
    auto record = std::make_shared<Record>(
        Record{shape.recall_key, snapshot::chain_ids(stage.image.config).back(),
               std::move(*direct.made), std::move(direct.plan), std::move(direct.recall),
               std::move(direct.changed), std::move(key)});
    session.background.run(
        [record, &store = *session.store, epoch = session.options->source_date_epoch] {
          record->last.reset();  // gone before the new record is made
          save_copy_recall(store, record->key, record->made, record->chain, epoch, record->changed);
        });
  }
}

/// ADD of a git repository: keyed by the commit its ref resolves to (not by the URL), checked
/// out only on a miss; the repository's files (of its subdirectory) land in the destination
/// as a directory's contents do.
void run_add_git(const StepContext& ctx, const parser::Add& add) {
  auto& session = ctx.session;
  auto& stage = ctx.stage;
  const std::string& text = add.sources[0];
  GitSource git = parse_git_source(text);
  std::string commit = resolve_git_commit(git);
  // BuildKit: ADD --checksum of a git source is the commit the ref must be at.
  if (!add.checksum.empty() && add.checksum != commit) {
    throw Error(describe("ADD --checksum", text,
                         "the ref is at commit " + commit + ", not " + add.checksum));
  }
  CopyArgs a{"ADD", add.sources, add.dest, "", add.chown, add.chmod, false, add.link, add.excludes};
  cache::StepKey key{stage.image.cache_key,
                     {{"instruction", options_text(a) + (add.keep_git_dir ? "\nkeep-git-dir" : "")},
                      {"git", git.remote + "\n" + commit + "\n" + git.subdir}}};
  StepDescription desc{ctx.label, ctx.instruction.original, created_by(ctx.instruction)};
  const Destination dest = resolve_destination(a.dest, workdir_of(stage));
  StepWork work = [&](const std::filesystem::path& merged) {
    TempDir checkout(session.store->tmp_dir(), "git-");
    const std::filesystem::path repo = checkout.path() / "repo";
    checkout_git(git, commit, repo, add.keep_git_dir);
    ContextHasher hasher("");
    CopyInput input;
    input.root = repo;
    input.hasher = &hasher;
    set_filters(a, input);
    auto sources = select_sources(input, {git.subdir.empty() ? "." : git.subdir});
    auto owner = resolve_owner(a.chown, merged);
    apply_sources(input, sources, merged, resolved_in(dest, merged), owner, Parents::kNo, true);
    return std::vector<runtime::MountStub>{};
  };
  run_layer_step(session, stage, key, desc, work);
}

}  // namespace

void step_copy(const StepContext& ctx, const parser::Copy& c) {
  CopyArgs a{"COPY",  c.sources, c.dest, c.from,     c.chown,
             c.chmod, c.parents, c.link, c.excludes, c.heredocs};
  run_copy(ctx, a, false);
}

void step_add(const StepContext& ctx, const parser::Add& add) {
  std::vector<std::string> local, urls;
  for (const auto& s : add.sources) {
    if (is_git_source(s)) {
      if (add.sources.size() != 1 || !add.heredocs.empty()) {
        throw Error(describe("add", s, "a git repository must be ADD's only source"));
      }
      return run_add_git(ctx, add);
    }
    (is_url_source(s) ? urls : local).push_back(s);
  }
  std::optional<oci::Digest> checksum;
  if (!add.checksum.empty()) {
    // BuildKit's rules: one source, and a remote one.
    if (add.sources.size() + add.heredocs.size() != 1) {
      throw Error("ADD --checksum: checksum can't be specified for multiple sources");
    }
    if (urls.empty()) {
      std::string shown = add.sources.empty() ? "<<" + add.heredocs[0].name : add.sources[0];
      throw Error(describe("ADD --checksum", shown, "checksum requires an HTTP(S) source"));
    }
    checksum = parse_add_checksum(add.checksum);
  }
  CopyArgs a{"ADD", local,    add.dest,     "",           add.chown, add.chmod,
             false, add.link, add.excludes, add.heredocs, urls,      checksum};
  run_copy(ctx, a, true);
}

}  // namespace mkimg::builder
