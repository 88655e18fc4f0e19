// parser/: Dockerfile text -> typed instructions. Pure: bytes in, values or located errors out;
// no file system, nothing else of mkimg but common/. A map of the folder:
//
//   dockerfile.h         the typed result: Dockerfile, Stage, Instruction, their bodies (here)
//   parse.h              Dockerfile text -> Dockerfile (the instruction layer)
//   syntax_tree.h        the line layer: BuildKit's parse tree; dump.cpp prints it (--dump)
//   line_parsers.h       (internal) one instruction line -> keyword, flags, arguments
//   heredoc.h            the here-documents a line opens
//   json_array.h         JSON-form arguments, read as BuildKit reads them
//   instruction_builder.h (internal) a syntax node -> a typed Instruction, per keyword
//                        (instruction*.cpp)
//   flags.h              an instruction's --flags checked against its keyword's
//   run_mount.h          RUN --mount option lists
//   duration.h           Go durations for HEALTHCHECK
//   expand.h             word expansion with the ARG/ENV in scope, as BuildKit's shell lexer
//   shell_lexer.h, shell_pattern.h
//                        BuildKit's shell lexer, and the patterns of ${V#p} ${V%p} ${V/p/r}
//   unicode.h            UTF-8 and the Unicode classes the grammar needs
//   source_error.h       located errors: "Dockerfile:12:5: message" and the line
//   describe.h           one readable line per typed instruction (`mkimg parse`, logs)
//   dockerignore.h       .dockerignore patterns, moby's rules
//   ignore_program.h     (internal) one .dockerignore pattern compiled for matching
//
// How a Dockerfile is read, in two layers, the way BuildKit reads it:
//  1. syntax_tree.h: the line layer. Directives (`# escape=`), comments, continuation lines,
//     heredoc bodies, and the split of each instruction into keyword, `--flags` and arguments
//     (JSON or shell form). `mkimg parse --dump` prints this layer in BuildKit's dump format;
//     it accepts any keyword and any flag, exactly as BuildKit's parser does.
//  2. parse.h: the instruction layer. Each syntax node becomes an Instruction whose body is a
//     typed struct (Run, Copy, Healthcheck, ...); flags are checked against what the keyword
//     accepts, values are checked (durations, mount options), and instructions are grouped
//     into stages by FROM. Every error is located: "Dockerfile:12:5: message\n<the line>".
// Values stay UNEXPANDED (quotes and `$VAR` as written): the builder knows the ARG/ENV in scope
// at each step and calls expand.h, which implements BuildKit's shell lexer word for word and
// expands exactly the arguments BuildKit expands. dockerignore.h matches context paths with
// moby's patternmatcher rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include "common/network_mode.h"

