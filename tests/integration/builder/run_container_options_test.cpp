// docker build's RUN container options with the real binary and runc: --add-host lines reach
// every RUN's /etc/hosts and never the image, --shm-size sizes /dev/shm (64 MiB unless asked),
// --ulimit sets the RUN process's limits; bad values fail naming the flag and the value; and
// what each option does to the step cache.
//
// Which Docker these follow: `docker build` with BuildKit as of BuildKit v0.10 / buildx 0.7
// (moby/buildkit#2384 and #2411 for the shm size, #2398 for ulimit; Docker 23's builder-next
// passes both on), which applies all three. Docker 20.10 under BuildKit applies --add-host (its
// builder-next sends add-hosts) but silently ignores --shm-size (docker/buildx#418: always 64M)
// and --ulimit (moby/moby#41997): there only the classic builder applied them, with the same
// meaning as here. The cache follows BuildKit's exec op key: the host names, the limits and the
// /dev/shm size are in it, an extra host's IP is not (docs/cache.md).
#include <string>
#include <vector>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class RunContainerOptionsTest : public BuilderTest {
 protected:
  static bool contains(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
  }
};

TEST_F(RunContainerOptionsTest, AddHostLinesAreInEveryRunsEtcHostsAndNeverInTheImage) {
  // The image has an /etc/hosts of its own: the RUN sees the generated one over it, the image
  // keeps its own.
  write_file(dir("ctx") / "hosts", "127.0.0.1\timage-own-hosts\n");
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\n"
             "COPY hosts /etc/hosts\n"
             "RUN cat /etc/hosts > /seen-hosts && cat /etc/hosts\n"
             "RUN echo second >> /etc/hosts && grep -c fd00::7 /etc/hosts > /second-run\n");
  auto r = build(dir("ctx"), {"-t", "hosts:1", "--add-host", "db.internal:10.1.2.3", "--add-host",
                              "v6host=fd00::7", "--add-host", "bracketed:[::1]"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(contains(r.err, "10.1.2.3\tdb.internal")) << r.err;  // the RUN's own output

  auto seen = run_image("hosts:1", {"cat", "/seen-hosts"});
  ASSERT_EQ(seen.exit_code, 0) << seen.all();
  EXPECT_TRUE(contains(seen.out, "127.0.0.1\tlocalhost")) << seen.out;
  EXPECT_TRUE(contains(seen.out, "10.1.2.3\tdb.internal\nfd00::7\tv6host\n::1\tbracketed\n"))
      << seen.out;
  EXPECT_FALSE(contains(seen.out, "image-own-hosts")) << seen.out;
  auto second = run_image("hosts:1", {"cat", "/second-run"});
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(second.out, "1\n");  // every RUN gets the lines, once

  auto image_hosts = run_image("hosts:1", {"cat", "/etc/hosts"});
  ASSERT_EQ(image_hosts.exit_code, 0) << image_hosts.all();
  EXPECT_EQ(image_hosts.out, "127.0.0.1\timage-own-hosts\n");  // not a line of ours in the layer
}

TEST_F(RunContainerOptionsTest, AddHostNamesAreInTheStepKeyTheirAddressesAreNot) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo built > /out\n");
  auto first = build(dir("ctx"), {"--add-host", "db:10.1.2.3"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(count(first.err, "CACHED"), 0) << first.err;
  // The same name at another address hits, as in BuildKit (its exec op key clears the IPs).
  auto moved = build(dir("ctx"), {"--add-host", "db=10.9.9.9"});
  ASSERT_EQ(moved.exit_code, 0) << moved.all();
  EXPECT_EQ(count(moved.err, "CACHED"), 1) << moved.err;
  EXPECT_EQ(image_id(moved), image_id(first));
  // Another name, or none, is another key.
  auto other = build(dir("ctx"), {"--add-host", "cache:10.1.2.3", "--explain"});
  ASSERT_EQ(other.exit_code, 0) << other.all();
  EXPECT_EQ(count(other.err, "CACHED"), 0) << other.err;
  EXPECT_TRUE(contains(other.err, "add-host")) << other.err;
  auto none = build(dir("ctx"));
  ASSERT_EQ(none.exit_code, 0) << none.all();
  EXPECT_EQ(count(none.err, "CACHED"), 0) << none.err;
}

TEST_F(RunContainerOptionsTest, ShmSizeSizesDevShmOfEveryRun) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\n"
             "RUN df -k /dev/shm | tail -n 1 | awk '{print $2}' > /shm-kib\n"
             "RUN df -k /dev/shm | tail -n 1 | awk '{print $2}' > /shm-kib-2\n");
  auto by_default = build(dir("ctx"), {"-t", "shm:default"});
  ASSERT_EQ(by_default.exit_code, 0) << by_default.all();
  auto dflt = run_image("shm:default", {"cat", "/shm-kib", "/shm-kib-2"});
  EXPECT_EQ(dflt.out, "65536\n65536\n") << dflt.all();  // Docker's 64 MiB

  auto asked = build(dir("ctx"), {"-t", "shm:128m", "--shm-size", "128m"});
  ASSERT_EQ(asked.exit_code, 0) << asked.all();
  EXPECT_EQ(count(asked.err, "CACHED"), 0) << asked.err;  // another size, another key
  auto big = run_image("shm:128m", {"cat", "/shm-kib", "/shm-kib-2"});
  EXPECT_EQ(big.out, "131072\n131072\n") << big.all();

  auto bytes = build(dir("ctx"), {"-t", "shm:bytes", "--shm-size", "33554432"});
  ASSERT_EQ(bytes.exit_code, 0) << bytes.all();
  auto small = run_image("shm:bytes", {"cat", "/shm-kib"});
  EXPECT_EQ(small.out, "32768\n") << small.all();

  // 64m is the default spelled out: the same containers, so the same key.
  auto spelled = build(dir("ctx"), {"--shm-size", "64m"});
  ASSERT_EQ(spelled.exit_code, 0) << spelled.all();
  EXPECT_EQ(count(spelled.err, "CACHED"), 2) << spelled.err;
  EXPECT_EQ(image_id(spelled), image_id(by_default));
}

