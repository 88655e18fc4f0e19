// TempDir: a new directory made with mkdtemp, removed with everything in it when its owner goes.
#pragma once

#include <filesystem>
#include <string_view>

namespace mkimg {

class Background;

/// Owns a directory made for one job (a bundle, a download, an unpacked tree) and removes it with
/// its contents on destruction; errors are ignored then, so whatever still holds it (a mount
/// point, a busy file) is for the owner to release first. Move-only: a moved-from TempDir owns
/// nothing and removes nothing.
class TempDir {
 public:
  /// mkdtemp("<parent>/<prefix>XXXXXX"): a new directory of mode 0700 owned by the caller.
  /// Throws mkimg::Error naming the template when it cannot be made.
  TempDir(const std::filesystem::path& parent, std::string_view prefix);
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  /// The directory; empty once moved from or released.
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

  /// Gives the directory up: it is left in place and returned.
  std::filesystem::path release();

  /// Gives the directory to `beside`, which removes it on its thread: for a caller whose next
  /// work should not wait for the removal (each rmdir costs 0.1-0.8 ms on an ext4 mounted with
  /// `discard`). This TempDir owns nothing afterwards.
  void remove_beside(Background& beside);

 private:
  void remove() noexcept;
  static void remove_tree(const std::filesystem::path& dir) noexcept;

  std::filesystem::path path_;
};

}  // namespace mkimg