namespace mkimg::parser {

/// A position in the Dockerfile: 1-based line and column (column counts bytes).
struct Location {
  int line = 0;
  int column = 0;
};

/// The shell form of a command: one string handed to the SHELL (continuations removed).
struct ShellForm {
  std::string command;
};

/// The exec (JSON array) form of a command: the argv, run without a shell.
struct ExecForm {
  std::vector<std::string> args;
};

/// A command as written for RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD.
using CommandLine = std::variant<ShellForm, ExecForm>;

/// Whether a heredoc body gets variable expansion: quoting the delimiter (<<"EOF") turns it off.
enum class HeredocExpansion { kExpand, kLiteral };
/// Whether leading tabs are stripped from the body (<<-EOF).
enum class HeredocTabs { kKeep, kStrip };

/// One here-document of RUN, COPY or ADD: `<<EOF ... EOF`.
struct Heredoc {
  std::string name;     ///< the delimiter word, unquoted ("EOF")
  std::string content;  ///< the body, every line with its newline; tabs already stripped for <<-
  HeredocExpansion expansion = HeredocExpansion::kExpand;
  HeredocTabs tabs = HeredocTabs::kKeep;
  int file_descriptor = 0;  ///< `3<<EOF` gives 3; 0 (stdin) when not written
};

/// Kinds of `RUN --mount`.
enum class MountType { kBind, kCache, kTmpfs, kSecret, kSsh };
/// `--mount=type=cache,sharing=...`: how concurrent builds share one cache directory.
enum class CacheSharing { kShared, kPrivate, kLocked };

/// One `RUN --mount=...` option list, typed. Fields not given keep BuildKit's defaults.
struct RunMount {
  MountType type = MountType::kBind;
  std::string target;     ///< target= / dst= / destination=; required except for secret and ssh
  std::string source;     ///< source= / src=
  std::string from;       ///< from=: a stage name or image
  bool read_only = true;  ///< bind: true unless rw; cache, tmpfs: false unless ro
  std::string id;         ///< id=: cache id, secret id, ssh id
  CacheSharing sharing = CacheSharing::kShared;
  std::optional<std::uint32_t> mode;  ///< mode= (octal)
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  bool required = false;              ///< secret, ssh: fail when not provided
  std::optional<std::uint64_t> size;  ///< tmpfs size= in bytes
  std::string env;                    ///< secret env=: expose as an environment variable
  std::string text;                   ///< the flag value as written (before expansion)
};

/// `RUN --security=...` (`RUN --network=...` is a NetworkMode, common/network_mode.h).
enum class SecurityMode { kSandbox, kInsecure };

/// FROM [--platform=P] image [AS name].
struct From {
  std::string image;       ///< unexpanded image reference or stage name
  std::string stage_name;  ///< lower-cased AS name, empty when not given
  std::string platform;    ///< unexpanded --platform value, empty when not given
};

/// RUN [--mount=...]... [--network=...] [--security=...] command.
struct Run {
  CommandLine command;
  std::vector<Heredoc> heredocs;
  std::vector<RunMount> mounts;
  NetworkMode network = NetworkMode::kSandbox;
  SecurityMode security = SecurityMode::kSandbox;
};

/// COPY [flags] src... dest (also JSON form and heredoc sources).
struct Copy {
  std::vector<std::string> sources;  ///< paths; heredoc sources are in `heredocs` instead
  std::string dest;
  std::string from;   ///< --from: stage name, index or image; empty = build context
  std::string chown;  ///< --chown=user[:group]
  std::string chmod;  ///< --chmod=0755 or symbolic
  bool link = false;
  bool parents = false;
  std::vector<std::string> excludes;  ///< --exclude patterns, in order
  std::vector<Heredoc> heredocs;
};

/// ADD [flags] src... dest: like COPY, plus URLs, git sources and archive unpacking.
struct Add {
  std::vector<std::string> sources;
  std::string dest;
  std::string chown;
  std::string chmod;
  bool link = false;
  std::vector<std::string> excludes;
  std::string checksum;  ///< --checksum=sha256:... for URL sources
  bool keep_git_dir = false;
  std::vector<Heredoc> heredocs;
};

/// A name and an unexpanded value, for ENV and LABEL.
struct KeyValue {
  std::string key;
  std::string value;
};

/// ENV k=v ... or the legacy ENV k v.
struct Env {
  std::vector<KeyValue> pairs;
};

/// One ARG name with its optional default (set-but-empty `ARG A=` differs from `ARG A`).
struct ArgDeclaration {
  std::string name;
  std::optional<std::string> default_value;
};

/// ARG name[=default] ...
struct Arg {
  std::vector<ArgDeclaration> args;
};

/// WORKDIR path.
struct Workdir {
  std::string path;
};

/// USER user[:group].
struct User {
  std::string user;
};

/// LABEL k=v ...
struct Label {
  std::vector<KeyValue> pairs;
};

/// EXPOSE port[/proto] ...
struct Expose {
  std::vector<std::string> ports;
};

/// CMD, in either form.
struct Cmd {
  CommandLine command;
};

/// ENTRYPOINT, in either form.
struct Entrypoint {
  CommandLine command;
};

/// VOLUME path ... or VOLUME ["path", ...].
struct Volume {
  std::vector<std::string> paths;
};

/// STOPSIGNAL signal.
struct Stopsignal {
  std::string signal;
};

/// HEALTHCHECK NONE, or HEALTHCHECK [options] CMD command.
enum class HealthcheckKind { kNone, kCmd };

/// HEALTHCHECK. Durations and retries of zero mean "not set" (inherit), as in the image config.
struct Healthcheck {
  HealthcheckKind kind = HealthcheckKind::kNone;
  CommandLine test;  ///< kind cmd: exec form -> ["CMD", ...], shell form -> ["CMD-SHELL", s]
  std::chrono::nanoseconds interval{0};
  std::chrono::nanoseconds timeout{0};
  std::chrono::nanoseconds start_period{0};
  std::chrono::nanoseconds start_interval{0};
  int retries = 0;
};

/// SHELL ["executable", "params"...] (JSON form only).
struct Shell {
  std::vector<std::string> args;
};

struct Instruction;

/// ONBUILD instruction: recorded in the image, re-parsed and run by a child build.
struct Onbuild {
  std::string expression;                      ///< the trigger as written: "RUN echo hi"
  std::shared_ptr<const Instruction> trigger;  ///< the trigger, parsed
};

/// MAINTAINER name (deprecated; sets the image author).
struct Maintainer {
  std::string name;
};

/// What an instruction says, one alternative per keyword.
using InstructionBody =
    std::variant<From, Run, Copy, Add, Env, Arg, Workdir, User, Label, Expose, Cmd, Entrypoint,
                 Volume, Stopsignal, Healthcheck, Shell, Onbuild, Maintainer>;

/// One instruction: where it is, its source text, and its typed body.
struct Instruction {
  Location location;
  std::string original;  ///< the full source text, continuation lines joined (no heredoc bodies)
  InstructionBody body;
};

/// The parser directives at the top of the file.
struct Directives {
  char escape = '\\';  ///< `# escape=` (\ or `)
  std::string syntax;  ///< `# syntax=`, empty when absent
  std::string check;   ///< `# check=`, empty when absent
};

/// One build stage: FROM and the instructions up to the next FROM.
struct Stage {
  std::string name;      ///< lower-cased AS name; may be empty (use the index)
  std::string base;      ///< the FROM image text, unexpanded
  std::string platform;  ///< the FROM --platform value, unexpanded; empty when not given
  Location location;     ///< where the FROM is
  std::vector<Instruction> instructions;  ///< after the FROM (the FROM itself is not included)
};

/// A parsed Dockerfile.
struct Dockerfile {
  Directives directives;
  std::vector<Instruction> global_args;  ///< ARG instructions before the first FROM
  std::vector<Stage> stages;
};

/// The lower-case keyword of an instruction body ("run", "copy", ...).
const char* keyword(const InstructionBody& body);

}  // namespace mkimg::parser
