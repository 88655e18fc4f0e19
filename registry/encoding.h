// Text encodings: base64 (RFC 4648, with padding) for Basic credentials, config.json "auth"
// fields, rawjson logs and provenance; percent-encoding (RFC 3986) for token URLs and package
// URLs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mkimg::registry {

std::string base64_encode(std::string_view bytes);
/// nullopt when `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

/// Every byte but RFC 3986's unreserved ones (ALPHA, DIGIT, "-", ".", "_", "~") as %XX.
std::string percent_encode(std::string_view text);

}  // namespace mkimg::registry
