#include "snapshot/compressed_sink.h"

#include <archive.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/copy_data.h"
#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::snapshot {

namespace {

/// A byte buffer that is not zeroed when it is made or grown: blocks are filled before they
/// are read, and buffers go back to a pool to be used for the next blocks.
struct Buffer {
  std::unique_ptr<char[]> bytes;
  std::size_t size = 0;
  std::size_t capacity = 0;

  char* data() { return bytes.get(); }
  const char* data() const { return bytes.get(); }
  /// Room for `n` bytes; the content is kept only when no new memory is needed.
  void reserve(std::size_t n) {
    if (n <= capacity) return;
    bytes.reset(new char[n]);
    capacity = n;
  }
};

/// One block compressed as a whole gzip member (libdeflate): the members concatenate into
/// one valid gzip file (RFC 1952 2.2, as eStargz layers do), so blocks need nothing from
/// each other and the bytes depend on the input and the level only.
struct GzipBlock {
  Buffer input;      // the uncompressed bytes: hashed into the diff_id in order
  Buffer out;        // the member
  std::string hash;  // "sha256:<hex>" of the input, when members are indexed
  bool reused = false;
  /// The earlier member copied without decompressing it (`input` holds none of its bytes):
  /// the diff_id's hash goes on from its tar_state.
  std::optional<std::size_t> unread;
};

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
using Compressor = std::unique_ptr<libdeflate_compressor, CompressorDeleter>;

void gzip_member(libdeflate_compressor* c, const Buffer& input, Buffer& out) {
  out.reserve(libdeflate_gzip_compress_bound(c, input.size));
  out.size = libdeflate_gzip_compress(c, input.data(), input.size, out.data(), out.capacity);
  if (out.size == 0) throw Error(describe("compress", "layer", "libdeflate_gzip_compress failed"));
}

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
using Decompressor = std::unique_ptr<libdeflate_decompressor, DecompressorDeleter>;

/// Reads the member at `where` of the earlier blob `fd` into `out`, when its size is possible
/// for `tar_size` uncompressed bytes.
bool read_member(int fd, const BlobMember& where, std::size_t tar_size, Buffer& out) {
  if (where.size < 18 || where.size > static_cast<int64_t>(tar_size) * 2 + 4096) return false;
  out.reserve(static_cast<std::size_t>(where.size));
  out.size = static_cast<std::size_t>(where.size);
  for (std::size_t done = 0; done < out.size;) {
    ssize_t n = ::pread(fd, out.data() + done, out.size - done,
                        static_cast<off_t>(where.offset + static_cast<int64_t>(done)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

/// Decompresses `member`, which must be exactly one gzip member of `size` bytes, into `into`.
bool decompress_member(libdeflate_decompressor* d, const Buffer& member, std::size_t size,
                       Buffer& into) {
  into.reserve(std::max<std::size_t>(size, 1));
  into.size = size;
  std::size_t in_used = 0, produced = 0;
  return libdeflate_gzip_decompress_ex(d, member.data(), member.size, into.data(), size, &in_used,
                                       &produced) == LIBDEFLATE_SUCCESS &&
         in_used == member.size && produced == size;
}

/// Reads the member at `where` of the earlier blob `fd` into `out` when it is exactly one gzip
/// member that decompresses to `input` (`scratch` holds the decompressed bytes): a damaged
/// blob or record never puts bytes into the new blob that are not what compression gives.
bool copy_member(int fd, const BlobMember& where, const Buffer& input, Buffer& out,
                 libdeflate_decompressor* d, Buffer& scratch) {
  return read_member(fd, where, input.size, out) &&
         decompress_member(d, out, input.size, scratch) &&
         std::memcmp(scratch.data(), input.data(), input.size) == 0;
}

/// Reads `where` of the earlier blob `fd` into `out` and decompresses it into `input`, which
/// must then hold `tar_size` bytes, hashing to the member's hash unless the whole blob was
/// checked (`blob_checked`); throws EarlierMismatch else.
void read_earlier_member(int fd, const BlobMember& where, std::size_t tar_size, Buffer& out,
                         Buffer& input, libdeflate_decompressor* d, bool blob_checked) {
  if (!d || !read_member(fd, where, tar_size, out) || !decompress_member(d, out, tar_size, input) ||
      (!blob_checked &&
       oci::sha256_of(std::string_view(input.data(), input.size)).str() != where.hash)) {
    throw EarlierMismatch("the earlier layer's member at " + std::to_string(where.offset) +
                          " is not what its record says");
  }
}

/// What makes a member's bytes: the libraries' versions and the level, and the bytes this
/// libdeflate gives for a fixed probe at that level (the shared library may be newer than the
/// header mkimg was built with).
std::string member_format(int level) {
  static std::mutex mu;
  static std::map<int, std::string> known;
  std::lock_guard lock(mu);
  if (auto it = known.find(level); it != known.end()) return it->second;
  std::string probe;
  for (unsigned i = 0; probe.size() < 65536; ++i) {
    probe += "mkimg probe " + std::to_string(i * 2654435761u % 1000003u) + "\n";
  }
  std::string hash = "none";
  Compressor c(libdeflate_alloc_compressor(level));
  if (c) {
    std::string out(libdeflate_gzip_compress_bound(c.get(), probe.size()), '\0');
    out.resize(
        libdeflate_gzip_compress(c.get(), probe.data(), probe.size(), out.data(), out.size()));
    hash = oci::sha256_of(out).encoded().substr(0, 16);
  }
  std::string format = std::string(archive_version_string()) + " libdeflate " +
                       LIBDEFLATE_VERSION_STRING + " gzip " + std::to_string(level) + " probe " +
                       hash;
  known.emplace(level, format);
  return format;
}

/// A gzip compression job and its slot for the result: compress `input`, or, with `copy`,
/// copy that member of the earlier blob (and decompress it into `input`, unless `unread`).
struct GzipJob {
  uint64_t index = 0;
  Buffer input;
  std::optional<std::size_t> copy;
  bool unread = false;
};

/// A range of the earlier layer's tar in the pending block, at `at`.
struct EarlierPiece {
  std::size_t at = 0;
  int64_t offset = 0;
  int64_t size = 0;
};

/// FNV-1a: a stable hash of an entry's path (the member cut points must not depend on the
/// platform or the library).
uint64_t path_hash(std::string_view path) {
  uint64_t h = 14695981039346656037ull;
  for (char c : path) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

struct CompressedSink::Impl {
  UniqueFd out;
  Compression compression;
  int level;
  Buffer pending;
  oci::ResumableSha256 tar_hash;
  oci::Sha256 blob_hash;
  int64_t tar_size = 0, size = 0;
  int64_t flushed = 0;  // bytes handed to write-back already
  static constexpr int64_t kWriteBehind = 8 << 20;

  // gzip
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable job_ready, result_ready;
  std::deque<GzipJob> jobs;
  std::map<uint64_t, GzipBlock> results;
  std::vector<Buffer> spare;  // buffers of finished blocks, for the next ones
  std::string worker_error;
  bool worker_mismatch = false;  // worker_error is an EarlierMismatch
  bool stopping = false;
  uint64_t submitted = 0, written = 0;
  std::size_t max_in_flight = 4;
  int worker_count = 1;    ///< started with the first block submitted before finish()
  bool finishing = false;  ///< finish() is flushing the last block
  bool index_members = false;
  UniqueFd reuse_fd;
  bool blob_checked = false;  ///< reuse_fd's whole blob hashed to its digest
  std::unordered_map<std::string, BlobMember> reuse;  // by the hash of the input
  std::vector<BlobMember> members;
  int64_t members_reused = 0;
  int64_t tar_written = 0;  // tar bytes of the blocks written so far
  // While every block so far is the earlier member of its index, copied unread (a checked
  // blob only): then `resume_from` is the tar_state of the last of them, which tar_hash takes
  // up before it hashes anything else.
  bool all_unread = true;
  int64_t tar_submitted = 0;  // tar bytes of the blocks submitted so far
  std::string resume_from;
  int64_t members_unread = 0;

  // The earlier layer's members (blob order) and where its tar ends, when entries may be taken
  // from it; `pieces` are the earlier ranges in `pending`.
  std::vector<BlobMember> earlier;
  int64_t earlier_tar_size = 0;
  std::vector<EarlierPiece> pieces;
  Decompressor reader;  // the caller's, for blocks that mix earlier bytes with new ones
  std::optional<std::size_t> cached;  // the earlier member decompressed in `cached_bytes`
  Buffer cached_bytes, cached_scratch;

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

  Buffer take_spare() {
    std::lock_guard lock(mu);
    if (spare.empty()) return {};
    Buffer b = std::move(spare.back());
    spare.pop_back();
    return b;
  }

  void emit(const char* data, std::size_t n) {
    write_fd_data(out.get(), std::string_view(data, n), "layer blob");
    blob_hash.update(data, n);
    size += static_cast<int64_t>(n);
    // Start writing back what is written so far, so the fsync at the end has little left to
    // wait for.
    if (size - flushed >= kWriteBehind) {
      ::sync_file_range(out.get(), flushed, size - flushed, SYNC_FILE_RANGE_WRITE);
      flushed = size;
    }
  }

  /// What a gzip job needs: a compressor, a decompressor when there is an earlier layer.
  struct JobTools {
    Compressor compressor;
    Decompressor decompressor;
    Buffer scratch;
  };
  JobTools job_tools() {
    return {
        Compressor(libdeflate_alloc_compressor(level)),
        Decompressor(reuse.empty() && earlier.empty() ? nullptr : libdeflate_alloc_decompressor()),
        Buffer()};
  }

  void worker_loop() {
    JobTools tools = job_tools();
    for (;;) {
      GzipJob job;
      {
        std::unique_lock lock(mu);
        job_ready.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      run_job(std::move(job), tools);
    }
  }

  /// Compresses (or copies) one block and files its result for drain().
  void run_job(GzipJob job, JobTools& tools) {
    Compressor& compressor = tools.compressor;
    Decompressor& decompressor = tools.decompressor;
    Buffer& scratch = tools.scratch;
    GzipBlock block;
    {
      std::lock_guard lock(mu);
      if (!spare.empty()) {
        block.out = std::move(spare.back());
        spare.pop_back();
      }
    }
    {
      std::string error;
      bool mismatch = false;
      try {
        if (!compressor) throw Error(describe("compress", "layer", "out of memory"));
        if (job.unread) {
          const BlobMember& m = earlier[*job.copy];
          if (!read_member(reuse_fd.get(), m, earlier_size(*job.copy), block.out)) {
            throw EarlierMismatch("the earlier layer's member at " + std::to_string(m.offset) +
                                  " cannot be read");
          }
          block.hash = m.hash;
          block.reused = true;
          block.unread = job.copy;
        } else if (job.copy) {
          const BlobMember& m = earlier[*job.copy];
          read_earlier_member(reuse_fd.get(), m, earlier_size(*job.copy), block.out, job.input,
                              decompressor.get(), blob_checked);
          block.hash = m.hash;
          block.reused = true;
        } else {
          if (index_members) {
            block.hash = oci::sha256_of(std::string_view(job.input.data(), job.input.size)).str();
          }
          if (auto it = reuse.find(block.hash); it != reuse.end() && decompressor) {
            block.reused = copy_member(reuse_fd.get(), it->second, job.input, block.out,
                                       decompressor.get(), scratch);
          }
          if (!block.reused) gzip_member(compressor.get(), job.input, block.out);
        }
      } catch (const EarlierMismatch& e) {
        error = e.what();
        mismatch = true;
      } catch (const std::exception& e) {
        error = e.what();
      }
      {
        std::lock_guard lock(mu);
        if (!error.empty() && worker_error.empty()) {
          worker_error = error;
          worker_mismatch = mismatch;
        }
        block.input = std::move(job.input);
        results.emplace(job.index, std::move(block));
      }
      result_ready.notify_all();
    }
  }

  /// The workers start with the first block submitted before finish(): a layer that is one
  /// block (a one-line RUN's) is compressed on the caller's thread, no thread started (the
  /// same bytes: only the level decides them).
  void start_gzip(int threads) {
    max_in_flight = static_cast<std::size_t>(threads) * 2 + 1;
    worker_count = threads;
  }

  /// Writes finished blocks in order; waits while more than `keep` blocks are in flight.
  void drain(std::size_t keep) {
    std::unique_lock lock(mu);
    while (submitted - written > keep) {
      result_ready.wait(lock, [&] { return !worker_error.empty() || results.count(written); });
      if (!worker_error.empty()) {
        if (worker_mismatch) throw EarlierMismatch(worker_error);
        throw Error(worker_error);
      }
      GzipBlock block = std::move(results.at(written));
      results.erase(written);
      ++written;
      lock.unlock();
      int64_t tar_offset = tar_written;
      std::string tar_state;
      if (block.unread) {
        tar_state = resume_from = earlier[*block.unread].tar_state;
        tar_written += static_cast<int64_t>(earlier_size(*block.unread));
        ++members_unread;
      } else {
        resume_hash();
        tar_hash.update(block.input.data(), block.input.size);
        tar_written += static_cast<int64_t>(block.input.size);
        if (index_members) tar_state = tar_hash.mid_state();
      }
      if (index_members) {
        members.push_back({std::move(block.hash), size, static_cast<int64_t>(block.out.size),
                           tar_offset, std::move(tar_state)});
        members_reused += block.reused ? 1 : 0;
      }
      emit(block.out.data(), block.out.size);
      lock.lock();
      spare.push_back(std::move(block.out));
      spare.push_back(std::move(block.input));
    }
  }

  /// Takes up the earlier layer's hash state after the members copied unread, once.
  void resume_hash() {
    if (resume_from.empty()) return;
    if (!tar_hash.resume(resume_from, static_cast<uint64_t>(tar_written))) {
      throw EarlierMismatch("the earlier layer's hash state is not one");
    }
    resume_from.clear();
  }

  void submit_gzip(Buffer block, std::optional<std::size_t> copy = std::nullopt) {
    // Unread while the blocks are the earlier layer's first members, in order: the tar so far
    // is then the earlier tar up to here, and the hash state after it is the earlier one.
    int64_t start = tar_submitted;
    tar_submitted += static_cast<int64_t>(block.size);
    all_unread = all_unread && copy && *copy == submitted && blob_checked &&
                 start == earlier[*copy].tar_offset && !earlier[*copy].tar_state.empty();
    GzipJob job{submitted, std::move(block), copy, all_unread};
    if (workers.empty() && finishing && submitted == 0) {  // the whole layer is this block
      ++submitted;
      JobTools tools = job_tools();
      run_job(std::move(job), tools);
      drain(0);
      return;
    }
    if (workers.empty()) {
      for (int i = 0; i < worker_count; ++i) workers.emplace_back([this] { worker_loop(); });
    }
    {
      std::lock_guard lock(mu);
      jobs.push_back(std::move(job));
      ++submitted;
    }
    job_ready.notify_one();
    drain(max_in_flight);
  }

  void finish_gzip() {
    if (submitted == 0) {  // an empty input is still one (empty) member
      Buffer empty;
      empty.reserve(1);
      submit_gzip(std::move(empty));
    }
    drain(0);
  }

  void start_zstd(int threads) {
    zstd = ZSTD_createCCtx();
    if (zstd == nullptr) throw Error(describe("compress", "layer", "ZSTD_createCCtx failed"));
    ZSTD_CCtx_setParameter(zstd, ZSTD_c_compressionLevel, level);
    // Any worker count >= 1 gives the same bytes; 0 (single-threaded mode) would not.
    ZSTD_CCtx_setParameter(zstd, ZSTD_c_nbWorkers, std::max(1, threads));
  }

  void zstd_stream(const char* data, std::size_t n, ZSTD_EndDirective mode) {
    std::string buffer(ZSTD_CStreamOutSize(), '\0');
    ZSTD_inBuffer in{data, n, 0};
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
    if (pending.size == 0) return;
    switch (compression) {
      case Compression::kNone:
        tar_hash.update(pending.data(), pending.size);
        emit(pending.data(), pending.size);
        pending.size = 0;
        break;
      case Compression::kGzip: {
        // A block that is exactly one earlier member is that member, copied; earlier bytes
        // mixed with new ones are decompressed here and the block compressed as any other.
        std::optional<std::size_t> copy;
        if (pieces.size() == 1 && pieces[0].at == 0 &&
            pieces[0].size == static_cast<int64_t>(pending.size)) {
          copy = earlier_member_at(pieces[0].offset);
          if (copy && earlier_size(*copy) != pending.size) copy.reset();
        }
        if (!copy) {
          for (const auto& piece : pieces) fill_from_earlier(piece);
        }
        pieces.clear();
        Buffer block = take_spare();
        std::swap(block, pending);
        pending.reserve(kBlockSize);
        pending.size = 0;
        submit_gzip(std::move(block), copy);
        break;
      }
      case Compression::kZstd:
        tar_hash.update(pending.data(), pending.size);
        zstd_stream(pending.data(), pending.size, ZSTD_e_continue);
        pending.size = 0;
        break;
    }
  }

  /// How many tar bytes earlier member `i` holds (up to the next one, or the tar's end).
  std::size_t earlier_size(std::size_t i) const {
    int64_t end = i + 1 < earlier.size() ? earlier[i + 1].tar_offset : earlier_tar_size;
    return static_cast<std::size_t>(end - earlier[i].tar_offset);
  }

  /// The earlier member that starts at `tar_offset` of the earlier tar.
  std::optional<std::size_t> earlier_member_at(int64_t tar_offset) const {
    auto it = std::lower_bound(earlier.begin(), earlier.end(), tar_offset,
                               [](const BlobMember& m, int64_t t) { return m.tar_offset < t; });
    if (it == earlier.end() || it->tar_offset != tar_offset) return std::nullopt;
    return static_cast<std::size_t>(it - earlier.begin());
  }

  /// Copies `piece` of the earlier tar into the pending block, decompressing (and checking)
  /// the earlier members it spans; the last one stays decompressed for the next piece.
  void fill_from_earlier(const EarlierPiece& piece) {
    int64_t offset = piece.offset, left = piece.size;
    char* to = pending.data() + piece.at;
    while (left > 0) {
      auto it = std::upper_bound(earlier.begin(), earlier.end(), offset,
                                 [](int64_t t, const BlobMember& m) { return t < m.tar_offset; });
      if (it == earlier.begin()) throw EarlierMismatch("no earlier member holds this range");
      std::size_t i = static_cast<std::size_t>(it - earlier.begin()) - 1;
      int64_t within = offset - earlier[i].tar_offset;
      auto held = static_cast<int64_t>(earlier_size(i));
      if (within >= held) throw EarlierMismatch("no earlier member holds this range");
      if (cached != i) {
        cached.reset();
        read_earlier_member(reuse_fd.get(), earlier[i], earlier_size(i), cached_scratch,
                            cached_bytes, reader.get(), blob_checked);
        cached = i;
      }
      int64_t n = std::min(left, held - within);
      std::memcpy(to, cached_bytes.data() + within, static_cast<std::size_t>(n));
      to += n;
      offset += n;
      left -= n;
    }
  }
};

namespace {

/// True when `members` are contiguous in a blob of `blob_size` bytes and in the tar, from the
/// start of both, ending at `tar_size`: the sizes of their tar bytes are then known.
bool well_formed(const std::vector<BlobMember>& members, int64_t blob_size, int64_t tar_size) {
  int64_t at = 0, tar = -1;
  for (const auto& m : members) {
    if (m.offset != at || m.size <= 0 || m.offset > blob_size - m.size) return false;
    if (tar < 0 ? m.tar_offset != 0 : m.tar_offset <= tar) return false;
    if (m.tar_offset - std::max<int64_t>(tar, 0) >
        static_cast<int64_t>(CompressedSink::kBlockSize)) {
      return false;
    }
    at += m.size;
    tar = m.tar_offset;
  }
  return !members.empty() && at == blob_size && tar < tar_size &&
         tar_size - tar <= static_cast<int64_t>(CompressedSink::kBlockSize);
}

}  // namespace

CompressedSink::CompressedSink(UniqueFd out, Compression compression, int level, int threads,
                               bool index_members, const EarlierLayer* reuse)
    : impl_(std::make_unique<Impl>()) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->out = std::move(out);
  impl_->compression = compression;
  impl_->pending.reserve(kBlockSize);
  if (compression == Compression::kGzip) {
    impl_->level = level > 0 ? level : 6;
    impl_->index_members = index_members || reuse != nullptr;
    if (reuse && reuse->format == reuse_format(impl_->level)) {
      impl_->reuse_fd.reset(::open(reuse->blob.c_str(), O_RDONLY | O_CLOEXEC));
      if (impl_->reuse_fd && !reuse->digest.empty()) {
        // A blob that is not its digest is not used at all: the layer is written afresh.
        try {
          impl_->blob_checked =
              oci::digest_of_fd(oci::DigestAlgorithm::kSha256, impl_->reuse_fd.get(), reuse->blob)
                  .str() == reuse->digest;
        } catch (const Error&) {
          impl_->blob_checked = false;  // unreadable: not used either
        }
        if (!impl_->blob_checked) impl_->reuse_fd.reset();
      }
      struct stat st {};
      if (impl_->reuse_fd && ::fstat(impl_->reuse_fd.get(), &st) == 0) {
        for (const auto& m : reuse->members) {
          if (m.offset >= 0 && m.size > 0 && m.offset <= st.st_size - m.size) {
            impl_->reuse.emplace(m.hash, m);
          }
        }
        // Entries may be taken from it when its members are whole and in order.
        if (well_formed(reuse->members, st.st_size, reuse->tar_size)) {
          impl_->earlier = reuse->members;
          for (auto& m : impl_->earlier) {
            if (!oci::ResumableSha256::is_mid_state(m.tar_state)) m.tar_state.clear();
          }
          impl_->earlier_tar_size = reuse->tar_size;
          impl_->reader.reset(libdeflate_alloc_decompressor());
          if (!impl_->reader) impl_->earlier.clear();
        }
      }
    }
    impl_->start_gzip(threads);
  } else if (compression == Compression::kZstd) {
    impl_->level = level > 0 ? level : 3;
    impl_->start_zstd(threads);
  }
}

CompressedSink::~CompressedSink() = default;

void CompressedSink::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  impl_->tar_size += static_cast<int64_t>(size);
  Buffer& pending = impl_->pending;
  while (size > 0) {
    std::size_t n = std::min(size, kBlockSize - pending.size);
    std::memcpy(pending.data() + pending.size, p, n);
    pending.size += n;
    p += n;
    size -= n;
    if (pending.size == kBlockSize) impl_->flush_block();
  }
}

bool CompressedSink::has_earlier() const { return !impl_->earlier.empty(); }

int64_t CompressedSink::tar_offset() const { return impl_->tar_size; }

void CompressedSink::write_earlier(int64_t offset, int64_t size) {
  if (!has_earlier() || offset < 0 || size < 0) {
    throw EarlierMismatch("no earlier layer to take bytes from");
  }
  impl_->tar_size += size;
  Buffer& pending = impl_->pending;
  while (size > 0) {
    int64_t n = std::min<int64_t>(size, static_cast<int64_t>(kBlockSize - pending.size));
    // Entries that follow each other in the earlier tar too are one piece: a block that is
    // one piece can be an earlier member, copied.
    auto& pieces = impl_->pieces;
    if (!pieces.empty() && pieces.back().offset + pieces.back().size == offset &&
        pieces.back().at + static_cast<std::size_t>(pieces.back().size) == pending.size) {
      pieces.back().size += n;
    } else {
      pieces.push_back({pending.size, offset, n});
    }
    pending.size += static_cast<std::size_t>(n);
    offset += n;
    size -= n;
    if (pending.size == kBlockSize) impl_->flush_block();
  }
}

void CompressedSink::entry_start(std::string_view path) {
  if (impl_->compression == Compression::kGzip && impl_->pending.size >= kMinMember &&
      (path_hash(path) >> 32) % kCutOneIn == 0) {
    impl_->flush_block();
  }
}

SinkResult CompressedSink::finish() {
  impl_->finishing = true;
  impl_->flush_block();
  if (impl_->compression == Compression::kGzip) impl_->finish_gzip();
  impl_->resume_hash();  // every block was copied unread
  if (impl_->compression == Compression::kZstd) impl_->zstd_stream("", 0, ZSTD_e_end);
  // The flush is done here, on the thread that wrote the blob (a COPY's blob is written beside
  // its files), not by the store's commit, which then trusts it (oci::Verification). A pipe
  // (`build --output type=tar,dest=-`) has nothing to flush.
  struct stat out {};
  if (::fstat(impl_->out.get(), &out) == 0 && S_ISREG(out.st_mode) &&
      ::fsync(impl_->out.get()) != 0) {
    throw sys_error("fsync", "layer blob");
  }
  SinkResult r{impl_->blob_hash.finish().str(), impl_->tar_hash.finish().str(), impl_->size,
               impl_->tar_size};
  r.members = std::move(impl_->members);
  r.members_reused = impl_->members_reused;
  r.members_unread = impl_->members_unread;
  return r;
}

std::string reuse_format(int level) { return member_format(level > 0 ? level : 6); }

}  // namespace mkimg::snapshot
