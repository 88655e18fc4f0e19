// `mkimg build`: the flags, checked and turned into builder::BuildOptions; the build with its
// progress view; then --verify-reproducible and --push.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

#include "builder/build.h"
#include "builder/build_plan.h"
#include "builder/context_hash.h"
#include "builder/copy/git_source.h"
#include "builder/copy/url_source.h"
#include "builder/provenance.h"
#include "cache/cache_location.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/error.h"
#include "common/huge_pages.h"
#include "common/in_root.h"
#include "oci/digest.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "oci/transport.h"
#include "registry/push.h"
#include "runtime/bundle_config.h"
#include "runtime/cancel.h"
#include "runtime/container_runtime.h"
#include "snapshot/image_diff.h"

namespace mkimg::cli {
namespace {

/// The raw command-line values of `mkimg build`.
struct BuildFlags {
  std::vector<std::string> tags, build_args, labels, outputs, insecure_registries, secrets, ssh,
      build_contexts;
  std::vector<std::string> cache_from, cache_to, allow, no_cache_filter, add_hosts, ulimits;
  std::uint64_t shm_size = 0;  ///< --shm-size in bytes; 0: Docker's default (64 MiB)
  std::string file, target, network = "host", runtime, iidfile, metadata_file, progress = "auto";
  std::string compression = "gzip", platform, context;
  std::vector<std::string> attest;        ///< --attest values
  std::optional<std::string> provenance;  ///< --provenance[=VALUE]; "" when given bare
  bool no_cache = false, reproducible = false, explain = false, push = false, dry_run = false;
  bool verify_reproducible = false;
  unsigned jobs = 0;
};

std::pair<std::string, std::string> split_kv(const std::string& kv, const char* flag) {
  auto eq = kv.find('=');
  if (eq == std::string::npos) {
    throw Error(describe(flag, kv, "expected KEY=VALUE"));
  }
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

/// `k=v,k=v,...` (the value of --output and --secret) as its KEY=VALUE pairs, in order.
std::vector<std::pair<std::string, std::string>> split_items(const std::string& text,
                                                             const char* flag) {
  std::vector<std::pair<std::string, std::string>> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    items.push_back(
        split_kv(text.substr(start, comma == std::string::npos ? comma : comma - start), flag));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

/// `a,b,c` (the value of --no-cache-filter) as its items, in order; "" items kept.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    auto comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

std::string build_arg_value(const std::string& kv) {
  // `--build-arg NAME` takes the value from the environment, like docker build.
  const char* v = std::getenv(kv.c_str());
  return v ? v : "";
}

/// One --output value. buildx's short forms first: a value that is no KEY=VALUE list (no
/// comma, not starting with `type=`) is the directory of type=local, and `-` is type=tar to
/// stdout. type=tar without dest= goes to stdout too, as with buildx.
builder::OutputSpec parse_output(const std::string& text) {
  using Type = builder::OutputSpec::Type;
  builder::OutputSpec out;
  if (text.empty()) {
    throw Error(
        describe("parse --output", text, "empty; give type=TYPE[,dest=PATH] or a directory"));
  }
  if (text.find(',') == std::string::npos && text.rfind("type=", 0) != 0) {
    out.type = text == "-" ? Type::kTar : Type::kLocal;
    out.dest = text;
    return out;
  }
  std::vector<std::pair<std::string, std::string>> items;
  try {
    items = split_items(text, "--output");
  } catch (const Error&) {
    throw Error(describe("parse --output", text, "expected KEY=VALUE items (type=TYPE,dest=PATH)"));
  }
  std::string type;
  for (const auto& [k, v] : items) {
    if (k == "type") type = v;
    if (k == "dest") out.dest = v;
  }
  if (type == "oci")
    out.type = Type::kOci;
  else if (type == "oci-archive")
    out.type = Type::kOciArchive;
  else if (type == "docker")
    out.type = Type::kDocker;
  else if (type == "registry")
    out.type = Type::kRegistry;
  else if (type == "local")
    out.type = Type::kLocal;
  else if (type == "tar")
    out.type = Type::kTar;
  else
    throw Error(describe("parse --output", text,
                         "type must be oci, oci-archive, docker, registry, local or tar"));
  if (out.type == Type::kRegistry) {
    if (!out.dest.empty()) {
      throw Error(
          describe("parse --output", text, "type=registry pushes to the -t names, no dest="));
    }
  } else if (out.type == Type::kTar && out.dest.empty()) {
    out.dest = "-";
  } else if (out.dest.empty()) {
    throw Error(describe("parse --output", text, "dest= is required"));
  }
  return out;
}

/// Whether an output writes to stdout (`dest=-`: tar, docker and oci-archive stream there).
bool writes_stdout(const builder::OutputSpec& out) {
  using Type = builder::OutputSpec::Type;
  return out.dest == "-" &&
         (out.type == Type::kTar || out.type == Type::kDocker || out.type == Type::kOciArchive);
}

/// Refuses, before anything runs, the outputs that could not be written (buildx's checks):
/// two writing to stdout, a stream to stdout when it is a terminal, a type=local dest that is
/// not a directory, a type=tar dest that is not a regular file.
void check_outputs(const std::vector<std::string>& flags,
                   const std::vector<builder::OutputSpec>& outputs) {
  using Type = builder::OutputSpec::Type;
  const std::string* to_stdout = nullptr;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& out = outputs[i];
    const std::string& flag = flags[i];
    if (writes_stdout(out)) {
      if (to_stdout != nullptr) {
        throw Error(describe("--output", flag,
                             "another --output (" + *to_stdout + ") writes to stdout already"));
      }
      to_stdout = &flag;
      if (out.type == Type::kTar && ::isatty(STDOUT_FILENO)) {
        throw Error(describe("--output", flag,
                             "refusing to write a tar to a terminal: redirect stdout or give "
                             "dest=FILE"));
      }
    } else if (out.type == Type::kLocal) {
      std::error_code ec;
      if (std::filesystem::exists(out.dest, ec) && !std::filesystem::is_directory(out.dest, ec)) {
        throw Error(
            describe("--output", flag, out.dest.string() + " exists and is not a directory"));
      }
    } else if (out.type == Type::kTar) {
      try {
        output_target(out.dest);  // a directory, a FIFO or a device is refused now
      } catch (const std::exception& e) {
        throw with_context("--output " + flag, e);
      }
    }
  }
}

/// `--secret id=ID[,src=PATH|,env=VAR][,type=file|env]`, Docker's (buildx's) syntax; with
/// neither src nor env the value comes from the environment variable named ID.
builder::SecretSource parse_secret(const std::string& text) {
  builder::SecretSource s;
  std::string type;
  for (const auto& [k, v] : split_items(text, "--secret")) {
    if (k == "id") {
      s.id = v;
    } else if (k == "src" || k == "source") {
      s.file = v;
    } else if (k == "env") {
      s.env = v;
    } else if (k == "type") {
      if (v != "file" && v != "env")
        throw Error(describe("--secret", text, "type must be file or env"));
      type = v;
    } else {
      throw Error(describe("--secret", text, "unknown key " + k));
    }
  }
  if (s.id.empty()) throw Error(describe("--secret", text, "id= is required"));
  if (type == "env" && s.env.empty()) s.env = s.file.empty() ? s.id : s.file.string();
  if (type == "env") s.file.clear();
  if (s.file.empty() && s.env.empty()) s.env = s.id;
  if (!s.file.empty()) {
    s.file = std::filesystem::absolute(s.file);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(s.file, ec)) {
      throw Error(describe("--secret", text, s.file.string() + " is not a readable file"));
    }
  }
  return s;
}

/// `--build-context NAME=VALUE`, buildx's named contexts: VALUE a local directory,
/// a git repository (`URL#REF:SUBDIR`, checked out when the build starts), `docker-image://REF`
/// (the store, else its registry) or `oci-layout://DIR[:TAG|@DIGEST]`.
builder::NamedContext parse_build_context(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    throw Error(describe("--build-context", text, "expected NAME=VALUE"));
  }
  builder::NamedContext c;
  c.name = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (!oci::Reference::try_parse(c.name)) {
    throw Error(describe("--build-context", text,
                         "invalid context name `" + c.name + "`: it must be a valid image name"));
  }
  if (value.starts_with("docker-image://")) {
    c.image = value.substr(15);
    if (!oci::Reference::try_parse(c.image)) {
      throw Error(describe("--build-context", text, "`" + c.image + "` is not an image reference"));
    }
    return c;
  }
  if (value.starts_with("oci-layout://")) {
    std::string rest = value.substr(13);
    std::string ref;
    if (auto at = rest.rfind('@'); at != std::string::npos) {
      ref = rest.substr(at + 1);
      rest.resize(at);
      if (!oci::Digest::try_parse(ref)) {
        throw Error(describe("--build-context", text, "`" + ref + "` is not a digest"));
      }
    } else if (auto colon = rest.rfind(':');
               colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
      ref = rest.substr(colon + 1);
      rest.resize(colon);
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(std::filesystem::path(rest) / "oci-layout", ec)) {
      throw Error(describe("--build-context", text, rest + " is not an OCI image layout"));
    }
    std::filesystem::path dir = std::filesystem::absolute(rest).lexically_normal();
    if (dir.string().find(':') != std::string::npos) {
      throw Error(describe("--build-context", text, "the layout's path may not hold a colon"));
    }
    c.image = "oci:" + dir.string() + (ref.empty() ? "" : ":" + ref);
    return c;
  }
  if (builder::is_git_source(value)) {
    builder::parse_git_source(value);  // throws naming it
    c.git = value;
    return c;
  }
  if (value.find("://") != std::string::npos || value.starts_with("target:")) {
    throw Error(describe("--build-context", text,
                         "only a directory, a git repository, docker-image://REF and "
                         "oci-layout://DIR are supported (not URL or bake target contexts)"));
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(value, ec)) {
    throw Error(describe("--build-context", text, value + " is not a directory"));
  }
  c.dir = std::filesystem::canonical(value, ec);
  if (ec) throw Error(describe("--build-context", text, ec.message()));
  return c;
}

/// `--ssh ID[=SOCKET]`: ID "default" takes $SSH_AUTH_SOCK when no socket is given.
builder::SshSource parse_ssh(const std::string& text) {
  builder::SshSource s;
  auto eq = text.find('=');
  s.id = text.substr(0, eq);
  if (s.id.empty()) throw Error(describe("--ssh", text, "expected ID[=SOCKET]"));
  if (eq != std::string::npos) {
    s.socket = text.substr(eq + 1);
  } else if (const char* sock = std::getenv("SSH_AUTH_SOCK"); sock && *sock) {
    s.socket = sock;
  } else {
    throw Error(describe("--ssh", text, "no socket given and SSH_AUTH_SOCK is not set"));
  }
  s.socket = std::filesystem::absolute(s.socket);
  std::error_code ec;
  auto st = std::filesystem::status(s.socket, ec);
  if (st.type() != std::filesystem::file_type::socket) {
    throw Error(describe("--ssh", text,
                         s.socket.string() +
                             " is not an ssh-agent socket (key files are not supported: load "
                             "them into an agent with ssh-add)"));
  }
  return s;
}

std::string read_dockerfile(const BuildFlags& f, const std::filesystem::path& context) {
  if (f.file == "-") return read_dockerfile_text("-");
  std::filesystem::path p = f.file.empty() ? context / "Dockerfile" : std::filesystem::path(f.file);
  std::error_code ec;
  if (std::filesystem::is_symlink(p, ec)) {
    auto target = std::filesystem::weakly_canonical(p, ec);
    auto ctx = std::filesystem::weakly_canonical(context, ec);
    auto rel = target.lexically_relative(ctx);
    if (rel.empty() || *rel.begin() == "..") {
      throw Error(describe("read", p.string(), "the Dockerfile is a symlink out of the context"));
    }
  }
  return read_dockerfile_text(p.string());
}

/// The first of `candidates` that is a .dockerignore: its text and its path, or nothing. One
/// over 16 MiB is refused before it is read, and one that is a symlink.
std::pair<std::string, std::string> read_dockerignore(
    const std::vector<std::filesystem::path>& candidates) {
  constexpr std::uintmax_t kMaxDockerignoreBytes = 16u << 20;
  std::error_code ec;
  for (const auto& p : candidates) {
    if (std::filesystem::is_symlink(p, ec)) {
      throw Error(describe("read", p.string(), "a .dockerignore that is a symlink is refused"));
    }
    if (!std::filesystem::is_regular_file(p, ec)) continue;
    if (auto size = std::filesystem::file_size(p, ec); !ec && size > kMaxDockerignoreBytes) {
      throw Error(describe("read", p.string(), "larger than 16 MiB: not a .dockerignore"));
    }
    return {read_host_file(p), p.string()};
  }
  return {};
}

/// A `--build-context NAME=VALUE` as the build takes it: parsed, and a directory's own
/// .dockerignore read.
builder::NamedContext named_context(const std::string& text) {
  builder::NamedContext named = parse_build_context(text);
  if (!named.dir.empty()) {
    std::tie(named.dockerignore_text, named.dockerignore_name) =
        read_dockerignore({named.dir / ".dockerignore"});
  }
  return named;
}

/// One attestation flag's items (buildx's `--provenance` value, or `--attest type=provenance`'s
/// other items): `true`/`false`/`1`/`0`, `mode=min|max`, `disabled=true|false`, `version=v1`.
builder::ProvenanceMode provenance_items(const std::string& value, const std::string& flag) {
  builder::ProvenanceMode mode = builder::ProvenanceMode::kMin;
  bool off = false;
  for (const auto& item : value.empty() ? std::vector<std::string>{} : split_list(value)) {
    if (item == "true" || item == "1") {
      off = false;
    } else if (item == "false" || item == "0" || item == "disabled=true") {
      off = true;
    } else if (item == "disabled=false") {
      off = false;
    } else if (item == "mode=min") {
      mode = builder::ProvenanceMode::kMin;
    } else if (item == "mode=max") {
      mode = builder::ProvenanceMode::kMax;
    } else if (item == "version=v1") {
    } else {
      throw Error(describe(
          flag, value,
          "unknown item `" + item + "` (expected true, false, mode=min, mode=max or version=v1)"));
    }
  }
  return off ? builder::ProvenanceMode::kOff : mode;
}

/// `--provenance[=VALUE]` and `--attest type=provenance[,...]` (the last one given wins);
/// off without either. Other attestation types are refused.
builder::ProvenanceMode provenance_mode(const BuildFlags& f) {
  builder::ProvenanceMode mode = builder::ProvenanceMode::kOff;
  for (const auto& a : f.attest) {
    std::string rest;
    std::string type;
    for (const auto& item : split_list(a)) {
      if (item.starts_with("type=")) {
        type = item.substr(5);
      } else {
        rest += (rest.empty() ? "" : ",") + item;
      }
    }
    if (type != "provenance") {
      throw Error(describe("--attest", a,
                           type.empty() ? "needs type=provenance"
                                        : "only type=provenance is supported, not " + type));
    }
    mode = provenance_items(rest, "--attest");
  }
  if (f.provenance) mode = provenance_items(*f.provenance, "--provenance");
  return mode;
}

builder::BuildOptions to_options(const BuildFlags& f) {
  builder::BuildOptions o;
  o.context = std::filesystem::absolute(f.context);
  if (!std::filesystem::is_directory(o.context)) {
    throw Error(describe("build", f.context, "the context is not a directory"));
  }
  o.dockerfile_text = read_dockerfile(f, o.context);
  o.dockerfile_name = f.file.empty() ? "Dockerfile" : f.file == "-" ? "Dockerfile" : f.file;
  // `<Dockerfile>.dockerignore`, else `CONTEXT/.dockerignore`.
  std::vector<std::filesystem::path> ignores;
  if (!f.file.empty() && f.file != "-") ignores.push_back(f.file + ".dockerignore");
  ignores.push_back(o.context / ".dockerignore");
  std::tie(o.dockerignore_text, o.dockerignore_name) = read_dockerignore(ignores);
  if (o.dockerignore_name.empty()) o.dockerignore_name = ".dockerignore";
  o.tags = f.tags;
  for (const auto& kv : f.build_args) {
    if (kv.find('=') == std::string::npos) {
      o.build_args[kv] = build_arg_value(kv);
    } else {
      o.build_args.insert(split_kv(kv, "--build-arg"));
    }
  }
  for (const auto& kv : f.labels) o.labels.insert(split_kv(kv, "--label"));
  for (const auto& out : f.outputs) o.outputs.push_back(parse_output(out));
  o.target = f.target;
  o.cache = f.no_cache ? builder::CacheMode::kIgnore : builder::CacheMode::kUse;
  for (const auto& list : f.no_cache_filter) {
    for (const auto& name : split_list(list)) {
      if (name.empty()) throw Error(describe("--no-cache-filter", list, "a stage name is empty"));
      o.no_cache_stages.push_back(name);
    }
  }
  o.explain = f.explain ? builder::ExplainMode::kExplain : builder::ExplainMode::kQuiet;
  o.network = f.network == "none" ? NetworkMode::kNone : NetworkMode::kHost;
  o.allow_insecure =
      std::find(f.allow.begin(), f.allow.end(), "security.insecure") != f.allow.end();
  for (const auto& h : f.add_hosts) o.extra_hosts.push_back(runtime::parse_add_host(h));
  for (const auto& u : f.ulimits) {
    runtime::Rlimit limit = runtime::parse_ulimit(u);
    if (auto why = runtime::cannot_grant(limit)) throw Error(describe("--ulimit", u, *why));
    // One per type, the last one given wins (docker's UlimitOpt is a map by name).
    std::erase_if(o.ulimits, [&](const runtime::Rlimit& l) { return l.type == limit.type; });
    o.ulimits.push_back(limit);
  }
  if (f.shm_size > 0) o.shm_size = f.shm_size;
  o.runtime = f.runtime;
  o.iidfile = f.iidfile;
  o.compression = f.compression == "zstd" ? oci::media_type::Compression::kZstd
                                          : oci::media_type::Compression::kGzip;
  // --platform a,b: each platform once, in order (buildx's list).
  for (const auto& p : f.platform.empty() ? std::vector<std::string>{} : split_list(f.platform)) {
    std::string normal = oci::to_string(oci::parse_platform(p));  // throws naming the value
    if (std::find(o.platforms.begin(), o.platforms.end(), normal) != o.platforms.end()) {
      throw Error(describe("--platform", f.platform, normal + " is given twice"));
    }
    o.platforms.push_back(normal);
  }
  if (o.platforms.size() == 1) o.platform = o.platforms.front();
  o.provenance = provenance_mode(f);
  for (const auto& s : f.secrets) o.secrets.push_back(parse_secret(s));
  for (const auto& c : f.build_contexts) {
    o.named_contexts.push_back(named_context(c));
    for (std::size_t i = 0; i + 1 < o.named_contexts.size(); ++i) {
      if (o.named_contexts[i].name == o.named_contexts.back().name) {
        throw Error(describe("--build-context", c, "a second context of that name"));
      }
    }
  }
  for (const auto& s : f.ssh) o.ssh.push_back(parse_ssh(s));
  o.jobs = f.jobs;
  for (const auto& c : f.cache_from) o.cache_from.push_back(cache::parse_cache_from(c));
  for (const auto& c : f.cache_to) o.cache_to.push_back(cache::parse_cache_to(c));
  o.registry.insecure_registries = f.insecure_registries;
  if (auto sde = source_date_epoch()) {
    o.source_date_epoch = sde;
  } else if (f.reproducible || f.verify_reproducible) {
    o.source_date_epoch = 0;
  }
  return o;
}

ProgressMode progress_mode(const std::string& flag) {
  return flag == "plain"     ? ProgressMode::kPlain
         : flag == "tty"     ? ProgressMode::kTty
         : flag == "quiet"   ? ProgressMode::kQuiet
         : flag == "rawjson" ? ProgressMode::kRawJson
                             : ProgressMode::kAuto;
}

/// One build with its progress view on stderr. The view ends with the build: the tty view
/// leaves its summary (a failed one while the build's error unwinds) before anything else prints.
builder::BuildResult build_with_progress(oci::Store& store, const builder::BuildOptions& options,
                                         ProgressMode mode) {
  Progress progress(mode);
  try {
    return builder::build(store, options, progress);
  } catch (const std::exception& e) {
    progress.fail(e.what());
    throw;
  }
}

/// `--push`: sends each -t tag, as just built, to the registry its name points at; layers that
/// came from a registry cache are mounted from there when it is the same registry.
void push_tags(oci::Store& store, const BuildFlags& f, const builder::BuildResult& result) {
  registry::PushOptions options;
  options.registry.insecure_registries = f.insecure_registries;
  options.origins = result.layer_origins;
  // rawjson's stderr is JSON lines only: the push says nothing there.
  if (f.progress != "quiet" && f.progress != "rawjson") {
    options.progress = [](std::string_view line) { std::cerr << line << "\n"; };
  }
  for (const auto& tag : f.tags) {
    oci::Reference ref = oci::Reference::parse(tag);
    registry::push_image(store, ref.str(), ref, options);
  }
}

/// --verify-reproducible: after the first build (tagged as usual), builds the same thing again
/// with every step re-run and the step cache neither read nor written, untagged, and compares
/// the manifest digests. Returns true when they match; otherwise prints what differs (config
/// fields, then the files of each differing layer) and drops the second image's index entry
/// (its blobs go at the next `mkimg prune`). The first build's tags stay either way.
bool verify_reproducible(oci::Store& store, const builder::BuildOptions& options,
                         const builder::BuildResult& first, ProgressMode mode) {
  builder::BuildOptions again = options;
  again.cache = builder::CacheMode::kBypass;
  again.tags.clear();
  again.outputs.clear();
  again.iidfile.clear();
  std::cerr << "verify-reproducible: building again with no cache\n";
  builder::BuildResult second = build_with_progress(store, again, mode);
  if (second.manifest.digest == first.manifest.digest) {
    std::cerr << "reproducible: " << first.manifest.digest.str() << "\n";
    return true;
  }
  auto before = snapshot::open_diff_image(store, first.manifest.digest.str());
  auto after = snapshot::open_diff_image(store, second.manifest.digest.str());
  before->name = "first build";
  after->name = "second build";
  snapshot::ImageDiff diff = snapshot::diff_images(*before, *after);
  store.remove_manifest(second.manifest.digest);
  std::cerr << "not reproducible: " << first.manifest.digest.str() << " then "
            << second.manifest.digest.str() << "\n"
            << snapshot::format_text(diff);
  return false;
}

/// --metadata-file: refused before the build when its directory does not exist (buildx: "the
/// directory of the specified file must already exist").
void check_metadata_file(const std::string& path) {
  if (path.empty()) return;
  std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(
        describe("--metadata-file", path, "its directory " + dir.string() + " does not exist"));
  }
  output_target(path);  // a FIFO, a device or a directory is refused now, not after the build
}

