#include "snapshot/compressed_sink.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"
#include "snapshot/sha256.h"

namespace mkimg::snapshot {

namespace {

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("write", "layer blob");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

/// One block compressed as a whole gzip member (libdeflate): the members concatenate into
/// one valid gzip file (RFC 1952 2.2, as eStargz layers do), so blocks need nothing from
/// each other and the bytes depend on the input and the level only.
struct GzipBlock {
  std::string out;
};

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
using Compressor = std::unique_ptr<libdeflate_compressor, CompressorDeleter>;

GzipBlock gzip_member(libdeflate_compressor* c, const std::string& input) {
  GzipBlock block;
  block.out.resize(libdeflate_gzip_compress_bound(c, input.size()));
  std::size_t n =
      libdeflate_gzip_compress(c, input.data(), input.size(), block.out.data(), block.out.size());
  if (n == 0) throw Error(describe("compress", "layer", "libdeflate_gzip_compress failed"));
  block.out.resize(n);
  return block;
}

/// A gzip compression job and its slot for the result.
struct GzipJob {
  uint64_t index = 0;
  std::string input;
};

}  // namespace

struct CompressedSink::Impl {
  UniqueFd out;
  Compression compression;
  int level;
  std::string pending;
  Sha256Stream tar_hash, blob_hash;
  int64_t tar_size = 0, size = 0;
  int64_t flushed = 0;  // bytes handed to write-back already
  static constexpr int64_t kWriteBehind = 8 << 20;

  // gzip
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable job_ready, result_ready;
  std::deque<GzipJob> jobs;
  std::map<uint64_t, GzipBlock> results;
  std::string worker_error;
  bool stopping = false;
  uint64_t submitted = 0, written = 0;
  std::size_t max_in_flight = 4;

  // zstd
  ZSTD_CCtx* zstd = nullptr;

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    job_ready.notify_all();
    for (auto& t : workers) t.join();
    ZSTD_freeCCtx(zstd);
  }

  void emit(const char* data, std::size_t n) {
    write_all(out.get(), data, n);
    blob_hash.update(data, n);
    size += static_cast<int64_t>(n);
    // Start writing back what is written so far, so the fsync at the end has little left to
    // wait for (the file is fsynced before it is committed either way).
    if (size - flushed >= kWriteBehind) {
      ::sync_file_range(out.get(), flushed, size - flushed, SYNC_FILE_RANGE_WRITE);
      flushed = size;
    }
  }

  void worker_loop() {
    Compressor compressor(libdeflate_alloc_compressor(level));
    for (;;) {
      GzipJob job;
      {
        std::unique_lock lock(mu);
        job_ready.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      GzipBlock block;
      std::string error;
      try {
        if (!compressor) throw Error(describe("compress", "layer", "out of memory"));
        block = gzip_member(compressor.get(), job.input);
      } catch (const std::exception& e) {
        error = e.what();
      }
      {
        std::lock_guard lock(mu);
        if (!error.empty() && worker_error.empty()) worker_error = error;
        results.emplace(job.index, std::move(block));
      }
      result_ready.notify_all();
    }
  }

  void start_gzip(int threads) {
    max_in_flight = static_cast<std::size_t>(threads) * 2 + 1;
    for (int i = 0; i < threads; ++i) workers.emplace_back([this] { worker_loop(); });
  }

  /// Writes finished blocks in order; waits while more than `keep` blocks are in flight.
  void drain(std::size_t keep) {
    std::unique_lock lock(mu);
    while (submitted - written > keep) {
      result_ready.wait(lock, [&] { return !worker_error.empty() || results.count(written); });
      if (!worker_error.empty()) throw Error(worker_error);
      GzipBlock block = std::move(results.at(written));
      results.erase(written);
      ++written;
      lock.unlock();
      emit(block.out.data(), block.out.size());
      lock.lock();
    }
  }

  void submit_gzip(std::string block) {
    GzipJob job{submitted, std::move(block)};
    {
      std::lock_guard lock(mu);
      jobs.push_back(std::move(job));
      ++submitted;
    }
    job_ready.notify_one();
    drain(max_in_flight);
  }

  void finish_gzip() {
    if (submitted == 0) submit_gzip("");  // an empty input is still one (empty) member
    drain(0);
  }

  void start_zstd(int threads) {
    zstd = ZSTD_createCCtx();
    if (zstd == nullptr) throw Error(describe("compress", "layer", "ZSTD_createCCtx failed"));
    ZSTD_CCtx_setParameter(zstd, ZSTD_c_compressionLevel, level);
    // Any worker count >= 1 gives the same bytes; 0 (single-threaded mode) would not.
    ZSTD_CCtx_setParameter(zstd, ZSTD_c_nbWorkers, std::max(1, threads));
  }

  void zstd_stream(const std::string& block, ZSTD_EndDirective mode) {
    std::string buffer(ZSTD_CStreamOutSize(), '\0');
    ZSTD_inBuffer in{block.data(), block.size(), 0};
    for (;;) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      std::size_t left = ZSTD_compressStream2(zstd, &o, &in, mode);
      if (ZSTD_isError(left)) throw Error(describe("compress", "layer", ZSTD_getErrorName(left)));
      emit(buffer.data(), o.pos);
      bool done = (mode == ZSTD_e_continue) ? in.pos == in.size : left == 0;
      if (done) return;
    }
  }

  void flush_block() {
    if (pending.empty()) return;
    std::string block;
    block.swap(pending);
    pending.reserve(kBlockSize);
    switch (compression) {
      case Compression::none:
        emit(block.data(), block.size());
        break;
      case Compression::gzip:
        submit_gzip(std::move(block));
        break;
      case Compression::zstd:
        zstd_stream(block, ZSTD_e_continue);
        break;
    }
  }
};

CompressedSink::CompressedSink(UniqueFd out, Compression compression, int level, int threads)
    : impl_(std::make_unique<Impl>()) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->out = std::move(out);
  impl_->compression = compression;
  impl_->pending.reserve(kBlockSize);
  if (compression == Compression::gzip) {
    impl_->level = level > 0 ? level : 6;
    impl_->start_gzip(threads);
  } else if (compression == Compression::zstd) {
    impl_->level = level > 0 ? level : 3;
    impl_->start_zstd(threads);
  }
}

CompressedSink::~CompressedSink() = default;

void CompressedSink::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  impl_->tar_hash.update(p, size);
  impl_->tar_size += static_cast<int64_t>(size);
  while (size > 0) {
    std::size_t n = std::min(size, kBlockSize - impl_->pending.size());
    impl_->pending.append(p, n);
    p += n;
    size -= n;
    if (impl_->pending.size() == kBlockSize) impl_->flush_block();
  }
}

SinkResult CompressedSink::finish() {
  impl_->flush_block();
  if (impl_->compression == Compression::gzip) impl_->finish_gzip();
  if (impl_->compression == Compression::zstd) impl_->zstd_stream("", ZSTD_e_end);
  if (::fsync(impl_->out.get()) != 0) throw sys_error("fsync", "layer blob");
  return SinkResult{impl_->blob_hash.finish(), impl_->tar_hash.finish(), impl_->size,
                    impl_->tar_size};
}

}  // namespace mkimg::snapshot
