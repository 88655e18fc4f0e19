// The command instructions: RUN, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, and ONBUILD.
#include <regex>

#include "common/ascii.h"
#include "parser/duration.h"
#include "parser/flags.h"
#include "parser/heredoc.h"
#include "parser/instruction_builder.h"
#include "parser/run_mount.h"

namespace mkimg::parser {

namespace {

[[noreturn]] void fail(const std::string& message, std::string near = {}) {
  throw InstructionError(message, std::move(near));
}

/// The command as written: exec form from JSON, else the one shell-form string.
CommandLine command_line(const SyntaxNode& node, std::size_t first_arg) {
  if (node.form == ArgumentForm::kJson) {
    return ExecForm{std::vector<std::string>(node.args.begin() + first_arg, node.args.end())};
  }
  std::string joined;
  for (std::size_t i = first_arg; i < node.args.size(); ++i) {
    if (i > first_arg) joined += ' ';
    joined += node.args[i];
  }
  return ShellForm{joined};
}

CommandLine required_command(const SyntaxNode& node) {
  if (node.args.empty() && node.form != ArgumentForm::kJson) {
    fail(upper_keyword(node) + " requires at least one argument");
  }
  return command_line(node, 0);
}

std::vector<Heredoc> typed_heredocs(const std::vector<Heredoc>& raw) {
  std::vector<Heredoc> out = raw;
  for (Heredoc& h : out) {
    if (h.tabs == HeredocTabs::kStrip) h.content = strip_leading_tabs(h.content);
  }
  return out;
}

NetworkMode network_mode(const std::string& value, const std::string& flag) {
  if (value == "default") return NetworkMode::kSandbox;
  if (value == "none") return NetworkMode::kNone;
  if (value == "host") return NetworkMode::kHost;
  fail("network mode \"" + value + "\" not supported (use default, none or host)", flag);
}

SecurityMode security_mode(const std::string& value, const std::string& flag) {
  if (value == "sandbox") return SecurityMode::kSandbox;
  if (value == "insecure") return SecurityMode::kInsecure;
  fail("security mode \"" + value + "\" not supported (use sandbox or insecure)", flag);
}

std::chrono::nanoseconds health_duration(const FlagValues& flags, std::string_view name) {
  const std::string value = flag_string(flags, name);
  const std::string flag = "--" + std::string(name);
  if (value.empty()) return std::chrono::nanoseconds(0);
  std::chrono::nanoseconds d;
  try {
    d = parse_go_duration(value);
  } catch (const Error& e) {
    fail(std::string(e.what()) + " in " + flag, flag);
  }
  if (d != std::chrono::nanoseconds(0) && d < std::chrono::milliseconds(1)) {
    fail("Interval \"" + std::string(name) + "\" cannot be less than 1ms", flag);
  }
  return d;
}

int health_retries(const FlagValues& flags) {
  const std::string value = flag_string(flags, "retries");
  if (value.empty()) return 0;
  const bool digits = value.find_first_not_of("0123456789") == std::string::npos ||
                      (value[0] == '-' && value.size() > 1 &&
                       value.find_first_not_of("0123456789", 1) == std::string::npos);
  if (!digits || value.size() > 10) {
    fail("strconv.ParseInt: parsing \"" + value + "\": invalid syntax in --retries", "--retries");
  }
  const long long retries = std::stoll(value);
  if (retries < 0 || retries > 0x7FFFFFFF) {
    fail("--retries cannot be negative (" + value + ")", "--retries");
  }
  return static_cast<int>(retries);
}

}  // namespace

InstructionBody build_run(const SyntaxNode& node) {
  static constexpr FlagSpec kFlags[] = {{"mount", FlagType::kStrings},
                                        {"network", FlagType::kString},
                                        {"security", FlagType::kString}};
  const FlagValues flags = parse_flags(node.flags, kFlags);
  Run run;
  run.command = required_command(node);
  run.heredocs = typed_heredocs(node.heredocs);
  for (const std::string& text : flag_strings(flags, "mount")) {
    try {
      run.mounts.push_back(parse_run_mount(text, MountCheck::kLenient));
    } catch (const InstructionError&) {
      throw;
    } catch (const Error& e) {
      fail(std::string(e.what()) + " in --mount=" + text, "--mount=" + text);
    }
  }
  if (flag_given(flags, "network")) {
    run.network = network_mode(flag_string(flags, "network"), "--network");
  }
  if (flag_given(flags, "security")) {
    run.security = security_mode(flag_string(flags, "security"), "--security");
  }
  return run;
}

InstructionBody build_cmd(const SyntaxNode& node) {
  parse_flags(node.flags, {});
  return Cmd{required_command(node)};
}

InstructionBody build_entrypoint(const SyntaxNode& node) {
  parse_flags(node.flags, {});
  return Entrypoint{required_command(node)};
}

InstructionBody build_healthcheck(const SyntaxNode& node) {
  if (node.args.empty()) fail("HEALTHCHECK requires at least one argument");
  std::string type = ascii_upper(node.args[0]);
  Healthcheck health;
  if (type == "NONE") {
    if (node.args.size() != 1) fail("HEALTHCHECK NONE takes no arguments");
    return health;
  }
  static constexpr FlagSpec kFlags[] = {{"interval", FlagType::kString},
                                        {"timeout", FlagType::kString},
                                        {"start-period", FlagType::kString},
                                        {"start-interval", FlagType::kString},
                                        {"retries", FlagType::kString}};
  const FlagValues flags = parse_flags(node.flags, kFlags);
  if (type != "CMD") fail("Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)", node.args[0]);
  if (node.args.size() < 2 && node.form != ArgumentForm::kJson) {
    fail("Missing command after HEALTHCHECK CMD");
  }
  health.kind = HealthcheckKind::kCmd;
  health.test = command_line(node, 1);
  if (const auto* exec = std::get_if<ExecForm>(&health.test); exec && exec->args.empty()) {
    fail("Missing command after HEALTHCHECK CMD");
  }
  health.interval = health_duration(flags, "interval");
  health.timeout = health_duration(flags, "timeout");
  health.start_period = health_duration(flags, "start-period");
  health.start_interval = health_duration(flags, "start-interval");
  health.retries = health_retries(flags);
  return health;
}

InstructionBody build_shell(const SyntaxNode& node) {
  parse_flags(node.flags, {});
  if (node.args.empty() && node.form != ArgumentForm::kJson) {
    fail("SHELL requires at least one argument");
  }
  if (node.form != ArgumentForm::kJson) fail("SHELL requires the arguments to be in JSON form");
  if (node.args.empty()) fail("SHELL requires at least one argument");
  return Shell{node.args};
}

InstructionBody build_onbuild(const SyntaxNode& node) {
  parse_flags(node.flags, {});
  if (node.inner.empty()) fail("ONBUILD requires at least one argument");
  const std::string trigger = upper_keyword(node.inner[0]);
  if (trigger == "ONBUILD") fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger == "MAINTAINER" || trigger == "FROM") {
    fail(trigger + " isn't allowed as an ONBUILD trigger", node.inner[0].keyword);
  }
  static const std::regex kPrefix("^\\s*ONBUILD\\s*", std::regex::icase);
  Onbuild onbuild;
  onbuild.expression =
      std::regex_replace(node.original, kPrefix, "", std::regex_constants::format_first_only);
  for (const Heredoc& h : node.heredocs) onbuild.expression += "\n" + h.content + h.name;
  SyntaxNode inner = node.inner[0];
  inner.heredocs = node.heredocs;
  inner.location = node.location;
  onbuild.trigger = std::make_shared<const Instruction>(build_instruction(inner));
  return onbuild;
}

}  // namespace mkimg::parser
