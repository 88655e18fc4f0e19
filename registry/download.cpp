// download_blob's resume loop, and a small pool of threads for download_blobs.
#include "registry/download.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "oci/store.h"
#include "registry/parallel.h"

namespace mkimg::registry {
namespace {

std::string human_size(std::int64_t bytes) {
  char buf[32];
  if (bytes >= 1 << 20) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  return buf;
}

/// One attempt from `writer.size()`; a 200 answer to a Range request starts over.
void fetch_once(RegistryClient& client, const oci::Store& store, const oci::Descriptor& d,
                oci::BlobWriter& writer) {
  std::int64_t offset = writer.size();
  client.get_blob(
      d.digest, offset,
      [&](long status) {
        if (status == 200 && writer.size() > 0) writer = store.begin_blob(d.digest.algorithm());
      },
      [&](std::string_view bytes) {
        if (writer.size() + static_cast<std::int64_t>(bytes.size()) > d.size) {
          throw Error(describe("fetch blob", d.digest.str(),
                               "the registry sent more than the " + std::to_string(d.size) +
                                   " bytes the manifest names"));
        }
        writer.write(bytes);
      });
}

}  // namespace

void download_blob(RegistryClient& client, const oci::Store& store, const oci::Descriptor& d,
                   const std::function<void(std::string_view)>& progress) {
  if (store.has_blob(d.digest)) return;
  oci::BlobWriter writer = store.begin_blob(d.digest.algorithm());
  int failures = 0;
  const int retries = client.connection().options.retries;
  // Progress is a new high-water mark: a server that answers every resume with a fresh,
  // cut-short 200 restarts the writer each time and must not count as progress forever.
  std::int64_t reached = 0;
  for (;;) {
    try {
      fetch_once(client, store, d, writer);
      break;
    } catch (const TransportError& e) {
      if (writer.size() > reached) {
        reached = writer.size();
        failures = 0;
      }
      if (e.kind() != TransportError::Kind::kRetryable || ++failures > retries) {
        throw Error(describe("fetch blob", d.digest.str(), e.what()));
      }
      spdlog::debug("blob {}: retry from byte {}: {}", d.digest.str(), writer.size(), e.what());
      if (progress) {
        progress("retry " + d.digest.str() + " from byte " + std::to_string(writer.size()) + ": " +
                 e.what());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250 * failures));
    }
  }
  writer.commit(d.media_type, oci::BlobExpectation{d.digest, d.size});
  spdlog::debug("blob {}: downloaded {} bytes", d.digest.str(), d.size);
  if (progress) progress("fetched " + d.digest.str() + " (" + human_size(d.size) + ")");
}

void download_blobs(const RegistryClient& client, const oci::Store& store,
                    const std::vector<oci::Descriptor>& blobs,
                    const std::function<void(std::string_view)>& progress) {
  std::vector<oci::Descriptor> todo;
  for (const auto& d : blobs) {
    bool seen = std::any_of(todo.begin(), todo.end(),
                            [&](const oci::Descriptor& t) { return t.digest == d.digest; });
    if (!seen && !store.has_blob(d.digest)) todo.push_back(d);
  }
  std::mutex mutex;
  auto safe_progress = [&](std::string_view line) {
    std::lock_guard lock(mutex);
    if (progress) progress(line);
  };
  run_parallel(client.connection().options.parallel_blobs, todo.size(), [&] {
    auto mine = std::make_shared<RegistryClient>(client.clone());
    return [&, mine](std::size_t i) { download_blob(*mine, store, todo[i], safe_progress); };
  });
}

}  // namespace mkimg::registry
