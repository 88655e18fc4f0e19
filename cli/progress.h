// Build progress, BuildKit-like. Four modes (--progress):
//   plain  every line as it comes: "# [stage-name 2/7] RUN make", the step's own output as
//          "# [stage-name 2/7] | line", "# [label] CACHED text", "# [label] DONE 1.2s" and
//          "# free-form note" lines. The default when stderr is not a terminal, or TERM=dumb.
//   tty    a live view redrawn in place (~10 Hz, from a ticker thread, with ANSI cursor-up and
//          erase): a "[+] Building 3.1s (4/7)" header, one line per step already started with
//          a running timer, then "CACHED" or "DONE 1.2s"; a running step's last 6 output lines
//          dimmed beneath it, collapsed when it finishes. Lines are cut to the terminal width
//          (TIOCGWINSZ), never wrapped; when the view is taller than the terminal, finished
//          steps at the top leave the live view. When the Progress is destroyed the view is
//          redrawn once more as a static summary; steps still running then (an exception is
//          unwinding) are marked ERROR and keep their last 20 output lines visible, and the
//          error message printed after it follows. NO_COLOR turns off colours (not the cursor
//          movement). spdlog lines are diverted (log_sink.h) and printed above the view.
//   rawjson  one JSON object per line, BuildKit's SolveStatus as `buildx --progress rawjson`
//          prints it, for CI systems that draw their own view: {"vertexes":[{digest, name,
//          started, completed, cached, error}]} when a step starts, is a cache hit, ends or
//          fails, and {"logs":[{vertex, stream, data (base64), timestamp}]} per output line
//          (stream 1: a RUN's stdout and stderr come through one pipe); mkimg's own log lines
//          are logs of stream 2 with no vertex; notes are vertexes that start and end at once.
//          A vertex digest is the sha256 of the step's label and text, so it is stable.
//   quiet  nothing (errors still come from main).
// Thread-safe: stages may run in parallel, each step is keyed by its label. The step with a
// label "name n/total" ends the previous running step of the same stage ("name") in the tty
// view: FROM has no done() call.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "builder/events.h"

namespace mkimg::cli {

/// How progress is shown (--progress).
enum class ProgressMode { kAuto, kPlain, kTty, kRawJson, kQuiet };

class LiveView;
class RawJsonView;

/// The progress printer of one build (writes to stderr): the engine's events rendered.
class Progress final : public builder::BuildEvents {
 public:
  explicit Progress(ProgressMode mode);
  /// tty: stops the ticker and leaves the final summary (a failed one while unwinding).
  ~Progress() override;
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// A step starts: "[label n/total] TEXT".
  void step(std::string_view label, std::string_view text) override;
  /// One line of a step's output.
  void output(std::string_view label, std::string_view line) override;
  /// The step was a cache hit.
  void cached(std::string_view label, std::string_view text) override;
  /// The step finished after `seconds`.
  void done(std::string_view label, double seconds) override;
  /// A free-form line ("writing image sha256:... done").
  void note(std::string_view line) override;
  /// tty: draws the final summary now and stops the live view (later calls print plainly
  /// below it); `failed` marks the steps still running as ERROR. No-op in the other modes.
  void finish(bool failed);
  /// The build failed with `message`: rawjson gives it to the steps still running as their
  /// error; then finish(true).
  void fail(const std::string& message);

  /// The mode in effect (auto resolved to plain or tty).
  ProgressMode mode() const { return mode_; }

 private:
  void print(const std::string& line);
  ProgressMode mode_;
  std::mutex mutex_;
  std::unique_ptr<LiveView> live_;
  std::unique_ptr<RawJsonView> json_;
  int uncaught_at_start_ = 0;
};

}  // namespace mkimg::cli
