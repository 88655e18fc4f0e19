// Internal to oci/: nlohmann-json conversions shared by the .cpp files of this folder (image
// documents, the store's index.json, transports, archives). Never include it from a header
// another folder sees.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "oci/descriptor.h"

namespace mkimg::oci::detail {

using Json = nlohmann::json;

/// Parses JSON text of at most `max_size` bytes into an object; throws mkimg::Error
/// ("parse `what`: cause").
Json parse_json_object(std::string_view text, std::string_view what, std::size_t max_size);
/// Compact, sorted-key serialisation; throws mkimg::Error on invalid UTF-8.
std::string dump_canonical(const Json& json);

Json descriptor_to_json(const Descriptor& descriptor);
/// Strict: mediaType non-empty, digest valid, size a non-negative integer.
Descriptor descriptor_from_json(const Json& json, std::string_view what);

/// A string member, or "" / error for a non-string.
std::string string_member(const Json& object, const char* key, std::string_view what);

}  // namespace mkimg::oci::detail
