// Reading an instruction's arguments as a JSON array, as BuildKit does with Go's json.Decoder:
// leading blanks skipped, the first JSON value decoded, anything after it ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mkimg::parser {

/// What the text turned out to be.
enum class JsonArrayStatus {
  kNotJson,     ///< not a JSON array (or malformed): the caller falls back to shell form
  kStrings,      ///< an array of strings: `values` holds them
  kNotStrings,  ///< valid JSON, but an element is not a string: an error in BuildKit
};

/// The outcome of parse_json_array().
struct JsonArray {
  JsonArrayStatus status = JsonArrayStatus::kNotJson;
  std::vector<std::string> values;
};

/// Decodes `text` as a JSON array of strings (Go's rules: invalid UTF-8 becomes U+FFFD, lone
/// surrogates too).
JsonArray parse_json_array(std::string_view text);

}  // namespace mkimg::parser
