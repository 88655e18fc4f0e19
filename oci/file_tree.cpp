// FileTree: the files of a layout or archive, from a directory or a tar file.
#include <fcntl.h>

#include "common/error.h"
#include "oci/file_io.h"
#include "oci/sources.h"
#include "oci/tar_reader.h"

namespace mkimg::oci::detail {
namespace fs = std::filesystem;

namespace {

class FdStream : public BlobStream {
 public:
  FdStream(UniqueFd fd, fs::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  std::size_t read(void* data, std::size_t size) override {
    return read_some(fd_.get(), data, size, path_);
  }

 private:
  UniqueFd fd_;
  fs::path path_;
};

class DirectoryTree : public FileTree {
 public:
  explicit DirectoryTree(fs::path dir) : dir_(std::move(dir)) {}
  std::string name() const override { return dir_.string(); }
  std::unique_ptr<BlobStream> open(const std::string& relative) const override {
    auto clean = normalise_member(relative);
    if (!clean || clean->empty()) {
      throw Error(describe("open", relative, "path leaves the directory"));
    }
    fs::path path = dir_ / *clean;
    return std::make_unique<FdStream>(open_read(path), path);
  }

 private:
  fs::path dir_;
};

class TarTree : public FileTree {
 public:
  explicit TarTree(fs::path file) : file_(std::move(file)) {}
  std::string name() const override { return file_.string(); }
  std::unique_ptr<BlobStream> open(const std::string& relative) const override {
    return open_tar_member(file_, relative);
  }

 private:
  fs::path file_;
};

}  // namespace

std::string FileTree::read(const std::string& relative, std::size_t max_size) const {
  auto stream = open(relative);
  return read_stream(*stream, max_size, name() + ":" + relative);
}

std::unique_ptr<FileTree> directory_tree(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(describe("open", dir.string(), "not a directory"));
  return std::make_unique<DirectoryTree>(dir);
}

std::unique_ptr<FileTree> tar_tree(const fs::path& file) {
  if (!fs::is_regular_file(file)) {
    throw Error(
        describe("open", file.string(), fs::exists(file) ? "not a regular file" : "no such file"));
  }
  return std::make_unique<TarTree>(file);
}

}  // namespace mkimg::oci::detail
