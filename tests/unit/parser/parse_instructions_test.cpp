// The typed instruction layer: every instruction's fields, every flag, forms and stages.
#include <gtest/gtest.h>

#include "common/error.h"
#include "parser/parse.h"

namespace {

using namespace mkimg::parser;
using namespace std::chrono_literals;
namespace p = mkimg::parser;  // `Run` alone is testing::Test::Run inside a TEST

/// The body of the only instruction of the only stage of "FROM scratch\n<line>".
template <typename T>
T only(const std::string& line) {
  const Dockerfile d = parse("FROM scratch\n" + line + "\n");
  EXPECT_EQ(d.stages.size(), 1u);
  EXPECT_EQ(d.stages[0].instructions.size(), 1u);
  return std::get<T>(d.stages.at(0).instructions.at(0).body);
}

std::vector<std::string> exec_args(const CommandLine& c) { return std::get<ExecForm>(c).args; }
std::string shell_command(const CommandLine& c) { return std::get<ShellForm>(c).command; }

TEST(ParseFrom, StageNameIsLowerCasedAndPlatformKept) {
  const Dockerfile d = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nRUN x\n");
  ASSERT_EQ(d.stages.size(), 1u);
  EXPECT_EQ(d.stages[0].name, "build");
  EXPECT_EQ(d.stages[0].base, "golang:1.22");
  EXPECT_EQ(d.stages[0].platform, "$BUILDPLATFORM");
  EXPECT_EQ(d.stages[0].location.line, 1);
  ASSERT_EQ(d.stages[0].instructions.size(), 1u);
  EXPECT_EQ(d.stages[0].instructions[0].location.line, 2);
}

TEST(ParseFrom, GlobalArgsBeforeFirstFromAndSeveralStages) {
  const Dockerfile d = parse("ARG V=1\nARG W\nFROM a:$V AS one\nFROM one\nFROM b\n");
  ASSERT_EQ(d.global_args.size(), 2u);
  const Arg& v = std::get<Arg>(d.global_args[0].body);
  EXPECT_EQ(v.args[0].name, "V");
  EXPECT_EQ(v.args[0].default_value, "1");
  EXPECT_FALSE(std::get<Arg>(d.global_args[1].body).args[0].default_value.has_value());
  ASSERT_EQ(d.stages.size(), 3u);
  EXPECT_EQ(d.stages[0].base, "a:$V");
  EXPECT_EQ(d.stages[1].base, "one");
  EXPECT_EQ(d.stages[2].name, "");
}

TEST(ParseRun, ShellFormKeepsTextUnexpanded) {
  const p::Run run = only<p::Run>("RUN echo $HOME && \\\n  ls");
  EXPECT_EQ(shell_command(run.command), "echo $HOME &&   ls");
  EXPECT_EQ(run.network, mkimg::NetworkMode::kSandbox);
  EXPECT_EQ(run.security, SecurityMode::kSandbox);
}

TEST(ParseRun, ExecFormIsArgv) {
  EXPECT_EQ(exec_args(only<p::Run>("RUN [\"ls\", \"-la\"]").command),
            (std::vector<std::string>{"ls", "-la"}));
}

TEST(ParseRun, NetworkAndSecurityFlagsAreTyped) {
  const p::Run run = only<p::Run>("RUN --network=none --security=insecure true");
  EXPECT_EQ(run.network, mkimg::NetworkMode::kNone);
  EXPECT_EQ(run.security, SecurityMode::kInsecure);
  EXPECT_EQ(only<p::Run>("RUN --network=host true").network, mkimg::NetworkMode::kHost);
  EXPECT_EQ(only<p::Run>("RUN --network=default true").network, mkimg::NetworkMode::kSandbox);
}

TEST(ParseRun, CacheMountWithEveryOption) {
  const p::Run run = only<p::Run>(
      "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1000,"
      "gid=1001,from=base,source=/c pip install x");
  ASSERT_EQ(run.mounts.size(), 1u);
  const RunMount& m = run.mounts[0];
  EXPECT_EQ(m.type, MountType::kCache);
  EXPECT_EQ(m.target, "/root/.cache");
  EXPECT_EQ(m.id, "pip");
  EXPECT_EQ(m.sharing, CacheSharing::kLocked);
  EXPECT_EQ(m.mode, 0700u);
  EXPECT_EQ(m.uid, 1000u);
  EXPECT_EQ(m.gid, 1001u);
  EXPECT_EQ(m.from, "base");
  EXPECT_EQ(m.source, "/c");
  EXPECT_FALSE(m.read_only);
}

TEST(ParseRun, BindMountDefaultsToReadOnlyAndAcceptsAliases) {
  const p::Run run = only<p::Run>(
      "RUN --mount=type=bind,src=.,dst=/src --mount=target=/w,rw --mount=type=tmpfs,"
      "destination=/t,size=64m true");
  ASSERT_EQ(run.mounts.size(), 3u);
  EXPECT_EQ(run.mounts[0].type, MountType::kBind);
  EXPECT_EQ(run.mounts[0].source, ".");
  EXPECT_EQ(run.mounts[0].target, "/src");
  EXPECT_TRUE(run.mounts[0].read_only);
  EXPECT_EQ(run.mounts[1].type, MountType::kBind);
  EXPECT_FALSE(run.mounts[1].read_only);
  EXPECT_EQ(run.mounts[2].type, MountType::kTmpfs);
  EXPECT_EQ(run.mounts[2].size, 64u << 20);
  EXPECT_FALSE(run.mounts[2].read_only);
}

// BuildKit: a bind, cache or tmpfs mount without a target is valid; the builder mounts it at
// the step's working directory.
TEST(ParseRun, MountsWithoutTargetAreAccepted) {
  const p::Run run = only<p::Run>(
      "RUN --mount=from=build --mount=type=cache --mount=type=bind,source=f.txt "
      "--mount=type=tmpfs true");
  ASSERT_EQ(run.mounts.size(), 4u);
  EXPECT_EQ(run.mounts[0].type, MountType::kBind);
  EXPECT_EQ(run.mounts[0].from, "build");
  EXPECT_EQ(run.mounts[1].type, MountType::kCache);
  EXPECT_EQ(run.mounts[2].source, "f.txt");
  EXPECT_EQ(run.mounts[3].type, MountType::kTmpfs);
  for (const auto& m : run.mounts) EXPECT_EQ(m.target, "") << m.text;
}

TEST(ParseRun, SecretAndSshMounts) {
  const p::Run run = only<p::Run>(
      "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc,required --mount=type=ssh,"
      "required=true --mount=type=secret,id=tok,env=TOKEN true");
  ASSERT_EQ(run.mounts.size(), 3u);
  EXPECT_EQ(run.mounts[0].type, MountType::kSecret);
  EXPECT_EQ(run.mounts[0].id, "npmrc");
  EXPECT_TRUE(run.mounts[0].required);
  EXPECT_TRUE(run.mounts[0].read_only);
  EXPECT_EQ(run.mounts[1].type, MountType::kSsh);
  EXPECT_TRUE(run.mounts[1].required);
  EXPECT_EQ(run.mounts[2].env, "TOKEN");
}

TEST(ParseRun, MountKeepsTextAndAllowsVariablesUntilExpansion) {
  const p::Run run = only<p::Run>("RUN --mount=type=cache,target=$DIR,mode=$MODE true");
  ASSERT_EQ(run.mounts.size(), 1u);
  EXPECT_EQ(run.mounts[0].text, "type=cache,target=$DIR,mode=$MODE");
  EXPECT_EQ(run.mounts[0].type, MountType::kCache);
}

TEST(ParseCmd, ShellAndExecForms) {
  EXPECT_EQ(shell_command(only<Cmd>("CMD echo hi").command), "echo hi");
  EXPECT_EQ(exec_args(only<Cmd>("CMD [\"a\", \"b c\"]").command),
            (std::vector<std::string>{"a", "b c"}));
  EXPECT_TRUE(exec_args(only<Cmd>("CMD []").command).empty());
  EXPECT_EQ(shell_command(only<Entrypoint>("ENTRYPOINT ['single']").command), "['single']");
  EXPECT_EQ(exec_args(only<Entrypoint>("ENTRYPOINT [\"/bin/x\"]").command),
            (std::vector<std::string>{"/bin/x"}));
}

TEST(ParseCopy, EveryFlag) {
  const Copy c = only<Copy>(
      "COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md "
      "--exclude=tmp a b /dst/");
  EXPECT_EQ(c.sources, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.dest, "/dst/");
  EXPECT_EQ(c.from, "build");
  EXPECT_EQ(c.chown, "app:app");
  EXPECT_EQ(c.chmod, "0755");
  EXPECT_TRUE(c.link);
  EXPECT_TRUE(c.parents);
  EXPECT_EQ(c.excludes, (std::vector<std::string>{"*.md", "tmp"}));
}

TEST(ParseCopy, BooleanFlagsAcceptExplicitValues) {
  EXPECT_FALSE(only<Copy>("COPY --link=false a b").link);
  EXPECT_TRUE(only<Copy>("COPY --link=TRUE a b").link);
}

TEST(ParseCopy, JsonFormKeepsSpaces) {
  const Copy c = only<Copy>("COPY [\"test file\", \"/tmp/x y\"]");
  EXPECT_EQ(c.sources, (std::vector<std::string>{"test file"}));
  EXPECT_EQ(c.dest, "/tmp/x y");
}

TEST(ParseAdd, EveryFlag) {
  const Add a = only<Add>(
      "ADD --chown=1:2 --chmod=644 --link --keep-git-dir=true --checksum=sha256:abc "
      "--exclude=x https://example.com/a.tgz /opt/");
  EXPECT_EQ(a.sources, (std::vector<std::string>{"https://example.com/a.tgz"}));
  EXPECT_EQ(a.dest, "/opt/");
  EXPECT_EQ(a.chown, "1:2");
  EXPECT_EQ(a.chmod, "644");
  EXPECT_TRUE(a.link);
  EXPECT_TRUE(a.keep_git_dir);
  EXPECT_EQ(a.checksum, "sha256:abc");
  EXPECT_EQ(a.excludes, (std::vector<std::string>{"x"}));
}

TEST(ParseEnv, BothFormsKeepRawValues) {
  const Env e = only<Env>("ENV A=1 B=\"two words\" C=x\\ y");
  ASSERT_EQ(e.pairs.size(), 3u);
  EXPECT_EQ(e.pairs[0].key, "A");
  EXPECT_EQ(e.pairs[0].value, "1");
  EXPECT_EQ(e.pairs[1].value, "\"two words\"");
  EXPECT_EQ(e.pairs[2].value, "x\\ y");
  const Env legacy = only<Env>("ENV PATH /usr/bin:/bin extra");
  ASSERT_EQ(legacy.pairs.size(), 1u);
  EXPECT_EQ(legacy.pairs[0].key, "PATH");
  EXPECT_EQ(legacy.pairs[0].value, "/usr/bin:/bin extra");
}

TEST(ParseLabel, Pairs) {
  const Label l = only<Label>("LABEL a=b \"c d\"=e");
  ASSERT_EQ(l.pairs.size(), 2u);
  EXPECT_EQ(l.pairs[1].key, "\"c d\"");
  EXPECT_EQ(l.pairs[1].value, "e");
}

TEST(ParseArg, SetButEmptyDiffersFromUnset) {
  const Arg a = only<Arg>("ARG A= B C=\"x y\"");
  ASSERT_EQ(a.args.size(), 3u);
  EXPECT_EQ(a.args[0].default_value, "");
  EXPECT_FALSE(a.args[1].default_value.has_value());
  EXPECT_EQ(a.args[2].default_value, "\"x y\"");
}

TEST(ParseSimple, WorkdirUserExposeVolumeStopsignalMaintainer) {
  EXPECT_EQ(only<Workdir>("WORKDIR /app dir").path, "/app dir");
  EXPECT_EQ(only<User>("USER app:app").user, "app:app");
  EXPECT_EQ(only<Expose>("EXPOSE 80 443/tcp").ports, (std::vector<std::string>{"80", "443/tcp"}));
  EXPECT_EQ(only<Volume>("VOLUME /a /b").paths, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(only<Volume>("VOLUME [\"/a b\"]").paths, (std::vector<std::string>{"/a b"}));
  EXPECT_EQ(only<Stopsignal>("STOPSIGNAL SIGTERM").signal, "SIGTERM");
  EXPECT_EQ(only<Maintainer>("MAINTAINER Jane <j@x>").name, "Jane <j@x>");
}

TEST(ParseHealthcheck, NoneAndCmdWithEveryOption) {
  EXPECT_EQ(only<Healthcheck>("HEALTHCHECK NONE").kind, HealthcheckKind::kNone);
  const Healthcheck h = only<Healthcheck>(
      "HEALTHCHECK --interval=1m30s --timeout=3s --start-period=1.5s --start-interval=500ms "
      "--retries=4 CMD curl -f http://localhost/");
  EXPECT_EQ(h.kind, HealthcheckKind::kCmd);
  EXPECT_EQ(shell_command(h.test), "curl -f http://localhost/");
  EXPECT_EQ(h.interval, 90s);
  EXPECT_EQ(h.timeout, 3s);
  EXPECT_EQ(h.start_period, 1500ms);
  EXPECT_EQ(h.start_interval, 500ms);
  EXPECT_EQ(h.retries, 4);
  EXPECT_EQ(exec_args(only<Healthcheck>("HEALTHCHECK CMD [\"/check\", \"-q\"]").test),
            (std::vector<std::string>{"/check", "-q"}));
  EXPECT_EQ(only<Healthcheck>("HEALTHCHECK --interval=0s CMD x").interval, 0s);
}

TEST(ParseShell, JsonFormOnly) {
  EXPECT_EQ(only<Shell>("SHELL [\"/bin/bash\", \"-c\"]").args,
            (std::vector<std::string>{"/bin/bash", "-c"}));
}

TEST(ParseOnbuild, TriggerIsParsedAndExpressionKept) {
  const Onbuild o = only<Onbuild>("ONBUILD RUN echo hi");
  EXPECT_EQ(o.expression, "RUN echo hi");
  ASSERT_TRUE(o.trigger);
  EXPECT_EQ(shell_command(std::get<p::Run>(o.trigger->body).command), "echo hi");
  const Onbuild copy = only<Onbuild>("onbuild COPY --from=x a /b");
  EXPECT_EQ(std::get<Copy>(copy.trigger->body).from, "x");
}

TEST(ParseInstruction, ReparsesATrigger) {
  const Instruction i = parse_instruction("COPY --chown=1 a /b");
  EXPECT_EQ(std::get<Copy>(i.body).chown, "1");
  EXPECT_STREQ(keyword(i.body), "copy");
  EXPECT_EQ(i.original, "COPY --chown=1 a /b");
}

TEST(ParseInstruction, KeepsOriginalTextAndLocation) {
  const Dockerfile d = parse("FROM x\n\n   RUN a \\\n b\n");
  const Instruction& i = d.stages[0].instructions[0];
  EXPECT_EQ(i.original, "RUN a  b");
  EXPECT_EQ(i.location.line, 3);
  EXPECT_EQ(i.location.column, 4);
}

TEST(ParseKeywords, AreCaseInsensitive) {
  const Dockerfile d = parse("from x\nrun a\nCoPy a b\n");
  ASSERT_EQ(d.stages[0].instructions.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Copy>(d.stages[0].instructions[1].body));
}

TEST(ParseKeywordNames, MatchTheVariant) {
  EXPECT_STREQ(keyword(InstructionBody{Healthcheck{}}), "healthcheck");
  EXPECT_STREQ(keyword(InstructionBody{Maintainer{}}), "maintainer");
  EXPECT_STREQ(keyword(InstructionBody{From{}}), "from");
}

}  // namespace
