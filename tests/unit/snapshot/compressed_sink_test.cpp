// The compressor's output does not depend on where a block is compressed: a layer that is one
// block is compressed on the caller's thread at finish() (no worker started), and its bytes are
// those a worker makes of the same block.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "snapshot/compressed_sink.h"
#include "tests/support/harness.h"
#include "tests/support/tar_builder.h"

namespace mkimg::snapshot {
namespace {

using mkimg::testing::TempDir;
using testing::pseudo_random;
using testing::read_bytes;

/// The threads of this process.
std::size_t threads_now() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

/// A sink into `path`, gzip level 6, 2 threads, members listed.
CompressedSink sink_into(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  return CompressedSink(std::move(fd), Compression::kGzip, 6, 2, true);
}

/// A path at which a block may end (the sink cuts there once it holds kMinMember bytes): the
/// first "cut-N" that splits `data` followed by one more byte into two members.
std::string cutting_path(const TempDir& tmp, const std::string& data) {
  for (int i = 0; i < 1000; ++i) {
    std::string path = "cut-" + std::to_string(i);
    CompressedSink probe = sink_into(tmp / "probe");
    probe.write(data.data(), data.size());
    probe.entry_start(path);
    probe.write("x", 1);
    if (probe.finish().members.size() == 2) return path;
  }
  return "";
}

TEST(CompressedSink, AOneBlockLayerIsTheBytesAWorkerMakes) {
  TempDir tmp;
  std::string data = pseudo_random(CompressedSink::kMinMember + 4096, 7);
  std::string path = cutting_path(tmp, data);
  ASSERT_FALSE(path.empty());

  // Compressed at finish(), on this thread: no worker is started.
  std::size_t before = threads_now();
  CompressedSink here = sink_into(tmp / "here");
  here.write(data.data(), data.size());
  SinkResult a = here.finish();
  EXPECT_EQ(threads_now(), before);

  // The same block ended by an entry's start before finish(): compressed by a worker.
  CompressedSink worker = sink_into(tmp / "worker");
  worker.write(data.data(), data.size());
  worker.entry_start(path);
  SinkResult b = worker.finish();
  EXPECT_EQ(threads_now(), before + 2);  // the sink's two workers, until it goes

  ASSERT_EQ(a.members.size(), 1u);
  ASSERT_EQ(b.members.size(), 1u);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.diff_id, b.diff_id);
  EXPECT_EQ(read_bytes(tmp / "here"), read_bytes(tmp / "worker"));
}

TEST(CompressedSink, AnEmptyLayerIsOneEmptyMember) {
  TempDir tmp;
  CompressedSink empty = sink_into(tmp / "empty");
  SinkResult r = empty.finish();
  EXPECT_EQ(r.members.size(), 1u);
  EXPECT_EQ(r.tar_size, 0);
  EXPECT_GT(r.size, 0);
}

}  // namespace
}  // namespace mkimg::snapshot
