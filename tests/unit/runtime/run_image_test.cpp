// `mkimg run`'s changes to an image's config, as docker run makes them: the environment, the
// argv under --entrypoint, and the names --name accepts.
#include "runtime/run_image.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::runtime {
namespace {

using Strings = std::vector<std::string>;

TEST(RunImageEnv, LaterValuesReplaceInPlaceAndNewOnesAreAppended) {
  auto env = container_env({"PATH=/bin", "A=image", "B=keep"}, {"A=one", "C=new", "A=two"}, false);
  EXPECT_EQ(env, (Strings{"PATH=/bin", "A=two", "B=keep", "C=new"}));
}

TEST(RunImageEnv, DefaultPathOnlyWhenNoneAndTermOnlyForATerminal) {
  EXPECT_EQ(container_env({}, {"X=1"}, false),
            (Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "X=1"}));
  EXPECT_EQ(container_env({"PATH=/bin"}, {}, true), (Strings{"PATH=/bin", "TERM=xterm"}));
  EXPECT_EQ(container_env({"PATH=/bin"}, {"TERM=vt100"}, true),
            (Strings{"PATH=/bin", "TERM=vt100"}));
  EXPECT_EQ(container_env({}, {"PATH=/mine"}, false), (Strings{"PATH=/mine"}));
}

TEST(RunImageEnv, AnEmptyValueIsAValue) {
  EXPECT_EQ(container_env({"PATH=/bin", "A=x"}, {"A="}, false), (Strings{"PATH=/bin", "A="}));
}

oci::ContainerConfig config() {
  oci::ContainerConfig c;
  c.entrypoint = Strings{"/entry", "-x"};
  c.cmd = Strings{"default", "cmd"};
  return c;
}

RunOptions options(Strings command, std::optional<std::string> entrypoint = std::nullopt) {
  RunOptions o;
  o.image = "app:v1";
  o.command = std::move(command);
  o.entrypoint = std::move(entrypoint);
  return o;
}

TEST(RunImageArgs, EntrypointThenCommandOrCmd) {
  EXPECT_EQ(container_args(config(), options({})), (Strings{"/entry", "-x", "default", "cmd"}));
  EXPECT_EQ(container_args(config(), options({"mine"})), (Strings{"/entry", "-x", "mine"}));
}

TEST(RunImageArgs, EntrypointFlagReplacesEntrypointAndCmd) {
  EXPECT_EQ(container_args(config(), options({}, "/other")), (Strings{"/other"}));
  EXPECT_EQ(container_args(config(), options({"a", "b"}, "/other")), (Strings{"/other", "a", "b"}));
  // One word, never split: docker run --entrypoint "sh -c" looks for a program of that name.
  EXPECT_EQ(container_args(config(), options({}, "sh -c")), (Strings{"sh -c"}));
}

TEST(RunImageArgs, EmptyEntrypointClearsItAndNeedsACommand) {
  EXPECT_EQ(container_args(config(), options({"ls", "/"}, "")), (Strings{"ls", "/"}));
  try {
    container_args(config(), options({}, ""));
    FAIL() << "no command must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("app:v1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--entrypoint"), std::string::npos) << e.what();
  }
}

TEST(RunImageName, DockersRule) {
  for (const char* good : {"web", "a1", "My_app.2-x", "0abc"}) {
    EXPECT_TRUE(valid_container_name(good)) << good;
  }
  for (const char* bad : {"", "a", "-web", "_web", ".web", "we b", "we/b", "wé", "a:b", "a\nb"}) {
    EXPECT_FALSE(valid_container_name(bad)) << bad;
  }
}

}  // namespace
}  // namespace mkimg::runtime
