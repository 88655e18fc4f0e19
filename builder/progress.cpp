#include "builder/progress.h"

#include <unistd.h>

#include <cstdio>

namespace mkimg::builder {

Progress::Progress(ProgressMode mode) : mode_(mode) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = ::isatty(STDERR_FILENO) ? ProgressMode::kTty : ProgressMode::kPlain;
  }
}

void Progress::print(const std::string& line) {
  if (mode_ == ProgressMode::kQuiet) return;
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::step(std::string_view label, std::string_view text) {
  if (mode_ == ProgressMode::kTty) {
    print("\x1b[1m=> [" + std::string(label) + "] " + std::string(text) + "\x1b[0m");
  } else {
    print("#" + std::string(" [") + std::string(label) + "] " + std::string(text));
  }
}

void Progress::output(std::string_view label, std::string_view line) {
  if (mode_ == ProgressMode::kTty) {
    print("\x1b[2m   " + std::string(line) + "\x1b[0m");
  } else {
    print("# [" + std::string(label) + "] | " + std::string(line));
  }
}

void Progress::cached(std::string_view label, std::string_view text) {
  print("# [" + std::string(label) + "] CACHED " + std::string(text));
}

void Progress::done(std::string_view label, double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "DONE %.1fs", seconds);
  print("# [" + std::string(label) + "] " + buf);
}

void Progress::note(std::string_view line) { print("# " + std::string(line)); }

}  // namespace mkimg::builder
