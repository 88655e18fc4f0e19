// Base64 (RFC 4648, with padding) for Basic credentials and config.json "auth" fields.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mkimg::registry {

std::string base64_encode(std::string_view bytes);
/// nullopt when `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mkimg::registry
