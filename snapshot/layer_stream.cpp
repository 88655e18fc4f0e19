#include "snapshot/layer_stream.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "common/archive_error.h"
#include "common/error.h"
#include "common/fd.h"
#include "oci/digest.h"
#include "oci/media_types.h"

namespace mkimg::snapshot {

namespace {
using Codec = oci::media_type::Compression;
constexpr std::size_t kInputBuffer = 256 * 1024;
}  // namespace

struct LayerStream::Impl {
  std::string name;
  ApplyLimits limits;
  BlobReader source;
  Codec codec = Codec::kNone;
  std::string in;  // compressed input buffer
  std::size_t in_pos = 0;
  bool in_eof = false;
  int64_t in_total = 0, out_total = 0;
  oci::Sha256 hash;
  z_stream z{};
  bool z_live = false, z_ended = false;
  ZSTD_DCtx* zstd = nullptr;
  bool zstd_frame_done = false;

  ~Impl() {
    if (z_live) inflateEnd(&z);
    ZSTD_freeDCtx(zstd);
  }

  Error error(const std::string& cause) const {
    return Error(name.empty() ? cause : describe("read layer", name, cause));
  }

  [[noreturn]] void fail(const std::string& cause) const { throw error(cause); }

  bool fill() {
    if (in_pos < in.size()) return true;
    if (in_eof) return false;
    in.resize(kInputBuffer);
    std::size_t n = 0;
    try {
      n = source(in.data(), in.size());
    } catch (const Error& e) {
      fail(e.what());
    }
    in.resize(n);
    in_pos = 0;
    in_total += static_cast<int64_t>(n);
    if (n == 0) in_eof = true;
    return n > 0;
  }

  void detect() {
    fill();
    codec = oci::media_type::sniff_compression(in);
    if (codec == Codec::kGzip) {
      if (inflateInit2(&z, 15 + 16) != Z_OK) fail("inflateInit2 failed");
      z_live = true;
    } else if (codec == Codec::kZstd) {
      zstd = ZSTD_createDCtx();
      if (zstd == nullptr) fail("ZSTD_createDCtx failed");
      ZSTD_DCtx_setParameter(zstd, ZSTD_d_windowLogMax, 27);
    }
  }

  std::size_t read_plain(char* out, std::size_t size) {
    if (!fill()) return 0;
    std::size_t n = std::min(size, in.size() - in_pos);
    std::memcpy(out, in.data() + in_pos, n);
    in_pos += n;
    return n;
  }

  std::size_t read_gzip(char* out, std::size_t size) {
    while (true) {
      if (z_ended) {  // a new member may follow (pigz, concatenated gzip)
        if (!fill()) return 0;
        inflateReset(&z);
        z_ended = false;
      }
      if (!fill()) fail("truncated gzip stream");
      z.next_in = reinterpret_cast<Bytef*>(in.data() + in_pos);
      z.avail_in = static_cast<uInt>(in.size() - in_pos);
      z.next_out = reinterpret_cast<Bytef*>(out);
      z.avail_out = static_cast<uInt>(size);
      int rc = inflate(&z, Z_NO_FLUSH);
      in_pos = in.size() - z.avail_in;
      if (rc == Z_STREAM_END)
        z_ended = true;
      else if (rc != Z_OK && rc != Z_BUF_ERROR)
        fail(std::string("corrupt gzip: ") + (z.msg ? z.msg : "inflate failed"));
      std::size_t n = size - z.avail_out;
      if (n > 0) return n;
    }
  }

  std::size_t read_zstd(char* out, std::size_t size) {
    while (true) {
      bool more = fill();
      ZSTD_inBuffer i{in.data() + in_pos, in.size() - in_pos, 0};
      ZSTD_outBuffer o{out, size, 0};
      std::size_t rc = ZSTD_decompressStream(zstd, &o, &i);
      in_pos += i.pos;
      if (ZSTD_isError(rc)) fail(std::string("corrupt zstd: ") + ZSTD_getErrorName(rc));
      if (i.pos > 0 || o.pos > 0) zstd_frame_done = rc == 0;
      if (o.pos > 0) return o.pos;
      if (!more) {
        if (!zstd_frame_done) fail("truncated zstd stream");
        return 0;
      }
    }
  }

