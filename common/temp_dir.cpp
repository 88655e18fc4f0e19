#include "common/temp_dir.h"

#include <stdlib.h>

#include <string>
#include <system_error>
#include <utility>

#include "common/error.h"

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

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

}  // namespace mkimg
