// COPY and ADD: sources from the context, a stage or an image, heredocs, local archives.
#include <fcntl.h>
#include <unistd.h>

#include "builder/copy_plan.h"
#include "builder/layer_step.h"
#include "builder/root_path.h"
#include "builder/stage_graph.h"
#include "builder/steps.h"
#include "builder/user_database.h"
#include "common/error.h"
#include "oci/store.h"
#include "snapshot/apply.h"

namespace mkimg::builder {

// Defined in step_from.cpp: an image (not a stage) named by COPY --from.
ImageState load_image_state(BuildSession& session, const std::string& name);

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
};

std::string workdir_of(const StageState& stage) {
  auto& cfg = stage.image.config.config;
  return cfg && cfg->working_dir ? *cfg->working_dir : "/";
}

/// The image a --from names: a finished stage or an image, kept alive with a read-only view.
struct FromSource {
  std::optional<ImageState> image;
  std::unique_ptr<ImageView> view;
};

FromSource open_from(BuildSession& session, const std::string& from) {
  FromSource fs;
  std::vector<StageNode> nodes;
  for (const auto& s : session.dockerfile.stages) nodes.push_back({s.name, {}});
  std::size_t i = find_stage(nodes, from, nodes.size());
  if (i < nodes.size()) {
    std::lock_guard lock(session.mutex);
    if (!session.finished[i]) throw Error(describe("copy --from", from, "stage is not built"));
    fs.image = *session.finished[i];
  } else {
    fs.image = load_image_state(session, from);
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

std::string file_key(const CopyFile& f) {
  return std::to_string(f.type) + " " + std::to_string(f.mode) + " " + std::to_string(f.uid) + ":" +
         std::to_string(f.gid) + " " + f.digest + " " + f.link_target + " " + f.hardlink_to;
}

std::vector<CopySource> heredoc_sources(const CopyArgs& a) {
  std::vector<CopySource> out;
  for (const auto& h : a.heredocs) {
    CopySource s;
    s.relative = h.name;
    CopyFile f;
    f.type = S_IFREG;
    f.mode = a.chmod.empty() ? 0644 : parse_chmod(a.chmod);
    f.content = h.content;
    s.files.push_back(f);
    out.push_back(std::move(s));
  }
  return out;
}

void add_key_parts(StepKey& key, const std::vector<CopySource>& sources) {
  for (const auto& s : sources) {
    for (const auto& f : s.files) {
      std::string name = "source:/" + s.relative + (f.sub.empty() ? "" : "/" + f.sub);
      key.parts.push_back({name, file_key(f) + (f.content ? " " + *f.content : "")});
    }
  }
}

std::optional<CopyOwner> resolve_owner(const std::string& chown,
                                       const std::filesystem::path& merged) {
  if (chown.empty()) return std::nullopt;
  UniqueFd root = open_root(merged);
  auto r = resolve_user(read_user_database(root.get()), chown, DefaultGroup::kSameAsUid);
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

void extract_archive(const std::filesystem::path& archive, const std::filesystem::path& merged,
                     const std::string& dest) {
  UniqueFd root = open_root(merged);
  UniqueFd dir = make_dirs_in_root(root.get(), dest);
  UniqueFd real(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!real) throw sys_error("open", dest);
  std::string pinned = "/proc/self/fd/" + std::to_string(real.get());
  snapshot::apply_layer(archive, pinned, snapshot::ApplyMode::flatten);
}

void run_copy(const StepContext& ctx, const CopyArgs& a, bool extract_archives) {
  auto& session = ctx.session;
  auto& stage = ctx.stage;
  Destination dest = resolve_destination(a.dest, workdir_of(stage));
  FromSource from;
  CopyInput input;
  input.hasher = session.hasher.get();
  ContextHasher image_hasher("");
  if (!a.from.empty()) {
    from = open_from(session, a.from);
    input.root = from.view->root();
    input.kind = CopyInput::Kind::kImage;
    input.hasher = &image_hasher;
  } else {
    input.root = session.options->context;
    input.ignore = &session.ignore;
  }
  std::string exclude_text;
  for (const auto& x : a.excludes) exclude_text += x + "\n";
  input.excludes = parser::parse_dockerignore(exclude_text);
  if (!a.chmod.empty()) input.chmod = parse_chmod(a.chmod);
  std::vector<CopySource> sources =
      a.heredocs.empty() ? select_sources(input, a.sources) : heredoc_sources(a);
  bool wildcard = false;
  for (const auto& s : a.sources) wildcard = wildcard || has_wildcard(s);
  check_multiple_sources(dest, a.sources.size() + a.heredocs.size(), a.keyword);
  StepKey key{stage.image.cache_key, {{"instruction", options_text(a)}}};
  add_key_parts(key, sources);
  std::string shown = ctx.instruction.original;
  StepDescription desc{ctx.label, shown, shown + " # buildkit"};
  run_layer_step(session, stage, key, desc, [&](const std::filesystem::path& merged) {
    auto owner = resolve_owner(a.chown, merged);
    std::vector<CopySource> plain;
    for (const auto& s : sources) {
      auto path = input.root / s.read_from;
      if (extract_archives && !s.is_dir && s.files[0].type == S_IFREG && !s.files[0].content &&
          is_archive(path)) {
        extract_archive(path, merged, dest.path);
      } else {
        plain.push_back(s);
      }
    }
    apply_sources(input, plain, merged, dest, owner, a.parents ? Parents::kYes : Parents::kNo,
                  wildcard || sources.size() > 1);
    return std::vector<MountStub>{};
  });
}

}  // namespace

void step_copy(const StepContext& ctx, const parser::Copy& c) {
  CopyArgs a{"COPY",  c.sources, c.dest, c.from,     c.chown,
             c.chmod, c.parents, c.link, c.excludes, c.heredocs};
  run_copy(ctx, a, false);
}

void step_add(const StepContext& ctx, const parser::Add& add) {
  for (const auto& s : add.sources) {
    if (s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@")) {
      throw Error(describe("add", s, "remote sources (URLs, git) are not supported yet"));
    }
  }
  CopyArgs a{"ADD",     add.sources, add.dest, "",           add.chown,
             add.chmod, false,       add.link, add.excludes, add.heredocs};
  run_copy(ctx, a, true);
}

}  // namespace mkimg::builder
