// `mkimg run IMAGE [COMMAND...]`: docker run's flags checked and turned into
// runtime::RunOptions, the image's layers unpacked (snapshot/layer_store.h), then
// runtime::run_image on a throwaway overlay with stdio attached; exits with the container's code.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "common/error.h"
#include "oci/image.h"
#include "oci/store.h"
#include "parser/run_mount.h"
#include "runtime/cancel.h"
#include "runtime/run_image.h"
#include "snapshot/layer_store.h"

namespace mkimg::cli {
namespace {

/// The raw values of `mkimg run`'s flags.
struct RunFlags {
  std::vector<std::string> env, env_files, volumes, mounts, publish;
  std::string network = "host", name, user, workdir, entrypoint;
  bool rm = false, interactive = false, tty = false;
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto at = text.find(sep, start);
    parts.push_back(text.substr(start, at == std::string::npos ? at : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

/// A host or container path of a bind, lexically normal, with no trailing slash.
std::string clean(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

/// What both -v and --mount require of a bind's paths.
runtime::BindMount host_bind(const std::string& source, const std::string& target, bool read_only) {
  if (source.empty()) throw Error("no host path (SRC) given");
  if (source[0] != '/') {
    throw Error("the host path `" + source +
                "` is not absolute (named volumes are not supported; give an absolute host path)");
  }
  if (target.empty()) throw Error("no container path (DST) given");
  if (target[0] != '/') throw Error("the container path `" + target + "` is not absolute");
  if (clean(target) == "/") throw Error("the container path cannot be `/`");
  return {
      clean(source), clean(target),
      read_only ? runtime::BindMount::Access::kReadOnly : runtime::BindMount::Access::kReadWrite};
}

/// `-v SRC:DST[:ro|rw]`, as docker run reads it for a bind of a host path.
runtime::BindMount parse_volume(const std::string& text) {
  std::vector<std::string> parts = split(text, ':');
  if (parts.size() == 1) {
    throw Error(
        "anonymous volumes are not supported: give SRC:DST[:ro|rw] with an absolute "
        "host path SRC");
  }
  if (parts.size() > 3) throw Error("expected SRC:DST[:ro|rw]");
  bool read_only = false;
  if (parts.size() == 3) {
    for (const auto& mode : split(parts[2], ',')) {
      if (mode == "ro") {
        read_only = true;
      } else if (mode != "rw") {
        throw Error("unsupported mode `" + mode + "` (mkimg takes ro or rw)");
      }
    }
  }
  return host_bind(parts[0], parts[1], read_only);
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "1" || v == "true" || v == "TRUE" || v == "True" || v == "t" || v == "T") return true;
  if (v == "0" || v == "false" || v == "FALSE" || v == "False" || v == "f" || v == "F")
    return false;
  throw Error("invalid value for " + key + ": `" + v + "`");
}

/// `--mount type=bind,source=SRC,target=DST[,readonly]`: docker run's --mount for binds.
runtime::BindMount parse_mount(const std::string& text) {
  std::string type, source, target;
  bool read_only = false;
  for (const std::string& field : parser::mount_fields(text)) {
    const auto eq = field.find('=');
    const std::string key = field.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (key == "type") {
      type = value;
    } else if (key == "source" || key == "src") {
      source = value;
    } else if (key == "target" || key == "destination" || key == "dst") {
      target = value;
    } else if (key == "readonly" || key == "ro") {
      read_only = eq == std::string::npos || parse_bool(key, value);
    } else {
      throw Error("unsupported field `" + field +
                  "` (mkimg takes type=bind, source, target and readonly)");
    }
  }
  if (type != "bind") {
    throw Error(type.empty() ? "type=bind is required (volumes are not supported)"
                             : "unsupported mount type `" + type + "` (only bind)");
  }
  return host_bind(source, target, read_only);
}

/// A CLI11 check from a parser: its Error's message, or "" when the value parses.
template <typename F>
std::function<std::string(const std::string&)> parses(F parse) {
  return [parse](const std::string& value) {
    try {
      parse(value);
      return std::string();
    } catch (const Error& e) {
      return "invalid value `" + value + "`: " + e.what();
    }
  };
}

runtime::RunOptions to_options(const RunFlags& f, std::vector<std::string> command,
                               bool entrypoint_given) {
  runtime::RunOptions o;
  o.command = std::move(command);
  o.network = f.network == "none" ? NetworkMode::kNone : NetworkMode::kHost;
  if (!f.publish.empty()) {
    throw Error(describe(
        "publish", f.publish.front(),
        o.network == NetworkMode::kNone
            ? "not applicable: the container has no network (--network none); nothing to publish"
            : "not applicable: containers share the host network (--network host); the port is "
              "already reachable"));
  }
  if (f.tty && ::isatty(STDIN_FILENO) != 1) {
    throw Error(describe("run", "-t",
                         "the input device is not a TTY (-t connects the container to the "
                         "terminal mkimg runs in; leave -t out when stdin is a pipe or a file)"));
  }
  // docker run: the --env-file entries first, then -e; the later of two values wins.
  for (const auto& file : f.env_files) {
    for (auto& kv : read_env_file(file)) o.env.push_back(std::move(kv));
  }
  for (const auto& e : f.env) {
    if (auto kv = env_flag_value(e)) o.env.push_back(std::move(*kv));
  }
  std::set<std::string> targets;
  auto add_bind = [&](runtime::BindMount b) {
    if (!targets.insert(b.destination).second) {
      throw Error(describe("mount", b.destination, "duplicate mount point"));
    }
    o.binds.push_back(std::move(b));
  };
  for (const auto& v : f.volumes) add_bind(parse_volume(v));
  for (const auto& m : f.mounts) add_bind(parse_mount(m));
  o.user = f.user;
  o.workdir = f.workdir;
  if (entrypoint_given) o.entrypoint = f.entrypoint;
  o.name = f.name;
  o.interactive = f.interactive;
  o.terminal = f.tty;
  return o;
}

void add_run(CLI::App& app, GlobalOptions& global) {
  auto f = std::make_shared<RunFlags>();
  auto options = std::make_shared<runtime::RunOptions>();
  auto* cmd = app.add_subcommand("run", "Run a command in a container from an image");
  cmd->add_flag("--rm", f->rm, "Remove the container afterwards (always done)");
  cmd->add_option("--runtime", options->runtime, "runc, crun or a path (default: auto)");
  cmd->add_option("--network", f->network, "host (default) or none")
      ->check(CLI::IsMember({"host", "none"}));
  cmd->add_option("-e,--env", f->env,
                  "Set an environment variable NAME=VALUE (NAME alone: from mkimg's environment, "
                  "left out when unset); repeatable")
      ->expected(1)
      ->take_all()
      ->check([](const std::string& v) {
        return v.empty() || v[0] == '=' ? "invalid environment variable `" + v + "`: no name"
                                        : std::string();
      });
  cmd->add_option("--env-file", f->env_files,
                  "Read environment variables from FILE (NAME=VALUE or NAME lines, # comments); "
                  "repeatable")
      ->expected(1)
      ->take_all();
  cmd->add_option("-v,--volume", f->volumes,
                  "Bind mount a host path: SRC:DST[:ro|rw] (SRC absolute and existing)")
      ->expected(1)
      ->take_all()
      ->check(parses(parse_volume));
  cmd->add_option("--mount", f->mounts,
                  "Bind mount a host path: type=bind,source=SRC,target=DST[,readonly]")
      ->expected(1)
      ->take_all()
      ->check(parses(parse_mount));
  cmd->add_option("-u,--user", f->user,
                  "USER[:GROUP], names or ids, resolved in the image's /etc/passwd and /etc/group");
  cmd->add_option("-w,--workdir", f->workdir, "The working directory (absolute) in the container")
      ->check([](const std::string& v) {
        return !v.empty() && v[0] == '/'
                   ? std::string()
                   : "the working directory `" + v + "` is invalid: it must be an absolute path";
      });
  auto* entrypoint = cmd->add_option(
      "--entrypoint", f->entrypoint,
      "Replace the image's ENTRYPOINT (and its CMD: only COMMAND follows); \"\" clears it");
  cmd->add_option("--name", f->name, "Name the container (its id in the runtime)")
      ->check([](const std::string& v) {
        return runtime::valid_container_name(v)
                   ? std::string()
                   : "invalid container name `" + v + "`: only [a-zA-Z0-9][a-zA-Z0-9_.-]+";
      });
  cmd->add_option("-p,--publish", f->publish,
                  "Not applicable: the container shares the host network (an error)")
      ->expected(1)
      ->take_all();
  cmd->add_flag("-i,--interactive", f->interactive, "Keep stdin open (else it is /dev/null)");
  cmd->add_flag("-t,--tty", f->tty, "Allocate a pseudo-terminal (stdin must be a terminal)");
  cmd->add_option("image", options->image, "The image")->required();
  cmd->footer("Everything after IMAGE is the command (default: the image's), passed as written.");
  cmd->callback([f, options, entrypoint, &global] {
    runtime::RunOptions o = to_options(*f, global.run_command, entrypoint->count() > 0);
    o.image = options->image;
    o.runtime = options->runtime;
    runtime::install_interrupt_handlers();
    auto store = open_store(global);
    oci::Image image = oci::load_image(store, o.image);
    auto unpacked = snapshot::ensure_image_unpacked(store, image.config, image.manifest.layers,
                                                    nullptr, runtime::keep_going);
    global.exit_code =
        runtime::run_image(store, image.config, snapshot::overlay_lowers(unpacked), o);
  });
}

/// Whether `arg`, an option of `mkimg` or of `mkimg run`, takes the next argument as its value.
bool takes_value(const std::string& arg) {
  static const std::set<std::string> long_options{
      "--root",    "--log-level",  "--max-layer-size", "--runtime", "--network",
      "--env",     "--env-file",   "--volume",         "--mount",   "--user",
      "--workdir", "--entrypoint", "--publish",        "--name"};
  if (arg.starts_with("--")) return long_options.contains(arg);
  // A cluster of short options (-it, -ie NAME, -eNAME=VALUE): a value option takes the rest of
  // the cluster, or the next argument when it is last.
  static const std::string short_values = "evuwp";
  for (std::size_t i = 1; i < arg.size(); ++i) {
    if (short_values.find(arg[i]) != std::string::npos) return i + 1 == arg.size();
  }
  return false;
}

}  // namespace

std::vector<std::string> split_run_command(std::vector<std::string>& args) {
  std::size_t i = 1;
  for (; i < args.size() && args[i] != "run"; ++i) {  // global options before the subcommand
    if (args[i].empty() || args[i][0] != '-') return {};
    if (takes_value(args[i])) ++i;
  }
  for (++i; i < args.size(); ++i) {  // run's options, then IMAGE
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    if (arg.starts_with("--") && arg.ends_with('=') && takes_value(arg.substr(0, arg.size() - 1))) {
      // `--entrypoint=`: an empty value, which CLI11 would take from the next argument.
      args[i].pop_back();
      args.insert(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, "");
      ++i;
      continue;
    }
    if (takes_value(arg)) ++i;
  }
  if (i + 1 >= args.size()) return {};
  std::vector<std::string> command(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  args.resize(i + 1);
  if (!command.empty() && command.front() == "--") command.erase(command.begin());
  return command;
}

void add_run_commands(CLI::App& app, GlobalOptions& options) { add_run(app, options); }

}  // namespace mkimg::cli