/// The JSON `docker buildx build --metadata-file` writes, with the keys a next CI step reads:
/// the manifest digest and descriptor, the config digest and the -t names (normalised,
/// comma-separated). buildx's own keys (buildx.build.ref, provenance) are left out.
std::string build_metadata(const builder::BuildResult& result, const std::vector<std::string>& tags,
                           bool image_made) {
  // Like buildx's local and tar exporters, a build that keeps and pushes no image names none.
  if (!image_made) return "{}\n";
  nlohmann::json j;
  j["containerimage.digest"] = result.manifest.digest.str();
  j["containerimage.config.digest"] = result.image_id;
  j["containerimage.descriptor"] = {{"mediaType", result.manifest.media_type},
                                    {"digest", result.manifest.digest.str()},
                                    {"size", result.manifest.size}};
  std::string names;
  for (const auto& t : tags) names += (names.empty() ? "" : ",") + oci::Reference::parse(t).str();
  if (!names.empty()) j["image.name"] = names;
  return j.dump(2) + "\n";
}

/// A CLI11 check of `flag`'s value by `parse`, whose error ("FLAG `VALUE`: why") makes a usage
/// error; CLI11 puts the flag's name in front already.
template <typename Parse>
std::function<std::string(const std::string&)> parsed_by(std::string flag, Parse parse) {
  return [flag = std::move(flag) + " ", parse](const std::string& v) {
    try {
      parse(v);
    } catch (const Error& e) {
      std::string message = e.what();
      if (message.rfind(flag, 0) == 0) message.erase(0, flag.size());
      return message;
    }
    return std::string();
  };
}

