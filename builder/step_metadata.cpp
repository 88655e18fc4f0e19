// The instructions that only change the image config: ENV, ARG, LABEL, USER, EXPOSE, VOLUME,
// STOPSIGNAL, HEALTHCHECK, CMD, ENTRYPOINT, SHELL, ONBUILD, MAINTAINER.
#include <set>

#include "builder/history.h"
#include "builder/layer_step.h"
#include "builder/overloaded.h"
#include "builder/steps.h"
#include "common/ascii.h"
#include "common/error.h"

namespace mkimg::builder {
namespace {

std::vector<std::string> command_args(const StageState& stage, const parser::CommandLine& c) {
  if (auto* e = std::get_if<parser::ExecForm>(&c)) return e->args;
  std::vector<std::string> argv = stage.shell;
  argv.push_back(std::get<parser::ShellForm>(c).command);
  return argv;
}

oci::Healthcheck healthcheck(const parser::Healthcheck& h) {
  oci::Healthcheck out;
  if (h.kind == parser::HealthcheckKind::kNone) {
    out.test = std::vector<std::string>{"NONE"};
    return out;
  }
  if (auto* e = std::get_if<parser::ExecForm>(&h.test)) {
    std::vector<std::string> t{"CMD"};
    t.insert(t.end(), e->args.begin(), e->args.end());
    out.test = t;
  } else {
    out.test = std::vector<std::string>{"CMD-SHELL", std::get<parser::ShellForm>(h.test).command};
  }
  if (h.interval.count()) out.interval = h.interval.count();
  if (h.timeout.count()) out.timeout = h.timeout.count();
  if (h.start_period.count()) out.start_period = h.start_period.count();
  if (h.start_interval.count()) out.start_interval = h.start_interval.count();
  if (h.retries) out.retries = h.retries;
  return out;
}

/// One port number of EXPOSE: decimal digits, at most 65535.
unsigned long port_number(const std::string& text, const std::string& spec) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos || std::stoul(text) > 65535) {
    throw Error(describe("expose", spec, "`" + text + "` is not a port (0-65535)"));
  }
  return std::stoul(text);
}

/// "80" -> 80/tcp; "8000-8002[/proto]" -> one entry per port, as BuildKit records them; the
/// protocol is tcp, udp or sctp in any case; "[ip:][host:]port" keeps the container port, as
/// Docker's nat.ParsePortSpecs does.
std::vector<std::string> port_specs(const std::string& spec) {
  std::size_t slash = spec.find('/');
  std::string ports = spec.substr(0, slash);
  std::string proto = slash == std::string::npos ? "tcp" : ascii_lower(spec.substr(slash + 1));
  if (proto != "tcp" && proto != "udp" && proto != "sctp") {
    throw Error(describe("expose", spec, "`" + proto + "` is not a protocol (tcp, udp, sctp)"));
  }
  if (std::size_t colon = ports.rfind(':'); colon != std::string::npos) {
    ports = ports.substr(colon + 1);
  }
  std::size_t dash = ports.find('-');
  unsigned long first = port_number(ports.substr(0, dash), spec);
  unsigned long last =
      dash == std::string::npos ? first : port_number(ports.substr(dash + 1), spec);
  if (first > last) throw Error(describe("expose", spec, "the range ends before it starts"));
  std::vector<std::string> out;
  for (unsigned long port = first; port <= last; ++port) {
    out.push_back(std::to_string(port) + "/" + proto);
  }
  return out;
}

/// Declares the ARGs of `arg` in the stage with their values (--build-arg, else the default,
/// else the global ARG's) and returns them as declared.
std::vector<BuildArg> declare_args(BuildSession& session, StageState& stage,
                                   const parser::Arg& arg) {
  const auto& build_args = session.options->build_args;
  std::vector<BuildArg> declared;
  for (const auto& d : arg.args) {
    BuildArg& b = declared.emplace_back(BuildArg{d.name, std::nullopt});
    if (auto it = build_args.find(d.name); it != build_args.end()) {
      b.value = it->second;
    } else if (d.default_value) {
      b.value = *d.default_value;
    } else if (auto g = parser::find_variable(session.global_args, d.name)) {
      b.value = *g;
    }
    if (b.value) parser::set_variable(stage.args, d.name, *b.value);
  }
  stage.image.build_args.insert(stage.image.build_args.end(), declared.begin(), declared.end());
  return declared;
}

}  // namespace

