// Work shared among the cores: the one place mkimg starts threads for a loop (walking a large
// source directory, hashing the files a memo did not know, fingerprinting layer entries,
// making a COPY's key parts).
#pragma once

#include <cstddef>
#include <functional>

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

}  // namespace mkimg
