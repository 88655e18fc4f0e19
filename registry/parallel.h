// A small bounded pool for blob transfers: N threads take items until done or one fails.
#pragma once

#include <cstddef>
#include <functional>

namespace mkimg::registry {

/// Runs job(i) for every i in [0, count) on at most `workers` threads. Each thread first
/// calls `make_job()` for its own job function (its own connection). After the first
/// exception no new item starts; it is rethrown once every thread has stopped.
void run_parallel(std::size_t workers, std::size_t count,
                  const std::function<std::function<void(std::size_t)>()>& make_job);

}  // namespace mkimg::registry
