#include "builder/stage_scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace mkimg::builder {
namespace {

constexpr unsigned kMaxDefaultJobs = 4;

/// The shared state of one run: what each stage still waits for, what is ready, the first
/// error. Positions are indexes into the build order.
class Scheduler {
 public:
  Scheduler(const std::vector<StageNode>& stages, const std::vector<std::size_t>& order,
            std::atomic<bool>& cancel, const std::function<void(std::size_t)>& build_one)
      : order_(order), cancel_(cancel), build_one_(build_one) {
    std::vector<std::size_t> position(stages.size(), order.size());
    for (std::size_t p = 0; p < order.size(); ++p) position[order[p]] = p;
    waiting_.assign(order.size(), 0);
    dependents_.resize(order.size());
    for (std::size_t p = 0; p < order.size(); ++p) {
      std::vector<std::size_t> deps = stages[order[p]].depends_on;
      std::sort(deps.begin(), deps.end());
      deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
      for (std::size_t d : deps) {
        if (position[d] == order.size()) continue;  // not a stage of this build
        dependents_[position[d]].push_back(p);
        ++waiting_[p];
      }
      if (waiting_[p] == 0) ready_.insert(p);
    }
  }

  void run(unsigned jobs) {
    std::vector<std::thread> threads;
    std::size_t n = std::min<std::size_t>(jobs, order_.size());
    try {
      for (std::size_t t = 0; t < n; ++t) threads.emplace_back([this] { work(); });
    } catch (...) {
      fail(std::current_exception());
    }
    for (auto& t : threads) t.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_changed_.wait(lock,
                          [&] { return error_ || !ready_.empty() || done_ == order_.size(); });
      if (error_ || done_ == order_.size()) return;
      std::size_t p = *ready_.begin();
      ready_.erase(ready_.begin());
      lock.unlock();
      std::exception_ptr error;
      try {
        build_one_(order_[p]);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error) {
        record(error);
      } else {
        ++done_;
        for (std::size_t d : dependents_[p]) {
          if (--waiting_[d] == 0) ready_.insert(d);
        }
      }
      ready_changed_.notify_all();
    }
  }

  void fail(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    record(error);
    ready_changed_.notify_all();
  }

  void record(std::exception_ptr error) {  // mutex_ held
    if (error_) return;
    error_ = error;
    cancel_ = true;
  }

  const std::vector<std::size_t>& order_;
  std::atomic<bool>& cancel_;
  const std::function<void(std::size_t)>& build_one_;
  std::vector<std::size_t> waiting_;                  ///< unfinished stages each one uses
  std::vector<std::vector<std::size_t>> dependents_;  ///< the stages that use each one
  std::set<std::size_t> ready_;
  std::size_t done_ = 0;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable ready_changed_;
};

}  // namespace

unsigned default_jobs() {
  unsigned cores = std::thread::hardware_concurrency();
  return std::clamp(cores, 1u, kMaxDefaultJobs);
}

void run_stages(const std::vector<StageNode>& stages, const std::vector<std::size_t>& order,
                unsigned jobs, std::atomic<bool>& cancel,
                const std::function<void(std::size_t)>& build_one) {
  if (jobs <= 1) {
    for (std::size_t i : order) build_one(i);
    return;
  }
  Scheduler(stages, order, cancel, build_one).run(jobs);
}

}  // namespace mkimg::builder
