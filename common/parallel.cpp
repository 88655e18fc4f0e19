#include "common/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace mkimg {

std::size_t core_threads(std::size_t limit) {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1,
                                 std::max<std::size_t>(limit, 1));
}

void for_each_index(std::size_t count, std::size_t threads,
                    const std::function<void(std::size_t)>& work) {
  threads = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(count, 1));
  if (threads == 1) {
    for (std::size_t i = 0; i < count; ++i) work(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::size_t failed_at = count;  // the lowest failing index so far
  std::exception_ptr failure;
  auto loop = [&] {
    for (std::size_t i; (i = next++) < count;) {
      try {
        work(i);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (i < failed_at) {
          failed_at = i;
          failure = std::current_exception();
        }
        next = count;  // no new index; those started finish
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

void for_each_range(std::size_t count, std::size_t threads, std::size_t min_range,
                    const std::function<void(std::size_t, std::size_t)>& work) {
  std::size_t ranges = std::clamp<std::size_t>(count / std::max<std::size_t>(min_range, 1), 1,
                                               std::max<std::size_t>(threads, 1));
  std::size_t size = (count + ranges - 1) / ranges;
  for_each_index(ranges, ranges,
                 [&](std::size_t r) { work(r * size, std::min(count, (r + 1) * size)); });
}

Background::~Background() {
  try {
    wait();
  } catch (...) {
    // Dropped: the caller is unwinding from an error of its own, or never asked.
  }
}

void Background::run(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  threads_.emplace_back([this, task = std::move(task)] {
    try {
      task();
    } catch (...) {
      std::lock_guard failed(mutex_);
      if (!failure_) failure_ = std::current_exception();
    }
  });
}

void Background::wait() {
  std::vector<std::thread> running;
  {
    std::lock_guard lock(mutex_);
    running.swap(threads_);
  }
  for (auto& t : running) t.join();
  std::lock_guard lock(mutex_);
  if (auto failure = std::exchange(failure_, nullptr)) std::rethrow_exception(failure);
}

}  // namespace mkimg
