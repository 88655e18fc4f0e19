// Go's time.ParseDuration, for HEALTHCHECK's --interval, --timeout, --start-period and
// --start-interval ("30s", "1m30s", "1.5h", "300ms", "0").
#pragma once

#include <chrono>
#include <string_view>

namespace mkimg::parser {

/// Parses a Go duration. Throws mkimg::Error `time: invalid duration "x"` when malformed.
std::chrono::nanoseconds parse_go_duration(std::string_view text);

}  // namespace mkimg::parser
