// run_parallel on std::thread with an atomic cursor.
#include "registry/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mkimg::registry {

void run_parallel(std::size_t workers, std::size_t count,
                  const std::function<std::function<void(std::size_t)>()>& make_job) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mutex;
  auto worker = [&] {
    try {
      auto job = make_job();
      for (std::size_t i; !failed && (i = next++) < count;) job(i);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!first) first = std::current_exception();
      failed = true;
    }
  };
  std::size_t n = std::min(std::max<std::size_t>(workers, 1), count);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace mkimg::registry
