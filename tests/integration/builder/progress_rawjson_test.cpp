// --progress rawjson: stderr is one BuildKit SolveStatus JSON object per line (buildx's
// rawjson), the same events the plain view prints: each step a vertex that starts and
// completes (cached ones with "cached": true), each output line a base64 log of its vertex, a
// failed step a vertex with the error, and mkimg's own log lines logs without a vertex. The
// shape follows BuildKit's client.SolveStatus (Docker 20.10's buildx has no rawjson to compare).
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

#include "registry/encoding.h"
#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class ProgressRawJsonTest : public BuilderTest {
 protected:
  /// Every line of `err` but the final "mkimg: error:" lines, parsed; a line that is not JSON
  /// fails the test.
  std::vector<nlohmann::json> events(const std::string& err) {
    std::vector<nlohmann::json> out;
    std::istringstream in(err);
    std::string line;
    bool error_seen = false;
    while (std::getline(in, line)) {
      if (line.rfind("mkimg: error:", 0) == 0) error_seen = true;
      if (error_seen) continue;
      try {
        out.push_back(nlohmann::json::parse(line));
      } catch (const std::exception&) {
        ADD_FAILURE() << "not JSON: " << line;
      }
    }
    return out;
  }

  /// The vertexes by digest, each the last state seen, and the decoded log data per vertex.
  struct Seen {
    std::map<std::string, nlohmann::json> vertexes;
    std::map<std::string, int> starts;
    std::map<std::string, std::string> logs;
  };
  Seen collect(const std::vector<nlohmann::json>& evs) {
    Seen s;
    for (const auto& e : evs) {
      for (const auto& v : e.value("vertexes", nlohmann::json::array())) {
        auto d = v.at("digest").get<std::string>();
        if (!v.contains("completed")) ++s.starts[d];
        EXPECT_TRUE(v.contains("started")) << v;
        s.vertexes[d] = v;
      }
      for (const auto& l : e.value("logs", nlohmann::json::array())) {
        EXPECT_TRUE(l.contains("timestamp")) << l;
        auto data = registry::base64_decode(l.at("data").get<std::string>());
        EXPECT_TRUE(data.has_value()) << l;
        s.logs[l.at("vertex").get<std::string>()] += data.value_or("");
      }
    }
    return s;
  }

  static const nlohmann::json* named(const Seen& s, const std::string& name) {
    for (const auto& [d, v] : s.vertexes) {
      if (v.at("name") == name) return &v;
    }
    return nullptr;
  }
};

TEST_F(ProgressRawJsonTest, StepsLogsCacheHitsAndErrorsAreJsonLines) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nCOPY f /f\nRUN echo out; echo err >&2\n");
  write_file(dir("ctx") / "f", "x\n");
  auto first = run_mkimg(store(), {"--log-level", "debug", "build", "--progress", "rawjson", "-t",
                                   "raw:1", dir("ctx").string()});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  Seen s = collect(events(first.err));
  const nlohmann::json* run = named(s, "[3/3] RUN echo out; echo err >&2");
  ASSERT_NE(run, nullptr) << first.err;
  EXPECT_TRUE(run->contains("completed")) << *run;
  EXPECT_FALSE(run->value("cached", false));
  EXPECT_EQ(s.starts[run->at("digest").get<std::string>()], 1);
  const std::string& logged = s.logs[run->at("digest").get<std::string>()];
  EXPECT_TRUE(logged == "out\nerr\n" || logged == "err\nout\n") << logged;
  // FROM has no end of its own: the next step of the stage completes it.
  const nlohmann::json* from = named(s, "[1/3] FROM busybox");
  ASSERT_NE(from, nullptr) << first.err;
  EXPECT_TRUE(from->contains("completed")) << *from;
  // mkimg's own (debug) log lines are logs of stream 2 with no vertex.
  EXPECT_NE(s.logs[""].find("mkimg: [debug] layer committed"), std::string::npos) << first.err;

  auto again = run_mkimg(store(), {"build", "--progress", "rawjson", dir("ctx").string()});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  Seen c = collect(events(again.err));
  const nlohmann::json* cached = named(c, "[3/3] RUN echo out; echo err >&2");
  ASSERT_NE(cached, nullptr) << again.err;
  EXPECT_TRUE(cached->value("cached", false)) << *cached;
  EXPECT_EQ(cached->at("digest"), run->at("digest")) << "a step's vertex digest is stable";

  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo before; exit 3\n");
  auto failed = run_mkimg(store(), {"build", "--progress", "rawjson", dir("ctx").string()});
  EXPECT_EQ(failed.exit_code, 1) << failed.all();
  Seen f = collect(events(failed.err));
  const nlohmann::json* bad = named(f, "[2/2] RUN echo before; exit 3");
  ASSERT_NE(bad, nullptr) << failed.err;
  EXPECT_NE(bad->value("error", "").find("exit code: 3"), std::string::npos) << *bad;
  EXPECT_EQ(f.logs[bad->at("digest").get<std::string>()], "before\n");
  EXPECT_NE(failed.err.find("\nmkimg: error: Dockerfile:2: "), std::string::npos) << failed.err;
}

TEST_F(ProgressRawJsonTest, AnUnknownModeIsRefused) {
  auto r = run_mkimg(store(), {"build", "--progress", "json", dir("ctx").string()});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.err.find("json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mkimg::testing
