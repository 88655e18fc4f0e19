#include "builder/stage_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace mkimg::builder {
namespace {

using namespace std::chrono_literals;

/// What the stages of a test did, in the order it happened.
class Journal {
 public:
  void add(std::string event) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    changed_.notify_all();
  }
  /// Waits (bounded, so a missing event fails the test instead of hanging it) for `event`.
  bool wait_for(const std::string& event) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 30s, [&] {
      return std::find(events_.begin(), events_.end(), event) != events_.end();
    });
  }
  std::size_t index(const std::string& event) {
    std::lock_guard lock(mutex_);
    return std::find(events_.begin(), events_.end(), event) - events_.begin();
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> events_;
};

TEST(StageScheduler, OneJobRunsTheBuildOrderOnTheCallingThread) {
  std::vector<StageNode> s{{"a", {}}, {"b", {}}, {"c", {0, 1}}};
  std::atomic<bool> cancel{false};
  std::vector<std::size_t> ran;
  const auto caller = std::this_thread::get_id();
  run_stages(s, {0, 1, 2}, 1, cancel, [&](std::size_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    ran.push_back(i);
  });
  EXPECT_EQ(ran, (std::vector<std::size_t>{0, 1, 2}));
}

TEST(StageScheduler, IndependentStagesRunAtTheSameTime) {
  std::vector<StageNode> s{{"a", {}}, {"b", {}}, {"final", {0, 1}}};
  std::atomic<bool> cancel{false};
  Journal j;
  std::atomic<bool> met{true};
  run_stages(s, {0, 1, 2}, 2, cancel, [&](std::size_t i) {
    j.add("start " + s[i].name);
    if (i == 0 && !j.wait_for("start b")) met = false;
    if (i == 1 && !j.wait_for("start a")) met = false;
    j.add("end " + s[i].name);
  });
  EXPECT_TRUE(met) << "each of two independent stages saw the other one running";
  EXPECT_GT(j.index("start final"), j.index("end a"));
  EXPECT_GT(j.index("start final"), j.index("end b"));
}

TEST(StageScheduler, AStageStartsOnlyAfterEveryStageItUses) {
  // base <- {left, right} <- final; tools independent.
  std::vector<StageNode> s{
      {"base", {}}, {"left", {0}}, {"right", {0}}, {"tools", {}}, {"final", {1, 2, 3, 1}}};
  std::atomic<bool> cancel{false};
  Journal j;
  run_stages(s, {0, 1, 2, 3, 4}, 4, cancel, [&](std::size_t i) {
    j.add("start " + s[i].name);
    std::this_thread::yield();
    j.add("end " + s[i].name);
  });
  EXPECT_EQ(j.events().size(), 10u);
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (std::size_t d : s[i].depends_on) {
      EXPECT_GT(j.index("start " + s[i].name), j.index("end " + s[d].name))
          << s[i].name << " started before " << s[d].name << " ended";
    }
  }
}

TEST(StageScheduler, FirstFailureCancelsTheOthersAndIsRethrown) {
  std::vector<StageNode> s{{"bad", {}}, {"slow", {}}, {"after-bad", {0}}, {"final", {1, 2}}};
  std::atomic<bool> cancel{false};
  Journal j;
  try {
    run_stages(s, {0, 1, 2, 3}, 2, cancel, [&](std::size_t i) {
      j.add("start " + s[i].name);
      if (i == 0) {
        j.wait_for("start slow");
        throw std::runtime_error("bad failed");
      }
      if (i == 1) {
        for (int n = 0; n < 3000 && !cancel; ++n) std::this_thread::sleep_for(10ms);
        j.add(cancel ? "slow saw cancel" : "slow not cancelled");
        throw std::runtime_error("slow cancelled");
      }
    });
    FAIL() << "expected the first failure";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "bad failed");
  }
  EXPECT_TRUE(cancel);
  EXPECT_LT(j.index("slow saw cancel"), j.events().size());
  EXPECT_EQ(j.index("start after-bad"), j.events().size()) << "a dependent of the failure ran";
  EXPECT_EQ(j.index("start final"), j.events().size());
}

TEST(StageScheduler, FailureWithOneJobStopsAtOnce) {
  std::vector<StageNode> s{{"a", {}}, {"b", {}}};
  std::atomic<bool> cancel{false};
  std::vector<std::size_t> ran;
  EXPECT_THROW(run_stages(s, {0, 1}, 1, cancel,
                          [&](std::size_t i) {
                            ran.push_back(i);
                            throw std::runtime_error("a failed");
                          }),
               std::runtime_error);
  EXPECT_EQ(ran, (std::vector<std::size_t>{0}));
}

TEST(StageScheduler, DefaultJobsIsBetweenOneAndFour) {
  EXPECT_GE(default_jobs(), 1u);
  EXPECT_LE(default_jobs(), 4u);
}

}  // namespace
}  // namespace mkimg::builder
