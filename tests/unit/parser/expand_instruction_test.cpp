// expand(Instruction) expands exactly what BuildKit expands, and nothing else.
#include <gtest/gtest.h>

#include "common/error.h"
#include "parser/expand.h"
#include "parser/parse.h"

namespace {

using namespace mkimg::parser;
namespace p = mkimg::parser;

Environment test_env() {
  Environment env;
  set_variable(env, "DIR", "/srv");
  set_variable(env, "USER", "app");
  set_variable(env, "EMPTY", "");
  set_variable(env, "MODE", "0750");
  return env;
}

Instruction expanded(const std::string& line) {
  const Dockerfile d = parse("FROM x\n" + line + "\n");
  return expand(d.stages.at(0).instructions.at(0), test_env());
}

TEST(ExpandInstruction, CopyExpandsSourcesDestAndFlags) {
  const Copy c = std::get<Copy>(
      expanded("COPY --from=${USER}-build --chown=$USER:$USER --chmod=$MODE --exclude=$DIR/x "
               "$DIR/a \"${EMPTY:-b}\" ${DIR}/dest/")
          .body);
  EXPECT_EQ(c.from, "app-build");
  EXPECT_EQ(c.chown, "app:app");
  EXPECT_EQ(c.chmod, "0750");
  EXPECT_EQ(c.excludes, (std::vector<std::string>{"/srv/x"}));
  EXPECT_EQ(c.sources, (std::vector<std::string>{"/srv/a", "b"}));
  EXPECT_EQ(c.dest, "/srv/dest/");
}

TEST(ExpandInstruction, RunShellFormIsNotExpandedButMountsAre) {
  const p::Run r = std::get<p::Run>(
      expanded("RUN --mount=type=cache,target=$DIR/cache,mode=$MODE echo $DIR").body);
  EXPECT_EQ(std::get<ShellForm>(r.command).command, "echo $DIR");
  ASSERT_EQ(r.mounts.size(), 1u);
  EXPECT_EQ(r.mounts[0].target, "/srv/cache");
  EXPECT_EQ(r.mounts[0].mode, 0750u);
}

TEST(ExpandInstruction, BadMountValueAfterExpansionIsAnError) {
  EXPECT_THROW(expanded("RUN --mount=type=cache,target=/c,mode=$USER true"), mkimg::Error);
}

TEST(ExpandInstruction, EnvLabelArgKeysAndValues) {
  const Env e = std::get<Env>(expanded("ENV A=$DIR/bin \"B\"=\"x y\" C=${EMPTY-unset}").body);
  EXPECT_EQ(e.pairs[0].value, "/srv/bin");
  EXPECT_EQ(e.pairs[1].key, "B");
  EXPECT_EQ(e.pairs[1].value, "x y");
  EXPECT_EQ(e.pairs[2].value, "");
  const Label l = std::get<Label>(expanded("LABEL org.$USER=${DIR#/}").body);
  EXPECT_EQ(l.pairs[0].key, "org.app");
  EXPECT_EQ(l.pairs[0].value, "srv");
  const Arg a = std::get<Arg>(expanded("ARG X=$DIR Y").body);
  EXPECT_EQ(a.args[0].default_value, "/srv");
  EXPECT_FALSE(a.args[1].default_value.has_value());
}

TEST(ExpandInstruction, WorkdirUserExposeVolumeStopsignal) {
  EXPECT_EQ(std::get<Workdir>(expanded("WORKDIR $DIR/app").body).path, "/srv/app");
  EXPECT_EQ(std::get<User>(expanded("USER ${USER}:${USER}").body).user, "app:app");
  EXPECT_EQ(std::get<Expose>(expanded("EXPOSE ${PORT:-8080}/tcp").body).ports[0], "8080/tcp");
  EXPECT_EQ(std::get<Volume>(expanded("VOLUME $DIR/data").body).paths[0], "/srv/data");
  EXPECT_EQ(std::get<Stopsignal>(expanded("STOPSIGNAL ${SIG:-SIGQUIT}").body).signal, "SIGQUIT");
}

TEST(ExpandInstruction, CmdEntrypointHealthcheckStayAsWritten) {
  EXPECT_EQ(std::get<ShellForm>(std::get<Cmd>(expanded("CMD echo $DIR").body).command).command,
            "echo $DIR");
  EXPECT_EQ(std::get<ExecForm>(std::get<Entrypoint>(expanded("ENTRYPOINT [\"$DIR\"]").body).command)
                .args[0],
            "$DIR");
}

TEST(ExpandInstruction, CopyHeredocBodyExpandsUnlessDelimiterQuoted) {
  const Dockerfile d = parse("FROM x\nCOPY <<A <<\"B\" /d/\n$DIR \"q\"\nA\n$DIR\nB\n");
  const Copy c = std::get<Copy>(expand(d.stages[0].instructions[0], test_env()).body);
  ASSERT_EQ(c.heredocs.size(), 2u);
  EXPECT_EQ(c.heredocs[0].content, "/srv \"q\"\n");
  EXPECT_EQ(c.heredocs[1].content, "$DIR\n");
}

TEST(ExpandInstruction, FromImageAndPlatform) {
  Environment env;
  set_variable(env, "TAG", "3.19");
  set_variable(env, "BUILDPLATFORM", "linux/amd64");
  const Dockerfile d = parse("FROM --platform=$BUILDPLATFORM alpine:${TAG}\n");
  Instruction from{d.stages[0].location, "", From{d.stages[0].base, "", d.stages[0].platform}};
  const From f = std::get<From>(expand(from, env).body);
  EXPECT_EQ(f.image, "alpine:3.19");
  EXPECT_EQ(f.platform, "linux/amd64");
}

TEST(ExpandInstruction, RequiredVariableErrorNamesIt) {
  try {
    expanded("WORKDIR ${NOPE:?must be set}");
    FAIL();
  } catch (const mkimg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("NOPE: must be set"), std::string::npos) << e.what();
  }
}

}  // namespace