void step_metadata(const StepContext& ctx) {
  auto& stage = ctx.stage;
  auto& image = stage.image;
  if (!image.config.config) image.config.config = oci::ContainerConfig{};
  auto& cfg = *image.config.config;
  // What BuildKit's dispatch* function of the instruction records (builder/history.h);
  // nullopt: no history entry.
  std::optional<std::string> created_by;
  std::visit(
      Overloaded{
          [&](const parser::Env& e) {
            created_by = "ENV";
            for (const auto& kv : e.pairs) {
              set_image_env(image, kv.key, kv.value);
              *created_by += " " + kv.key + "=" + kv.value;
            }
          },
          [&](const parser::Arg& a) {
            created_by = arg_created_by(declare_args(ctx.session, stage, a));
          },
          [&](const parser::Label& l) {
            if (!cfg.labels) cfg.labels = std::map<std::string, std::string>{};
            created_by = "LABEL";
            for (const auto& kv : l.pairs) {
              (*cfg.labels)[kv.key] = kv.value;
              *created_by += " " + kv.key + "=" + kv.value;
            }
          },
          [&](const parser::User& u) {
            cfg.user = u.user;
            created_by = "USER " + u.user;
          },
          [&](const parser::Expose& e) {
            if (!cfg.exposed_ports) cfg.exposed_ports = std::set<std::string>{};
            std::vector<std::string> ports;
            for (const auto& p : e.ports) {
              for (const auto& one : port_specs(p)) {
                cfg.exposed_ports->insert(one);
                ports.push_back(one);
              }
            }
            created_by = "EXPOSE " + go_list(ports);
          },
          [&](const parser::Volume& v) {
            if (!cfg.volumes) cfg.volumes = std::set<std::string>{};
            for (const auto& p : v.paths) cfg.volumes->insert(p);
            created_by = "VOLUME " + go_list(v.paths);
          },
          [&](const parser::Stopsignal& s) {
            cfg.stop_signal = s.signal;
            created_by = "STOPSIGNAL " + s.signal;
          },
          [&](const parser::Healthcheck& h) {
            cfg.healthcheck = healthcheck(h);
            created_by = healthcheck_created_by(*cfg.healthcheck->test, h);
          },
          [&](const parser::Cmd& c) {
            cfg.cmd = command_args(stage, c.command);
            // BuildKit's dispatchCmd (only CMD) marks the arguments as escaped.
            cfg.args_escaped = true;
            stage.cmd_set = true;
            created_by = "CMD " + go_quote_list(*cfg.cmd);
          },
          [&](const parser::Entrypoint& e) {
            cfg.entrypoint = command_args(stage, e.command);
            if (!stage.cmd_set) cfg.cmd.reset();
            created_by = "ENTRYPOINT " + go_quote_list(*cfg.entrypoint);
          },
          [&](const parser::Shell& s) {
            stage.shell = s.args;
            cfg.shell = s.args;
            created_by = "SHELL " + go_list(s.args);
          },
          [&](const parser::Onbuild& o) {
            if (!cfg.on_build) cfg.on_build = std::vector<std::string>{};
            cfg.on_build->push_back(o.expression);
          },
          [&](const parser::Maintainer& m) {
            image.config.author = m.name;
            created_by = "MAINTAINER " + m.name;
          },
          [&](const auto&) {
            throw Error(describe("run", ctx.instruction.original, "not a metadata instruction"));
          },
      },
      ctx.instruction.body);
  if (created_by) add_metadata_history(ctx.session, stage, *created_by);
}

}  // namespace mkimg::builder
