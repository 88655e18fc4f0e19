// Work shared among the cores: the one place mkimg starts threads for a loop (walking a large
// source directory, hashing the files a memo did not know, fingerprinting layer entries,
// making a COPY's key parts, making a COPY's files on disk). Background runs tasks beside the
// caller (a COPY's recall record written while the next step runs, a COPY's blob written while its
// files are made, the container reaper spawned while a RUN's bundle is written or as a --no-cache
// build begins, the layer writer's set-up loaded while a container runs); two older spots still
// start a thread of their own for that (the memo loader, the recall loader).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mkimg {

/// Threads for work on every core: the machine's cores, at least 1 and at most `limit`.
std::size_t core_threads(std::size_t limit);

/// Calls work(i) once for each i in [0, count) on up to `threads` threads, the caller's among
/// them (no thread is started for a count of 0 or 1). Indexes are handed out in increasing
/// order; once one fails no new one is started, and when all are done the exception of the
/// lowest failing index is rethrown: what the same loop on one thread would have thrown.
void for_each_index(std::size_t count, std::size_t threads,
                    const std::function<void(std::size_t)>& work);

/// for_each_index() over [0, count) cut into one range a thread: work(begin, end), each range
/// of at least `min_range` indexes (one range, on the caller's thread, below 2 * min_range).
void for_each_range(std::size_t count, std::size_t threads, std::size_t min_range,
                    const std::function<void(std::size_t, std::size_t)>& work);

/// Tasks run on threads of their own while the caller goes on; wait() joins them and rethrows
/// the first task's exception. The destructor joins what is still running (a build that
/// failed or was interrupted waits for its tasks before it unwinds further) and drops their
/// errors.
class Background {
 public:
  Background() = default;
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void run(std::function<void()> task);
  void wait();

 private:
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::exception_ptr failure_;
};

}  // namespace mkimg
