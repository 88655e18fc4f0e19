// for_each_index / for_each_range: every index once, and the failure a loop on one thread
// would have thrown.
#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mkimg {
namespace {

TEST(Parallel, EveryIndexIsWorkedOnOnce) {
  for (std::size_t count : {0, 1, 2, 1000}) {
    std::vector<std::atomic<int>> seen(count);
    for_each_index(count, 4, [&](std::size_t i) { ++seen[i]; });
    for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(seen[i], 1) << count << " " << i;
  }
}

TEST(Parallel, TheLowestFailingIndexIsRethrown) {
  // Index 3 fails late, index 700 at once: a loop on one thread would have thrown 3's.
  for (int round = 0; round < 20; ++round) {
    try {
      for_each_index(1000, 4, [&](std::size_t i) {
        if (i == 3) {
          volatile long spin = 0;
          for (long k = 0; k < 200000; ++k) spin = spin + k;
          throw std::runtime_error("3");
        }
        if (i == 700 || i == 900) throw std::runtime_error(std::to_string(i));
      });
      FAIL() << "nothing thrown";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "3");
    }
  }
}

TEST(Parallel, NoNewIndexStartsAfterAFailure) {
  // Every other index takes 50 us, so the loop would need a second for all of them: the
  // failing thread would have to stand still for half of that to let them all start, however
  // loaded the machine (a bound on the count of started indexes was not: the other thread ran
  // a thousand empty indexes while the first was unwinding).
  constexpr std::size_t count = 20000;
  std::atomic<std::size_t> started{0};
  EXPECT_THROW(for_each_index(count, 2,
                              [&](std::size_t i) {
                                ++started;
                                if (i == 10) throw std::runtime_error("stop");
                                std::this_thread::sleep_for(std::chrono::microseconds(50));
                              }),
               std::runtime_error);
  EXPECT_LT(started.load(), count);
}

TEST(Parallel, RangesCoverTheIndexesOnceEachAtLeastMinRangeLong) {
  for (std::size_t count : {0, 1, 4095, 4096, 10001}) {
    std::vector<std::atomic<int>> seen(count);
    std::atomic<int> ranges{0};
    for_each_range(count, 8, 2048, [&](std::size_t begin, std::size_t end) {
      ++ranges;
      if (count >= 2048) {
        EXPECT_GE(end - begin, 2048u);
      }
      for (std::size_t i = begin; i < end; ++i) ++seen[i];
    });
    for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(seen[i], 1) << count << " " << i;
    EXPECT_LE(ranges, std::max<int>(1, static_cast<int>(count / 2048)));
  }
}

TEST(Parallel, BackgroundTasksRunBesideTheCallerAndWaitRethrows) {
  Background background;
  std::atomic<bool> release{false};
  std::atomic<int> done{0};
  // The task waits for the caller: run() returned before it ended.
  background.run([&] {
    while (!release) std::this_thread::yield();
    ++done;
  });
  background.run([] { throw std::runtime_error("task failed"); });
  release = true;
  EXPECT_THROW(
      {
        try {
          background.wait();
        } catch (const std::runtime_error& e) {
          EXPECT_EQ(std::string(e.what()), "task failed");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_EQ(done, 1);
  background.wait();  // the failure was reported once
}

TEST(Parallel, BackgroundJoinsItsTasksWhenDestroyed) {
  std::atomic<int> done{0};
  {
    Background background;
    background.run([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ++done;
    });
    background.run([] { throw std::runtime_error("dropped"); });
  }
  EXPECT_EQ(done, 1);
}

}  // namespace
}  // namespace mkimg
