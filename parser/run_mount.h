// `RUN --mount=type=cache,target=/x,...` option lists -> RunMount, with BuildKit's keys,
// aliases, defaults and checks.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/dockerfile.h"

namespace mkimg::parser {

/// Whether values must be valid now, or may still hold `$VAR` to be expanded at build time.
enum class MountCheck {
  kStrict,   ///< every value is checked (after expansion)
  kLenient,  ///< a field whose value contains '$' is skipped instead of checked
};

/// Expands one value of a mount option (the builder's ARG/ENV in scope).
using MountValueExpander = std::function<std::string(std::string_view)>;

/// The fields of one --mount value as Go's encoding/csv reads a record: commas separate,
/// "..." quotes (with "" for a quote). `docker run --mount` splits its value the same way.
/// Throws mkimg::Error on an unterminated quote.
std::vector<std::string> mount_fields(std::string_view text);

/// Parses one --mount value (CSV: `type=bind,source=a,target=/b,ro`). With an expander, every
/// `key=value` value is expanded first (as BuildKit does at build time). Throws mkimg::Error.
RunMount parse_run_mount(std::string_view text, MountCheck check,
                         const MountValueExpander& expand = {});

}  // namespace mkimg::parser