  // Checked on every read, before the bytes are handed out: nothing past a cap is applied.
  void check_limits() const {
    if (out_total > limits.max_total_bytes) {
      fail("the uncompressed layer is " + over_layer_size_limit(limits.max_total_bytes));
    }
    if (out_total > limits.ratio_grace_bytes &&
        out_total / std::max<int64_t>(in_total, 1) > limits.max_ratio) {
      fail("the layer uncompresses to more than " + std::to_string(limits.max_ratio) +
           " times its compressed size, the limit");
    }
  }
};

std::string over_layer_size_limit(int64_t limit) {
  return "larger than the limit of " + std::to_string(limit) +
         " bytes (--max-layer-size, $MKIMG_MAX_LAYER_SIZE)";
}

LayerStream::LayerStream(const std::filesystem::path& blob, std::string name,
                         const ApplyLimits& limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->limits = limits;
  auto fd = std::make_shared<UniqueFd>(::open(blob.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*fd) throw sys_error("open layer", blob.string());
  impl_->source = [fd](void* data, std::size_t size) {
    ssize_t n;
    do n = ::read(fd->get(), data, size);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw Error(std::strerror(errno));  // named by fill()
    return static_cast<std::size_t>(n);
  };
  impl_->detect();
}

LayerStream::LayerStream(std::string name, BlobReader read, const ApplyLimits& limits)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->limits = limits;
  impl_->source = std::move(read);
  impl_->detect();
}

LayerStream::~LayerStream() = default;

std::size_t LayerStream::read(char* out, std::size_t size) {
  std::size_t n = 0;
  switch (impl_->codec) {
    case Codec::kNone:
      n = impl_->read_plain(out, size);
      break;
    case Codec::kGzip:
      n = impl_->read_gzip(out, size);
      break;
    case Codec::kZstd:
      n = impl_->read_zstd(out, size);
      break;
  }
  impl_->hash.update(out, n);
  impl_->out_total += static_cast<int64_t>(n);
  impl_->check_limits();
  return n;
}

void LayerStream::drain() {
  std::string buffer(kInputBuffer, '\0');
  while (read(buffer.data(), buffer.size()) > 0) {
  }
}

std::string LayerStream::diff_id() { return impl_->hash.finish().str(); }

int64_t LayerStream::tar_size() const { return impl_->out_total; }

Error LayerStream::error(const std::string& cause) const { return impl_->error(cause); }

TarOfStream::TarOfStream(LayerStream& stream, const std::function<bool()>& keep_going)
    : stream_(stream), keep_going_(keep_going), archive_(archive_read_new()) {
  archive_read_support_format_tar(archive_);  // tar only: nothing else is a layer
  if (archive_read_open(archive_, this, nullptr, read, nullptr) != ARCHIVE_OK) {
    Error e = failure("tar header");
    archive_read_free(archive_);
    throw e;
  }
}

Error TarOfStream::failure(const std::string& what) const {
  if (!error_.empty()) return Error(error_);
  return stream_.error(what + ": " + archive_message(archive_, "corrupt tar"));
}

TarOfStream::~TarOfStream() { archive_read_free(archive_); }

la_ssize_t TarOfStream::read(archive* a, void* self, const void** out) {
  auto* t = static_cast<TarOfStream*>(self);
  try {
    if (t->keep_going_ && !t->keep_going_()) {
      throw t->stream_.error("interrupted");
    }
    *out = t->buffer_.data();
    return static_cast<la_ssize_t>(t->stream_.read(t->buffer_.data(), t->buffer_.size()));
  } catch (const std::exception& e) {
    t->error_ = e.what();
    archive_set_error(a, EINVAL, "%s", e.what());
    return -1;
  }
}

}  // namespace mkimg::snapshot
