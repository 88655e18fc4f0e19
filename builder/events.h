// How the engine tells what a build is doing: one event per step started, output line, cache
// hit, finished step, and free-form note. The engine calls these and never knows a terminal;
// cli/progress.h renders them (plain, tty, quiet). Implementations must be safe to call from
// several threads at once: stages build in parallel. A step is named by its label, "stage n/total"
// (build_plan.h step_label); FROM has no done() call, the next step of the stage ends it.
#pragma once

#include <chrono>
#include <string_view>

namespace mkimg::builder {

/// The receiver of a build's progress events.
class BuildEvents {
 public:
  virtual ~BuildEvents() = default;
  /// A step starts: "[label] text", e.g. label "app 2/7", text "RUN make".
  virtual void step(std::string_view label, std::string_view text) = 0;
  /// One line of a running step's output.
  virtual void output(std::string_view label, std::string_view line) = 0;
  /// The step was a cache hit.
  virtual void cached(std::string_view label, std::string_view text) = 0;
  /// The step finished after `seconds`.
  virtual void done(std::string_view label, double seconds) = 0;
  /// A free-form line ("writing image sha256:... done", "cache miss: ...").
  virtual void note(std::string_view line) = 0;
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

/// Events nobody watches (tests, dry runs).
class NoEvents final : public BuildEvents {
 public:
  void step(std::string_view, std::string_view) override {}
  void output(std::string_view, std::string_view) override {}
  void cached(std::string_view, std::string_view) override {}
  void done(std::string_view, double) override {}
  void note(std::string_view) override {}
};

}  // namespace mkimg::builder