/// --shm-size's SIZE into bytes: CLI11's size units (as --keep-storage and --max-layer-size),
/// with an error that names the value.
CLI::Validator shm_size_bytes() {
  return CLI::Validator(
      [size = CLI::AsSizeValue(false)](std::string& v) {
        const std::string given = v;
        std::string why;
        try {
          if (given.find('-') == std::string::npos) why = size(v);
        } catch (const CLI::ValidationError&) {
          why = "invalid";
        }
        if (given.find('-') == std::string::npos && why.empty()) return std::string();
        return "`" + given +
               "` is not a size (bytes, or a whole number with k, m, g or t: 64m, 1g)";
      },
      "SIZE");
}

/// docker build's options of the RUN containers: --add-host, --ulimit, --shm-size.
void add_container_flags(CLI::App* cmd, BuildFlags& f) {
  cmd->add_option("--add-host", f.add_hosts,
                  "A line of every RUN container's /etc/hosts: NAME:IP or NAME=IP (IPv4 or IPv6); "
                  "repeatable")
      ->check(parsed_by("--add-host", runtime::parse_add_host));
  cmd->add_option("--ulimit", f.ulimits,
                  "A resource limit of every RUN container: NAME=SOFT[:HARD] (nofile, nproc, "
                  "core, memlock, stack, ...; -1 = unlimited); repeatable")
      ->check(parsed_by("--ulimit", runtime::parse_ulimit));
  cmd->add_option("--shm-size", f.shm_size,
                  "Size of every RUN container's /dev/shm (bytes, or with k, m, g: powers of "
                  "1024, as 64m or 1g; default 64m)")
      ->transform(shm_size_bytes());
}

