// The history BuildKit's Dockerfile frontend records (dockerfile2llb: convert.go's dispatch*
// functions and commitToHistory, convert_copy.go, convert_expose.go): each instruction's
// `created_by` text, the Go formatting it is made with (%q, %v, time.Duration), and the comment
// of every entry, so `docker history` shows an mkimg image as it shows BuildKit's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/dockerfile.h"
#include "parser/expand.h"

namespace mkimg::builder {

/// The comment of every history entry a Dockerfile step makes (BuildKit's historyComment).
inline constexpr const char* kHistoryComment = "buildkit.dockerfile.v0";

/// What BuildKit appends to the created_by of a step with a state (RUN, COPY, ADD).
inline constexpr const char* kBuildkitSuffix = " # buildkit";

/// Go's %q of a []string: ["a" "b c"] (each element as parser::go_quote, strconv.Quote).
std::string go_quote_list(const std::vector<std::string>& v);

/// Go's %v of a []string: [a b c].
std::string go_list(const std::vector<std::string>& v);

/// An ARG in scope of a stage as BuildKit keeps it (dispatchState.buildArgs): the name and the
/// value it resolved to (none: declared without a value, no --build-arg, no global).
struct BuildArg {
  std::string name;
  std::optional<std::string> value;
};

/// "ARG A=1 B" (dispatchArg).
std::string arg_created_by(const std::vector<BuildArg>& declared);

/// "RUN |2 A=1 B= /bin/sh -c make # buildkit" (dispatchRun, runCommandString): the build args
/// in scope, each with its value in `env` (what the step sees) or else the one it resolved to,
/// a name declared twice once (its last value, in its first place), then the argv.
std::string run_created_by(const std::vector<std::string>& argv, const std::vector<BuildArg>& args,
                           const parser::Environment& env);

/// "HEALTHCHECK {Test:[CMD-SHELL curl x] Interval:30s Timeout:0s StartPeriod:0s
/// StartInterval:0s Retries:3}" (dispatchHealthcheck: %+v of HealthcheckConfig).
std::string healthcheck_created_by(const std::vector<std::string>& test,
                                   const parser::Healthcheck& h);

/// "COPY --parents --chown=1:1 --chmod=644 a b <<EOF /dest # buildkit" (convert_copy.go): the
/// options BuildKit prints (not --from, --link, --exclude, ADD's --checksum, --keep-git-dir),
/// the sources and destination as expanded, heredoc sources as <<NAME after the paths.
std::string copy_created_by(const parser::Copy& c);
std::string copy_created_by(const parser::Add& a);

}  // namespace mkimg::builder
