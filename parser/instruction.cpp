// The simple instructions (FROM, ENV, LABEL, ARG, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL,
// MAINTAINER) and the dispatch by keyword.
#include <iterator>

#include "common/ascii.h"
#include "parser/flags.h"
#include "parser/instruction_builder.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

void no_flags(const SyntaxNode& node) { parse_flags(node.flags, {}); }

[[noreturn]] void fail(const std::string& message, std::string near = {}) {
  throw InstructionError(message, std::move(near));
}

const std::string& exactly_one(const SyntaxNode& node) {
  if (node.args.size() != 1) fail(upper_keyword(node) + " requires exactly one argument");
  return node.args[0];
}

void at_least_one(const SyntaxNode& node) {
  if (node.args.empty()) fail(upper_keyword(node) + " requires at least one argument");
}

bool valid_stage_name(std::string_view name) {
  if (name.empty() || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

InstructionBody build_from(const SyntaxNode& node) {
  static constexpr FlagSpec kFlags[] = {{"platform", FlagType::kString}};
  const FlagValues flags = parse_flags(node.flags, kFlags);
  From from;
  if (node.args.size() == 3 && lower(node.args[1]) == "as") {
    from.stage_name = lower(node.args[2]);
    if (!valid_stage_name(from.stage_name)) {
      fail("invalid name for build stage: \"" + node.args[2] +
               "\", name can't start with a number or contain symbols",
           node.args[2]);
    }
  } else if (node.args.size() != 1) {
    fail("FROM requires either one or three arguments (FROM image [AS name])");
  }
  from.image = node.args[0];
  from.platform = flag_string(flags, "platform");
  return from;
}

std::vector<KeyValue> key_values(const SyntaxNode& node) {
  no_flags(node);
  at_least_one(node);
  std::vector<KeyValue> pairs;
  for (std::size_t i = 0; i + 3 <= node.args.size(); i += 3) {
    if (node.args[i].empty()) fail(upper_keyword(node) + " names can not be blank");
    pairs.push_back({node.args[i], node.args[i + 1]});
  }
  return pairs;
}

InstructionBody build_arg(const SyntaxNode& node) {
  no_flags(node);
  at_least_one(node);
  Arg arg;
  for (const std::string& word : node.args) {
    const auto eq = word.find('=');
    if (eq == 0) fail("ARG names can not be blank", word);
    if (eq == std::string::npos) {
      arg.args.push_back({word, std::nullopt});
    } else {
      arg.args.push_back({word.substr(0, eq), word.substr(eq + 1)});
    }
  }
  return arg;
}

InstructionBody build_volume(const SyntaxNode& node) {
  no_flags(node);
  at_least_one(node);
  Volume volume;
  for (const std::string& path : node.args) {
    if (trim_space(path).empty()) fail("VOLUME specified can not be an empty string");
    volume.paths.push_back(path);
  }
  return volume;
}

InstructionBody build_body(const SyntaxNode& node) {
  const std::string key = lower(node.keyword);
  if (key == "from") return build_from(node);
  if (key == "run") return build_run(node);
  if (key == "cmd") return build_cmd(node);
  if (key == "entrypoint") return build_entrypoint(node);
  if (key == "copy") return build_copy(node);
  if (key == "add") return build_add(node);
  if (key == "env") return Env{key_values(node)};
  if (key == "label") return Label{key_values(node)};
  if (key == "arg") return build_arg(node);
  if (key == "volume") return build_volume(node);
  if (key == "healthcheck") return build_healthcheck(node);
  if (key == "shell") return build_shell(node);
  if (key == "onbuild") return build_onbuild(node);
  if (key == "expose") {
    no_flags(node);
    at_least_one(node);
    return Expose{node.args};
  }
  if (key == "workdir" || key == "user" || key == "stopsignal" || key == "maintainer") {
    no_flags(node);
    const std::string& value = exactly_one(node);
    if (key == "workdir") return Workdir{value};
    if (key == "user") return User{value};
    if (key == "stopsignal") return Stopsignal{value};
    return Maintainer{value};
  }
  fail("unknown instruction: " + node.keyword +
       " (expected one of FROM, RUN, CMD, LABEL, MAINTAINER, EXPOSE, ENV, ADD, COPY, ENTRYPOINT, "
       "VOLUME, USER, WORKDIR, ARG, ONBUILD, STOPSIGNAL, HEALTHCHECK, SHELL)");
}

}  // namespace

std::string upper_keyword(const SyntaxNode& node) { return ascii_upper(node.keyword); }

Instruction build_instruction(const SyntaxNode& node) {
  Instruction instruction;
  instruction.location = node.location;
  instruction.original = node.original;
  instruction.body = build_body(node);
  return instruction;
}

const char* keyword(const InstructionBody& body) {
  static constexpr const char* kNames[] = {
      "from",    "run",        "copy",        "add",    "env",     "arg",
      "workdir", "user",       "label",       "expose", "cmd",     "entrypoint",
      "volume",  "stopsignal", "healthcheck", "shell",  "onbuild", "maintainer"};
  static_assert(std::size(kNames) == std::variant_size_v<InstructionBody>);
  return kNames[body.index()];
}

}  // namespace mkimg::parser
