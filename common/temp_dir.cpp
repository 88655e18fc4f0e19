#include "common/temp_dir.h"

#include <stdlib.h>

#include <string>
#include <system_error>
#include <utility>

#include "common/error.h"
#include "common/parallel.h"

namespace mkimg {

TempDir::TempDir(const std::filesystem::path& parent, std::string_view prefix) {
  const std::string pattern = (parent / prefix).string() + "XXXXXX";
  std::string name = pattern;  // glibc fills in the X's even when mkdtemp fails
  if (::mkdtemp(name.data()) == nullptr) throw sys_error("create directory", pattern);
  path_ = std::move(name);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(other.release()) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = other.release();
  }
  return *this;
}

TempDir::~TempDir() { remove(); }

std::filesystem::path TempDir::release() { return std::exchange(path_, {}); }

void TempDir::remove_beside(Background& beside) {
  if (path_.empty()) return;
  beside.run([dir = path_] { remove_tree(dir); });
  path_.clear();  // only once the task runs: else the destructor removes it
}

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  remove_tree(path_);
  path_.clear();
}

void TempDir::remove_tree(const std::filesystem::path& dir) noexcept {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace mkimg
