// The version of mkimg: what `mkimg --version` prints and what a build's provenance records as
// its builder. Changed by hand for a release.
#pragma once

#include <string_view>

namespace mkimg {

inline constexpr std::string_view kVersion = "0.9.0";

}  // namespace mkimg
