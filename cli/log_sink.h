// mkimg's logger: spdlog's default logger writes "mkimg: [debug] message" lines to stderr.
// While the live tty progress view is on screen it takes the lines (divert_log_lines) and
// prints them above itself, so log lines and the view never overwrite each other.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mkimg::cli {

/// Makes spdlog's default logger the stderr logger at `level` (trace, debug, info, warn,
/// error, off).
void setup_logging(const std::string& level);

/// From now on, each formatted log line (without its newline) goes to `divert` instead of
/// stderr; an empty function restores stderr. Returns once no line is being diverted, so the
/// old target may be destroyed right after.
void divert_log_lines(std::function<void(std::string_view)> divert);

}  // namespace mkimg::cli
