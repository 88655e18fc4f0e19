// Git sources, as BuildKit's git source and Dockerfile frontend read them, for `ADD <git URL>`
// and `--build-context NAME=<git URL>`: `https://host/repo.git#REF:SUBDIR`, `git@host:repo`,
// `git://` and `ssh://` URLs (is_git_source in url_source.h). The system `git` does the work:
// `git ls-remote` resolves REF (a branch, a tag, a full commit; HEAD when none) to a commit,
// which is what a cache key names; a checkout fetches only that commit into a directory of
// the store's tmp/. Credentials come from git's own means: the environment (GIT_*,
// credential helpers of the user's config) and, for ssh, SSH_AUTH_SOCK. git never prompts
// (GIT_TERMINAL_PROMPT=0) and runs no hooks. Submodules are not fetched.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mkimg::builder {

/// A git source split: the remote URL (without the fragment), the ref ("" for HEAD) and the
/// subdirectory ("" for the root).
struct GitSource {
  std::string remote;
  std::string ref;
  std::string subdir;
};

/// Splits `URL[#REF[:SUBDIR]]`; throws mkimg::Error naming `text` for a subdirectory that
/// leaves the repository.
GitSource parse_git_source(std::string_view text);

/// The commit `source.ref` names at the remote (40 lowercase hex digits); throws mkimg::Error
/// naming the remote and ref when git cannot reach it or the ref does not exist.
std::string resolve_git_commit(const GitSource& source);

/// Checks `commit` of `source.remote` out into the new directory `dir` (which must not exist),
/// every file's mtime set to the commit's time (so the same commit gives the same layer);
/// `.git` is removed unless `keep_git_dir`. Throws mkimg::Error naming the remote.
void checkout_git(const GitSource& source, const std::string& commit,
                  const std::filesystem::path& dir, bool keep_git_dir);

}  // namespace mkimg::builder