/// The flags that reach registries and shared caches.
void add_sharing_flags(CLI::App* cmd, BuildFlags& f) {
  cmd->add_option("--cache-from", f.cache_from,
                  "Where to look for cached steps: type=registry,ref=REPO | type=local,src=DIR | "
                  "REF (a cache repository or an image with inline cache); repeatable, in order");
  cmd->add_option("--cache-to", f.cache_to,
                  "Where to write the build's cache: type=registry,ref=REPO[,mode=min|max] | "
                  "type=local,dest=DIR[,mode=min|max] | type=inline; repeatable");
  cmd->add_flag("--push", f.push, "Push every -t tag to its registry after the build");
  cmd->add_option(
      "--insecure-registry", f.insecure_registries,
      "Registry (HOST[:PORT]) reached over plain HTTP (--push, --cache-from/-to, FROM); "
      "repeatable");
}

/// `mkimg build` once its flags are parsed.
void run_build(BuildFlags& f, GlobalOptions& global) {
  // glibc's allocator on huge pages (common/huge_pages.h) saves more than the second start
  // costs from a few thousand context files on: started again when the context's memo says its
  // last build read that many (512 KiB, about 3,500 files). Before anything is read (a
  // Dockerfile from stdin or a FIFO).
  constexpr std::uintmax_t kLargeMemo = 512 << 10;
  auto memos = builder::ContextHasher::memo_dir(oci::Store::cache_dir_at(store_root(global)));
  if (builder::ContextHasher::memo_size(memos, f.context) >= kLargeMemo) {
    start_with_huge_pages(global.argv);
  }
  runtime::install_interrupt_handlers();
  if (f.push && f.tags.empty()) {
    throw Error(describe("build", "--push", "needs at least one -t tag to push"));
  }
  builder::BuildOptions options = to_options(f);
  check_metadata_file(f.metadata_file);
  for (const auto& out : options.outputs) {
    if (out.type == builder::OutputSpec::Type::kRegistry && f.tags.empty()) {
      throw Error(
          describe("build", "--output type=registry", "needs at least one -t name to push"));
    }
  }
  check_outputs(f.outputs, options.outputs);
  if (options.platforms.size() > 1) {
    for (std::size_t i = 0; i < options.outputs.size(); ++i) {
      using Type = builder::OutputSpec::Type;
      if (options.outputs[i].type == Type::kDocker) {
        throw Error(describe("--output", f.outputs[i],
                             "a docker archive holds one platform: build with one --platform "
                             "(e.g. --platform " +
                                 options.platforms.front() +
                                 "), or use type=oci or type=oci-archive for all of them"));
      }
      if (options.outputs[i].type == Type::kTar) {
        throw Error(describe("--output", f.outputs[i],
                             "type=tar writes one platform's files: build with one --platform, "
                             "or use type=local (a directory per platform)"));
      }
    }
  }
  // buildx's --push adds an image output that pushes. Beside local and tar outputs only, no
  // image is kept in the store to push afterwards: the build pushes it (type=registry).
  bool push_in_build =
      f.push && !options.outputs.empty() &&
      std::all_of(options.outputs.begin(), options.outputs.end(), [](const auto& o) {
        return o.type == builder::OutputSpec::Type::kLocal ||
               o.type == builder::OutputSpec::Type::kTar;
      });
  if (push_in_build) options.outputs.push_back({builder::OutputSpec::Type::kRegistry, {}});
  // With an output streaming to stdout, the image id is not printed there.
  bool stdout_free = std::none_of(options.outputs.begin(), options.outputs.end(), writes_stdout);
  if (f.dry_run) {
    std::cout << builder::dry_run(options) << std::flush;
    return;
  }
  auto store = open_store(global);
  ProgressMode mode = progress_mode(f.progress);
  builder::BuildResult result = build_with_progress(store, options, mode);
  if (f.verify_reproducible && !verify_reproducible(store, options, result, mode)) {
    if (stdout_free) std::cout << result.image_id << "\n";
    global.exit_code = 1;
    return;
  }
  if (f.push && !push_in_build) push_tags(store, f, result);
  if (!f.metadata_file.empty()) {
    const bool image_made =
        options.outputs.empty() ||
        std::any_of(options.outputs.begin(), options.outputs.end(), [](const auto& o) {
          return o.type != builder::OutputSpec::Type::kLocal &&
                 o.type != builder::OutputSpec::Type::kTar;
        });
    write_file_atomic(output_target(f.metadata_file), build_metadata(result, f.tags, image_made));
  }
  if (stdout_free) std::cout << result.image_id << "\n";
}