TEST_F(RunContainerOptionsTest, UlimitSetsTheRunProcesssSoftAndHardLimits) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\n"
             "RUN echo \"$(ulimit -n) $(ulimit -Hn) $(ulimit -u) $(ulimit -Hu) $(ulimit -c)\" "
             "> /limits\n");
  auto r = build(dir("ctx"), {"-t", "limits:1", "--ulimit", "nofile=1024:2048", "--ulimit",
                              "nproc=5000:6000", "--ulimit", "core=-1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto limits = run_image("limits:1", {"cat", "/limits"});
  ASSERT_EQ(limits.exit_code, 0) << limits.all();
  EXPECT_EQ(limits.out, "1024 2048 5000 6000 unlimited\n");

  // The last --ulimit of a type wins, as docker's; other limits are another key.
  auto again = build(dir("ctx"), {"-t", "limits:2", "--ulimit", "nofile=10:20", "--ulimit",
                                  "nofile=512", "--explain"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED"), 0) << again.err;
  EXPECT_TRUE(contains(again.err, "ulimit")) << again.err;
  auto last = run_image("limits:2", {"cat", "/limits"});
  EXPECT_TRUE(contains(last.out, "512 512 ")) << last.all();

  // The same limits in another order are the same containers: a hit.
  auto reordered = build(dir("ctx"), {"--ulimit", "core=-1:-1", "--ulimit", "nproc=5000:6000",
                                      "--ulimit", "nofile=1024:2048"});
  ASSERT_EQ(reordered.exit_code, 0) << reordered.all();
  EXPECT_EQ(count(reordered.err, "CACHED"), 1) << reordered.err;
  EXPECT_EQ(image_id(reordered), image_id(r));
}

TEST_F(RunContainerOptionsTest, BadValuesFailNamingTheFlagAndTheValue) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN true\n");
  const std::vector<std::vector<std::string>> bad{
      {"--add-host", "db"},
      {"--add-host", "db:not-an-ip"},
      {"--add-host", "db:host-gateway"},
      {"--add-host", "bad name:1.2.3.4"},
      {"--ulimit", "nofile=abc"},
      {"--ulimit", "nofiles=1024"},
      {"--ulimit", "nofile=2048:1024"},
      {"--shm-size", "lots"},
      {"--shm-size", "-1"},
  };
  for (const auto& flag : bad) {
    auto r = build(dir("ctx"), flag);
    EXPECT_EQ(r.exit_code, 2) << flag[1] << ": " << r.all();  // a usage error
    EXPECT_EQ(r.err.rfind("mkimg: error: ", 0), 0u) << r.err;
    EXPECT_TRUE(contains(r.err, flag[0])) << flag[1] << ": " << r.err;
    EXPECT_TRUE(contains(r.err, flag[1])) << flag[1] << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;  // nothing built
  }
  // A limit the kernel will not grant fails before anything runs, not as runc's EPERM.
  auto beyond = build(dir("ctx"), {"--ulimit", "nofile=-1"});
  EXPECT_EQ(beyond.exit_code, 1) << beyond.all();
  EXPECT_TRUE(contains(beyond.err, "mkimg: error: --ulimit `nofile=-1`: ")) << beyond.err;
  EXPECT_TRUE(contains(beyond.err, "/proc/sys/fs/nr_open")) << beyond.err;
  EXPECT_FALSE(contains(beyond.err, "runc")) << beyond.err;
}

}  // namespace
}  // namespace mkimg::testing
