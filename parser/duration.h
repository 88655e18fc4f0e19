// Go's time.ParseDuration, for HEALTHCHECK's --interval, --timeout, --start-period and
// --start-interval ("30s", "1m30s", "1.5h", "300ms", "0"); and the same with days for an age
// on the command line (`mkimg cache prune --older-than 7d`).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace mkimg::parser {

/// Parses a Go duration. Throws mkimg::Error `time: invalid duration "x"` when malformed.
std::chrono::nanoseconds parse_go_duration(std::string_view text);

/// A Go duration that may also count days ("7d", "1d12h"; a day is 24h): what
/// `docker buildx prune --filter until=` takes, and days. Throws as parse_go_duration.
std::chrono::nanoseconds parse_age(std::string_view text);

/// Go's time.Duration.String(): "0s", "1.5µs", "500ms", "1.5s", "1m30s", "1h0m0s", "-2s" (how
/// BuildKit's HEALTHCHECK history entry prints the durations).
std::string format_go_duration(std::chrono::nanoseconds d);

}  // namespace mkimg::parser