void add_build(CLI::App& app, GlobalOptions& global) {
  auto flags = std::make_shared<BuildFlags>();
  auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile and a context");
  cmd->add_option("-t,--tag", flags->tags, "Name and tag the image (NAME:TAG)");
  cmd->add_option("-f,--file", flags->file,
                  "The Dockerfile (default CONTEXT/Dockerfile; - = stdin)");
  cmd->add_option("--build-arg", flags->build_args, "A build argument KEY=VALUE");
  cmd->add_option("--target", flags->target, "The stage to build");
  cmd->add_flag("--no-cache", flags->no_cache, "Do not reuse cached steps");
  cmd->add_option("--no-cache-filter", flags->no_cache_filter,
                  "Do not reuse cached steps of these stages: STAGE[,STAGE...]; repeatable");
  cmd->add_flag("--explain", flags->explain, "Say which part of a step's cache key changed");
  cmd->add_option("--label", flags->labels, "A label KEY=VALUE on the image");
  cmd->add_option("--network", flags->network, "host (default) or none")
      ->check(CLI::IsMember({"host", "none", "default"}));
  // buildx's entitlements; network.host is granted anyway (RUN runs on the host network).
  cmd->add_option("--allow", flags->allow,
                  "Grant an entitlement: security.insecure (RUN --security=insecure runs "
                  "privileged) or network.host")
      ->check(CLI::IsMember({"security.insecure", "network.host"}));
  cmd->add_option("--runtime", flags->runtime, "runc, crun or a path (default: auto)");
  cmd->add_option("--output,-o", flags->outputs,
                  "type=oci,dest=DIR | type=oci-archive,dest=FILE | type=docker,dest=FILE | "
                  "type=registry (push to the -t names, keep nothing in the store) | "
                  "type=local,dest=DIR (the root file system as files; DIR alone says the same) "
                  "| type=tar[,dest=FILE|-] (the same as one tar; - alone: to stdout); local and "
                  "tar keep no image in the store");
  cmd->add_option("--iidfile", flags->iidfile, "Write the image id to this file");
  cmd->add_option("--provenance", flags->provenance,
                  "Attach a SLSA provenance attestation: bare or true (mode=min), mode=max, "
                  "false")
      ->expected(0, 1);
  cmd->add_option("--attest", flags->attest,
                  "An attestation to attach: type=provenance[,mode=min|max] (repeatable)");
  cmd->add_option("--metadata-file", flags->metadata_file,
                  "Write the build's result as JSON to this file (buildx's containerimage.digest, "
                  "containerimage.config.digest, containerimage.descriptor, image.name)");
  cmd->add_option("--progress", flags->progress,
                  "auto, plain, tty, rawjson (one BuildKit SolveStatus JSON per line) or quiet")
      ->check(CLI::IsMember({"auto", "plain", "tty", "rawjson", "quiet"}));
  cmd->add_option("--compression", flags->compression, "gzip or zstd")
      ->check(CLI::IsMember({"gzip", "zstd"}));
  cmd->add_option("--platform", flags->platform,
                  "The target platform (os/arch[/variant]); several, comma-separated, make an "
                  "image index");
  cmd->add_option("--build-context", flags->build_contexts,
                  "A named context NAME=VALUE for FROM NAME, COPY --from=NAME, RUN --mount "
                  "from=NAME: a directory, docker-image://REF or oci-layout://DIR[:TAG|@DIGEST]");
  cmd->add_option("--secret", flags->secrets,
                  "A secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR");
  cmd->add_option("--ssh", flags->ssh,
                  "An ssh-agent socket for RUN --mount=type=ssh: ID[=SOCKET] (default: "
                  "$SSH_AUTH_SOCK)");
  cmd->add_flag("--reproducible", flags->reproducible,
                "Clamp times to SOURCE_DATE_EPOCH (0 when unset)");
  cmd->add_flag("--verify-reproducible", flags->verify_reproducible,
                "Build twice (the second time with no cache) and fail unless the manifest "
                "digests match; implies --reproducible");
  cmd->add_option("--jobs,-j", flags->jobs,
                  "Stages built at once (default: the number of cores, at most 4; 1 = one by one)")
      ->check(CLI::Range(1u, 64u));
  cmd->add_flag("--dry-run", flags->dry_run,
                "Print the plan (stages in order, parallel groups, one line per step); run, pull "
                "and write nothing");
  cmd->add_option("context", flags->context, "The build context directory")->required();
  add_container_flags(cmd, *flags);
  add_sharing_flags(cmd, *flags);
  cmd->callback([flags, &global] { run_build(*flags, global); });
}

}  // namespace

