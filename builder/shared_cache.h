// Internal to builder/: what a build writes for --cache-to (cache/shared_cache.h has the
// format). Lookups on a miss are in layer_step.cpp.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "builder/build_state.h"

namespace mkimg::builder {

/// The manifest annotations of the final image: the inline cache when --cache-to type=inline
/// asked for it (the entries of the image's own layer steps), else none.
std::map<std::string, std::string> inline_cache_annotations(BuildSession& session,
                                                            std::size_t target);

/// Writes the entries each registry or local --cache-to asks for: with mode=min the chain of
/// the final image (stage `target` back through the stages it is FROM), with mode=max every
/// entry the build used. A failed export is a warning: the image is built and tagged anyway.
void export_shared_cache(BuildSession& session, std::size_t target);

}  // namespace mkimg::builder
