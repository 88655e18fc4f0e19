// Blob downloads from a registry straight into the content store: streamed through a
// BlobWriter (hashed as written), resumed with a Range request after a transient error,
// committed only when digest and size match, several at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

#include "oci/descriptor.h"
#include "registry/client.h"

namespace mkimg::oci {
class Store;
}  // namespace mkimg::oci

namespace mkimg::registry {

/// Downloads one blob into `store` (a no-op when the store has it). Transient failures are
/// retried (options.retries in a row without progress) from the byte reached. Throws
/// mkimg::Error ("fetch blob `digest`: ...") with nothing stored when it cannot complete or
/// the content does not match `descriptor`.
void download_blob(RegistryClient& client, const oci::Store& store,
                   const oci::Descriptor& descriptor,
                   const std::function<void(std::string_view)>& progress = {});

/// Downloads the blobs the store lacks, up to options.parallel_blobs at a time, each on its
/// own clone of `client`. Throws the first error after every started download has stopped.
void download_blobs(const RegistryClient& client, const oci::Store& store,
                    const std::vector<oci::Descriptor>& blobs,
                    const std::function<void(std::string_view)>& progress = {});

}  // namespace mkimg::registry