/// The raw command-line values of `mkimg verify`.
struct VerifyFlags {
  std::string image, context = ".", file, platform, progress = "auto";
  std::vector<std::string> build_args, build_contexts;
};

/// A base named in a provenance, pinned to the digest it recorded: `name@sha256:...` for a
/// reference (the tag dropped), the name itself for a transport (oci:DIR, ...).
std::string pinned(const std::string& name, const std::string& digest) {
  auto ref = oci::Reference::try_parse(name);
  if (!ref) return name;
  return ref->domain + "/" + ref->path + "@" + digest;
}

/// Rebuilds one platform's image from what its provenance records and compares. True when the
/// manifest digest is the recorded one.
bool verify_platform(oci::Store& store, const VerifyFlags& f, const builder::RecordedBuild& r,
                     ProgressMode mode) {
  namespace fs = std::filesystem;
  builder::BuildOptions o;
  o.context = fs::absolute(f.context);
  if (!fs::is_directory(o.context)) {
    throw Error(describe("verify", f.context, "the context is not a directory"));
  }
  // The Dockerfile: -f, else the recorded name in the context, else the recorded text (max).
  fs::path file = f.file.empty() ? o.context / r.dockerfile_name : fs::path(f.file);
  std::error_code ec;
  if (!f.file.empty() || fs::exists(file, ec) || r.dockerfile_text.empty()) {
    o.dockerfile_text = read_dockerfile_text(file.string());
    o.dockerfile_name = file.filename().string();
  } else {
    o.dockerfile_text = r.dockerfile_text;
    o.dockerfile_name = r.dockerfile_name;
    std::cerr << "verify: " << file.string() << " is missing: using the Dockerfile the provenance "
              << "records\n";
  }
  std::string digest = oci::sha256_of(o.dockerfile_text).str();
  if (digest != r.dockerfile_digest) {
    std::cerr << "not verified " << r.platform << ": the Dockerfile (" << file.string() << ", "
              << digest << ") is not the one the provenance records (" << r.dockerfile_digest
              << ")\n";
    return false;
  }
  std::tie(o.dockerignore_text, o.dockerignore_name) = read_dockerignore(
      {o.context / (o.dockerfile_name + ".dockerignore"), o.context / ".dockerignore"});
  o.build_args = r.build_args;
  for (const auto& kv : f.build_args) {
    auto [k, v] = split_kv(kv, "--build-arg");
    o.build_args[k] = v;
  }
  if (!r.request_complete && f.build_args.empty()) {
    std::cerr << "verify: the provenance is mode=min: it records no build args or labels (give "
                 "them with --build-arg, or attest with mode=max)\n";
  }
  o.labels = r.labels;
  o.target = r.target;
  o.platform = r.platform;
  o.source_date_epoch = r.source_date_epoch;
  o.cache = builder::CacheMode::kBypass;         // every step runs again; the cache is left alone
  o.provenance = builder::ProvenanceMode::kMin;  // its own record gives the context digest
  o.registry = registry_flags();
  // Each base by the digest it had; a --build-context image too, under its context name.
  std::map<std::string, std::string> pins;
  for (const auto& [name, used] : r.images) pins[name] = pinned(name, used);
  for (const auto& [name, value] : r.contexts) {
    std::string image = value.starts_with("docker-image://") ? value.substr(15) : value;
    if (auto it = pins.find(image); it != pins.end()) {
      pins[name] = it->second;
    } else if (!value.starts_with("local:")) {
      builder::NamedContext c;  // a git context: its URL again
      c.name = name;
      c.git = value;
      o.named_contexts.push_back(c);
    }
  }
  for (const auto& text : f.build_contexts) {
    o.named_contexts.push_back(named_context(text));
    pins.erase(o.named_contexts.back().name);
  }
  for (const auto& [name, value] : r.contexts) {
    bool given = std::any_of(o.named_contexts.begin(), o.named_contexts.end(),
                             [&](const auto& c) { return c.name == name; });
    if (value.starts_with("local:") && !given) {
      throw Error(describe("verify", name,
                           "the build read the directory --build-context " + name +
                               ": give it again with --build-context " + name + "=DIR"));
    }
  }
  for (const auto& [name, image] : pins) {
    builder::NamedContext c;
    c.name = name;
    c.image = image;
    o.named_contexts.push_back(c);
  }
  std::cerr << "verify " << r.platform << ": building again from the recorded inputs"
            << (r.source_date_epoch
                    ? " (SOURCE_DATE_EPOCH=" + std::to_string(*r.source_date_epoch) + ")"
                    : "")
            << "\n";
  builder::BuildResult again = build_with_progress(store, o, mode);
  auto rebuilt = builder::read_provenance(store, again.manifest).front();
  // The rebuilt index (untagged) goes at the next prune; its entry goes now.
  struct Drop {
    oci::Store& store;
    oci::Digest digest;
    ~Drop() { store.remove_manifest(digest); }
  } drop{store, again.manifest.digest};
  if (rebuilt.subject == r.subject) {
    std::cerr << "verified " << r.platform << ": " << r.subject
              << " is what the recorded inputs build\n";
    return true;
  }
  std::cerr << "not verified " << r.platform << ": the recorded inputs build " << rebuilt.subject
            << ", not " << r.subject << "\n";
  if (rebuilt.context_digest != r.context_digest) {
    std::cerr << "  the context's files differ from the recorded ones (" << rebuilt.context_digest
              << ", recorded " << r.context_digest << ")\n";
  }
  auto before = snapshot::open_diff_image(store, r.subject);
  auto after = snapshot::open_diff_image(store, rebuilt.subject);
  before->name = "recorded image";
  after->name = "rebuilt image";
  std::cerr << snapshot::format_text(snapshot::diff_images(*before, *after));
  return false;
}

