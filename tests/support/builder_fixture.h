// Shared setup of the builder integration tests: a fresh store with the busybox base imported
// from the host's busybox-static, and helpers to build and run with the real binary and runc.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace mkimg::testing {

/// Two stages, each with a RUN whose output differs on every run; the last copies from the
/// first and its CMD prints both ids ("<first-id>\n<second-id>\n").
inline constexpr const char* kTwoStagesWithRandomIds =
    "FROM busybox AS first\n"
    "RUN cat /proc/sys/kernel/random/uuid > /first-id\n"
    "FROM busybox AS second\n"
    "RUN cat /proc/sys/kernel/random/uuid > /second-id\n"
    "COPY --from=first /first-id /first-id\n"
    "CMD [\"cat\", \"/first-id\", \"/second-id\"]\n";

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "builder integration tests need root (overlay, runc)";
    auto made = run(
        {(source_dir() / "scripts/make-busybox-root.sh").string(), (tmp_ / "busybox").string()});
    ASSERT_EQ(made.exit_code, 0) << made.all();
    auto imported = run_mkimg(store(), {"import", (tmp_ / "busybox").string(), "busybox:latest"});
    ASSERT_EQ(imported.exit_code, 0) << imported.all();
  }

  fs::path store() const { return tmp_ / "store"; }
  fs::path dir(const std::string& name) const { return tmp_ / name; }

  CommandResult build(const fs::path& context, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"build", "--progress", "plain"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(context.string());
    return run_mkimg(store(), args);
  }

  CommandResult run_image(const std::string& image, std::vector<std::string> cmd = {}) {
    std::vector<std::string> args{"run", "--rm", image};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return run_mkimg(store(), args);
  }

  /// The image id a build printed on stdout (its last line).
  static std::string image_id(const CommandResult& r) {
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  }

  static int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }

  TempDir tmp_;
};

}  // namespace mkimg::testing
