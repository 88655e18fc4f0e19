// Build progress, BuildKit-like: "[stage-name 2/7] RUN make", the step's own output lines
// indented below it, "CACHED" or the step's time. plain: every line as it comes (the default
// when stderr is not a terminal); tty: the same with the step output of a finished step
// collapsed to its last lines; quiet: nothing but errors. Thread-safe: stages may run in
// parallel.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "builder/build.h"

namespace mkimg::builder {

/// The progress printer of one build (writes to stderr).
class Progress {
 public:
  explicit Progress(ProgressMode mode);

  /// A step starts: "[label n/total] TEXT".
  void step(std::string_view label, std::string_view text);
  /// One line of a step's output.
  void output(std::string_view label, std::string_view line);
  /// The step was a cache hit.
  void cached(std::string_view label, std::string_view text);
  /// The step finished after `seconds`.
  void done(std::string_view label, double seconds);
  /// A free-form line ("writing image sha256:... done").
  void note(std::string_view line);

 private:
  void print(const std::string& line);
  ProgressMode mode_;
  std::mutex mutex_;
};

/// Measures a step's time.
class StepTimer {
 public:
  StepTimer() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mkimg::builder