/// `mkimg verify IMAGE`: every platform's image (or --platform's) rebuilt from its provenance.
void run_verify(const VerifyFlags& f, GlobalOptions& global) {
  runtime::install_interrupt_handlers();
  auto store = open_store(global);
  auto top = store.resolve(f.image);
  if (!top) {
    // Not in the store: pulled (a registry reference, oci:DIR, ...) with every platform and
    // its attestation, as `mkimg pull --all-platforms` does.
    auto source = oci::open_source(f.image, store);
    top = oci::pull(store, *source, {.all_platforms = true});
    for (const auto& name : source->names()) store.tag(name, *top);
  }
  std::vector<builder::RecordedBuild> records;
  try {
    records = builder::read_provenance(store, *top);
  } catch (const std::exception& e) {
    throw with_context("verify `" + f.image + "`", e);
  }
  if (!f.platform.empty()) {
    std::string want = oci::to_string(oci::parse_platform(f.platform));
    std::erase_if(records, [&](const auto& r) { return r.platform != want; });
    if (records.empty()) {
      throw Error(describe("verify", f.image, "no image for --platform " + want));
    }
  }
  bool all = true;
  for (const auto& r : records)
    all = verify_platform(store, f, r, progress_mode(f.progress)) && all;
  if (!all) global.exit_code = 1;
}

