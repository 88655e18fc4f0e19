#include "builder/copy/git_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "builder/copy/rules.h"
#include "common/error.h"
#include "common/process.h"
#include "oci/digest.h"

namespace mkimg::builder {
namespace {

constexpr std::size_t kMaxGitOutput = std::size_t{1} << 20;

struct GitResult {
  int code = -1;
  std::string output;  ///< stdout and stderr, the first kMaxGitOutput bytes
};

/// Runs `git ARGS` in `cwd` with no prompt, no hooks and no local or ext:: transports.
GitResult run_git(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) {
  SpawnOptions o;
  o.argv = {"git",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "protocol.file.allow=never",
            "-c",
            "protocol.ext.allow=never"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.search_path = true;
  o.cwd = cwd;
  o.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  o.in = Redirect::null();
  o.out = Redirect::pipe();
  o.err = Redirect::to_stdout();
  o.close_other_fds = true;
  Process p;
  try {
    p = Process::spawn(o, "run");
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (git sources need git: apt-get install git)");
  }
  GitResult r;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(p.out().get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.output.size() < kMaxGitOutput) {
      r.output.append(
          buf, std::min<std::size_t>(static_cast<std::size_t>(n), kMaxGitOutput - r.output.size()));
    }
  }
  r.code = p.wait().shell_code();
  return r;
}

/// git's complaint, trimmed to its last line for an error message.
std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

bool is_commit_id(std::string_view s) { return s.size() == 40 && oci::is_lower_hex(s); }

std::string shown(const GitSource& s) { return s.remote + (s.ref.empty() ? "" : "#" + s.ref); }

/// Sets the mtime of every file below `dir` (not following symlinks) to `seconds`.
void set_times(const std::filesystem::path& dir, long long seconds) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(seconds);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    ::utimensat(AT_FDCWD, it->path().c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  ::utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

}  // namespace

GitSource parse_git_source(std::string_view text) {
  GitSource s;
  auto hash = text.find('#');
  s.remote = std::string(text.substr(0, hash));
  if (hash != std::string_view::npos) {
    std::string_view fragment = text.substr(hash + 1);
    auto colon = fragment.find(':');
    s.ref = std::string(fragment.substr(0, colon));
    if (colon != std::string_view::npos) s.subdir = clean_source(fragment.substr(colon + 1));
  }
  if (s.remote.empty()) throw Error(describe("git source", text, "no repository URL"));
  if (s.ref.starts_with("-") || s.remote.starts_with("-")) {
    throw Error(describe("git source", text, "a ref or URL may not start with '-'"));
  }
  return s;
}

std::string resolve_git_commit(const GitSource& source) {
  if (is_commit_id(source.ref)) return source.ref;
  std::vector<std::string> args{"ls-remote", "--", source.remote};
  if (source.ref.empty()) {
    args.push_back("HEAD");
  } else {
    args.push_back(source.ref);
    args.push_back(source.ref + "^{}");
  }
  GitResult r = run_git(args);
  if (r.code != 0) {
    throw Error(describe("git ls-remote", shown(source), last_line(r.output)));
  }
  // Prefer a branch, then a tag (its peeled commit), then anything else that matched.
  std::string branch, peeled, tag, other;
  std::size_t start = 0;
  while (start < r.output.size()) {
    auto end = r.output.find('\n', start);
    if (end == std::string::npos) end = r.output.size();
    std::string line = r.output.substr(start, end - start);
    start = end + 1;
    auto tab = line.find('\t');
    if (tab == std::string::npos || !is_commit_id(line.substr(0, tab))) continue;
    std::string id = line.substr(0, tab), name = line.substr(tab + 1);
    const std::string& ref = source.ref.empty() ? std::string("HEAD") : source.ref;
    if (name == "refs/heads/" + ref) {
      branch = id;
    } else if (name == "refs/tags/" + ref + "^{}") {
      peeled = id;
    } else if (name == "refs/tags/" + ref) {
      tag = id;
    } else if (name == ref && other.empty()) {
      other = id;
    }
  }
  for (const auto* id : {&branch, &peeled, &tag, &other}) {
    if (!id->empty()) return *id;
  }
  throw Error(describe("git ls-remote", shown(source), "no such ref"));
}

void checkout_git(const GitSource& source, const std::string& commit,
                  const std::filesystem::path& dir, bool keep_git_dir) {
  auto fail = [&](const std::string& what, const GitResult& r) {
    return Error(describe(what, shown(source), last_line(r.output)));
  };
  std::filesystem::create_directory(dir);
  GitResult r = run_git({"init", "-q"}, dir);
  if (r.code != 0) throw fail("git init", r);
  // The ref as named (servers need not give an unadvertised commit), else the commit itself;
  // what was fetched must be the commit the key names.
  std::string want = source.ref.empty() ? "HEAD" : source.ref;
  r = run_git({"fetch", "-q", "--depth", "1", "--no-tags", "--", source.remote, want}, dir);
  if (r.code != 0 && want != commit) {
    r = run_git({"fetch", "-q", "--depth", "1", "--no-tags", "--", source.remote, commit}, dir);
  }
  if (r.code != 0) throw fail("git fetch", r);
  GitResult head = run_git({"rev-parse", "FETCH_HEAD^{commit}"}, dir);
  std::string fetched = last_line(head.output);
  if (head.code != 0 || fetched != commit) {
    throw Error(describe(
        "git fetch", shown(source),
        "got commit " + fetched + ", expected " + commit + " (the ref moved while the build ran)"));
  }
  r = run_git({"-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit}, dir);
  if (r.code != 0) throw fail("git checkout", r);
  GitResult time = run_git({"log", "-1", "--format=%ct", commit}, dir);
  if (time.code != 0) throw fail("git log", time);
  long long seconds = std::stoll(last_line(time.output));
  if (!keep_git_dir) std::filesystem::remove_all(dir / ".git");
  set_times(dir, seconds);
}

}  // namespace mkimg::builder
