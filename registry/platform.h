// Choosing one image of an index (OCI image index or Docker manifest list) for a platform.
#pragma once

#include <optional>
#include <string>

#include "oci/descriptor.h"
#include "oci/image.h"

namespace mkimg::registry {

/// The entry of `index` for `want`: os and architecture equal; the variant equal when `want`
/// names one (arm64 without a variant counts as v8, arm without one as v7), else the entry
/// without a variant (or the normalised default) first, then any variant. Entries with no
/// platform, or an image manifest type, are skipped. nullopt when nothing matches.
std::optional<oci::Descriptor> select_platform(const oci::Index& index, const oci::Platform& want);

/// "linux/amd64, linux/arm64/v8" — what an index offers, for the error message.
std::string describe_platforms(const oci::Index& index);

}  // namespace mkimg::registry