void add_verify(CLI::App& app, GlobalOptions& global) {
  auto flags = std::make_shared<VerifyFlags>();
  auto* cmd = app.add_subcommand(
      "verify", "Rebuild an image from its provenance and check that the digest matches");
  cmd->add_option("image", flags->image,
                  "The image (built with --provenance): in the store, else pulled with its "
                  "attestations")
      ->required();
  cmd->add_option("--context", flags->context, "The build context to rebuild from (default .)");
  cmd->add_option("-f,--file", flags->file,
                  "The Dockerfile (default: the recorded name in the context)");
  cmd->add_option("--platform", flags->platform, "Only this platform of the image");
  cmd->add_option("--build-context", flags->build_contexts,
                  "A directory --build-context the build read, NAME=DIR (repeatable)");
  cmd->add_option("--build-arg", flags->build_args,
                  "A build argument KEY=VALUE the provenance does not record (mode=min)");
  cmd->add_option("--progress", flags->progress, "auto, plain, tty, quiet or rawjson")
      ->check(CLI::IsMember({"auto", "plain", "tty", "quiet", "rawjson"}));
  cmd->callback([flags, &global] { run_verify(*flags, global); });
}

void add_build_commands(CLI::App& app, GlobalOptions& options) {
  add_build(app, options);
  add_verify(app, options);
}

}  // namespace mkimg::cli
