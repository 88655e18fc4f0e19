// The history and ArgsEscaped of a built image are BuildKit's (dockerfile2llb convert.go,
// convert_copy.go, convert_expose.go): each instruction's created_by with its values expanded,
// the comment "buildkit.dockerfile.v0", empty_layer for the metadata steps only, and a layer for
// every RUN, COPY, ADD and WORKDIR but WORKDIR /, even when it changed nothing.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class HistoryTest : public BuilderTest {
 protected:
  /// The image config of `tag` as stored.
  nlohmann::json config_of(const std::string& tag) {
    auto r = run_mkimg(store(), {"inspect", tag});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    std::string id = nlohmann::json::parse(r.out).at(0).at("Id").get<std::string>();
    return nlohmann::json::parse(read_file(store() / "oci/blobs/sha256" / id.substr(7)));
  }

  /// One line per history entry after the imported base's: "[empty] created_by".
  static std::vector<std::string> history_lines(const nlohmann::json& config) {
    std::vector<std::string> lines;
    const auto& history = config.at("history");
    EXPECT_EQ(history.at(0).value("created_by", ""), "mkimg import");
    for (std::size_t i = 1; i < history.size(); ++i) {
      const auto& h = history[i];
      EXPECT_EQ(h.value("comment", ""), "buildkit.dockerfile.v0") << h.dump();
      lines.push_back((h.value("empty_layer", false) ? "[empty] " : "") +
                      h.value("created_by", ""));
    }
    return lines;
  }

  static std::size_t layers_in_history(const nlohmann::json& config) {
    std::size_t n = 0;
    for (const auto& h : config.at("history")) n += h.value("empty_layer", false) ? 0 : 1;
    return n;
  }
};

TEST_F(HistoryTest, EveryInstructionIsRecordedAsBuildKitRecordsIt) {
  write_file(dir("ctx") / "a.txt", "a\n");
  write_file(dir("ctx") / "Dockerfile",
             "ARG BASE=busybox\n"
             "FROM ${BASE} AS first\n"
             "RUN echo one > /first.txt\n"
             "FROM ${BASE}\n"
             "ARG NB_UID=1000\n"
             "ARG GREETING\n"
             "ARG UNSET\n"
             "ENV HOME_DIR=/home/app PATH=/usr/bin:/bin\n"
             "LABEL org.example.name=\"demo app\" version=${NB_UID}\n"
             "RUN echo \"$GREETING\" > /greeting\n"
             "USER ${NB_UID}\n"
             "EXPOSE 80 8000-8001/udp\n"
             "HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 "
             "CMD wget -q -O- http://localhost/ || exit 1\n"
             "WORKDIR app\n"
             "WORKDIR /\n"
             "COPY --chown=${NB_UID}:${NB_UID} --chmod=640 a.txt ${HOME_DIR}/\n"
             "COPY --from=first /first.txt /first.txt\n"
             "ENTRYPOINT [\"/bin/sh\", \"-c\"]\n"
             "CMD echo \"hi there\"\n"
             "STOPSIGNAL SIGINT\n"
             "VOLUME /data /cache\n"
             "SHELL [\"/bin/sh\", \"-ec\"]\n"
             "RUN true\n"
             "ONBUILD RUN echo later\n"
             "MAINTAINER someone\n");
  auto r = build(dir("ctx"), {"-t", "hist:1", "--build-arg", "GREETING=hello"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto config = config_of("hist:1");
  std::vector<std::string> want = {
      "[empty] ARG NB_UID=1000",
      "[empty] ARG GREETING=hello",
      "[empty] ARG UNSET",
      "[empty] ENV HOME_DIR=/home/app PATH=/usr/bin:/bin",
      "[empty] LABEL org.example.name=demo app version=1000",
      "RUN |3 NB_UID=1000 GREETING=hello UNSET= /bin/sh -c echo \"$GREETING\" > /greeting "
      "# buildkit",
      "[empty] USER 1000",
      "[empty] EXPOSE [80/tcp 8000/udp 8001/udp]",
      "[empty] HEALTHCHECK {Test:[CMD-SHELL wget -q -O- http://localhost/ || exit 1] "
      "Interval:1m30s Timeout:500ms StartPeriod:0s StartInterval:0s Retries:3}",
      "WORKDIR /app",
      "[empty] WORKDIR /",
      "COPY --chown=1000:1000 --chmod=640 a.txt /home/app/ # buildkit",
      "COPY /first.txt /first.txt # buildkit",
      "[empty] ENTRYPOINT [\"/bin/sh\" \"-c\"]",
      "[empty] CMD [\"/bin/sh\" \"-c\" \"echo \\\"hi there\\\"\"]",
      "[empty] STOPSIGNAL SIGINT",
      "[empty] VOLUME [/data /cache]",
      "[empty] SHELL [/bin/sh -ec]",
      "RUN |3 NB_UID=1000 GREETING=hello UNSET= /bin/sh -ec true # buildkit",
      "[empty] MAINTAINER someone",
  };
  EXPECT_EQ(history_lines(config), want);
  // Every entry that is not empty_layer has its layer: `RUN true` too, an empty one.
  EXPECT_EQ(layers_in_history(config), config.at("rootfs").at("diff_ids").size());
  EXPECT_EQ(config.at("config").value("ArgsEscaped", false), true) << config.dump(2);
}

TEST_F(HistoryTest, ExecFormsInheritedArgsAndEmptyLayersRebuildToTheSameImage) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox AS base\n"
             "ARG V=1\n"
             "FROM base\n"
             "ENTRYPOINT echo hi\n"
             "WORKDIR /bin\n"
             "RUN true\n"
             "CMD [\"echo\", \"hello\"]\n");
  auto first = build(dir("ctx"), {"-t", "hist:2"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto config = config_of("hist:2");
  std::vector<std::string> want = {
      "[empty] ARG V=1",
      "[empty] ENTRYPOINT [\"/bin/sh\" \"-c\" \"echo hi\"]",
      "WORKDIR /bin",  // the directory was there: an empty layer, as BuildKit's mkdir -p
      "RUN |1 V=1 /bin/sh -c true # buildkit",
      "[empty] CMD [\"echo\" \"hello\"]",
  };
  EXPECT_EQ(history_lines(config), want);
  EXPECT_EQ(layers_in_history(config), config.at("rootfs").at("diff_ids").size());
  EXPECT_EQ(config.at("config").value("ArgsEscaped", false), true);
  // Cached, the rebuild gives the same image, empty layers and all.
  auto again = build(dir("ctx"), {"-t", "hist:2"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(image_id(again), image_id(first));
  EXPECT_EQ(count(again.err, "CACHED"), 2) << again.err;
}

TEST_F(HistoryTest, EntrypointAloneLeavesArgsEscapedUnset) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nENTRYPOINT [\"echo\"]\n");
  auto r = build(dir("ctx"), {"-t", "hist:3"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto config = config_of("hist:3");
  EXPECT_FALSE(config.at("config").value("ArgsEscaped", false)) << config.dump(2);
  EXPECT_EQ(history_lines(config), std::vector<std::string>{"[empty] ENTRYPOINT [\"echo\"]"});
}

}  // namespace
}  // namespace mkimg::testing
