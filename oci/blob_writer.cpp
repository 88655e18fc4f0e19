// BlobWriter: stream into tmp/, hash while writing, verify and rename into blobs/ on commit.
#include <unistd.h>

#include "common/error.h"
#include "oci/file_io.h"
#include "oci/store.h"

namespace mkimg::oci {
namespace {
constexpr std::size_t kBufferSize = 1 << 20;
}  // namespace

BlobWriter::BlobWriter(const Store& store, DigestAlgorithm algorithm)
    : store_(&store), hasher_(algorithm) {
  fd_ = detail::create_temp(store.tmp_dir() / "blob", path_);
  buffer_.reserve(kBufferSize);
}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : store_(other.store_),
      path_(std::move(other.path_)),
      fd_(std::move(other.fd_)),
      hasher_(std::move(other.hasher_)),
      buffer_(std::move(other.buffer_)),
      size_(other.size_) {
  other.path_.clear();
}

BlobWriter& BlobWriter::operator=(BlobWriter&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) ::unlink(path_.c_str());
    store_ = other.store_;
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    hasher_ = std::move(other.hasher_);
    buffer_ = std::move(other.buffer_);
    size_ = other.size_;
    other.path_.clear();
  }
  return *this;
}

BlobWriter::~BlobWriter() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

void BlobWriter::flush() {
  detail::write_all(fd_.get(), buffer_.data(), buffer_.size(), path_);
  buffer_.clear();
}

void BlobWriter::write(const void* data, std::size_t size) {
  if (path_.empty()) throw Error("write blob: the writer was already committed");
  hasher_.update(data, size);
  size_ += static_cast<std::int64_t>(size);
  if (buffer_.size() + size > kBufferSize) flush();
  if (size >= kBufferSize) {
    detail::write_all(fd_.get(), data, size, path_);
  } else {
    buffer_.append(static_cast<const char*>(data), size);
  }
}

Descriptor BlobWriter::commit(std::string_view media_type, const BlobExpectation& expected) {
  if (path_.empty()) throw Error("commit blob: the writer was already committed");
  flush();
  Digest digest = hasher_.finish();
  if (expected.digest && *expected.digest != digest) {
    throw Error(
        describe("commit blob", expected.digest->str(), "content has digest " + digest.str()));
  }
  if (expected.size && *expected.size != size_) {
    throw Error(describe(
        "commit blob", digest.str(),
        "expected " + std::to_string(*expected.size) + " bytes, got " + std::to_string(size_)));
  }
  detail::fsync_fd(fd_.get(), path_);
  fd_.reset();
  std::filesystem::path target = store_->blob_path(digest);
  if (::rename(path_.c_str(), target.c_str()) != 0) throw sys_error("rename", target.string());
  path_.clear();
  return Descriptor{.media_type = std::string(media_type), .digest = digest, .size = size_};
}

}  // namespace mkimg::oci
