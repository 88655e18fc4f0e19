// Running mkimg as an ordinary user, for the rootless tests: a system user with a chosen
// subordinate id range (scripts/make-rootless-user.sh), a copy of the binary that user may
// run, and commands run as that user through runuser.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace mkimg::testing {

/// A user mkimg runs as, with `range` ("START COUNT", or "" for no subordinate ids), and a
/// work directory it owns below `work` (which is opened to everyone: mkdtemp makes it 0700).
class RootlessUser {
 public:
  RootlessUser(std::string name, const std::string& range, const fs::path& work)
      : name_(std::move(name)), home_(work / name_) {
    std::vector<std::string> argv{(source_dir() / "scripts/make-rootless-user.sh").string(), name_};
    if (!range.empty()) {
      argv.push_back(range.substr(0, range.find(' ')));
      argv.push_back(range.substr(range.find(' ') + 1));
    }
    CommandResult made = run(argv);
    if (made.exit_code != 0) error_ = "make-rootless-user.sh " + name_ + ": " + made.all();
    ::chmod(work.c_str(), 0755);
    fs::create_directories(home_ / "bin");
    fs::copy_file(mkimg_binary(), binary(), fs::copy_options::overwrite_existing);
    ::chmod(binary().c_str(), 0755);
    give(home_);
  }

  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  /// A directory the user owns.
  const fs::path& home() const { return home_; }
  fs::path binary() const { return home_ / "bin/mkimg"; }

  /// Makes everything below `path` the user's (a context, a file to load).
  void give(const fs::path& path) const { run({"chown", "-R", name_ + ":", path.string()}); }

  /// argv run as the user (runuser keeps the environment but HOME, SHELL, USER, LOGNAME).
  CommandResult run_as(std::vector<std::string> argv,
                       const std::map<std::string, std::string>& env = {}) const {
    argv.insert(argv.begin(), {"runuser", "-u", name_, "--"});
    return run(argv, env);
  }
  /// mkimg as the user with its store at `root`.
  CommandResult mkimg(const fs::path& root, std::vector<std::string> args,
                      const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), {binary().string(), "--root", root.string()});
    return run_as(args, env);
  }

 private:
  std::string name_;
  fs::path home_;
  std::string error_;
};

}  // namespace mkimg::testing
