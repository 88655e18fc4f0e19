// Heredocs (<<EOF, <<-EOF, quoted delimiters, several on one line, fds), parser directives,
// comments and continuation lines, at the typed layer.
#include <gtest/gtest.h>

#include "common/error.h"
#include "parser/parse.h"
#include "parser/syntax_tree.h"

namespace {

using namespace mkimg::parser;
namespace p = mkimg::parser;

const Instruction& first(const Dockerfile& d) { return d.stages.at(0).instructions.at(0); }

TEST(Heredoc, RunBodyIsKeptWithNewlines) {
  const Dockerfile d = parse("FROM a\nRUN <<EOF\nset -e\necho $HOME\nEOF\nRUN after\n");
  const p::Run& run = std::get<p::Run>(first(d).body);
  EXPECT_EQ(std::get<ShellForm>(run.command).command, "<<EOF");
  ASSERT_EQ(run.heredocs.size(), 1u);
  EXPECT_EQ(run.heredocs[0].name, "EOF");
  EXPECT_EQ(run.heredocs[0].content, "set -e\necho $HOME\n");
  EXPECT_EQ(run.heredocs[0].expansion, HeredocExpansion::kExpand);
  EXPECT_EQ(run.heredocs[0].file_descriptor, 0);
  ASSERT_EQ(d.stages[0].instructions.size(), 2u);
  EXPECT_EQ(d.stages[0].instructions[1].location.line, 6);
}

TEST(Heredoc, DashStripsLeadingTabsFromBodyAndTerminator) {
  const Dockerfile d = parse("FROM a\nRUN <<-EOT\n\techo a\n\t\techo b\n\tEOT\n");
  const Heredoc& h = std::get<p::Run>(first(d).body).heredocs.at(0);
  EXPECT_EQ(h.tabs, HeredocTabs::kStrip);
  EXPECT_EQ(h.content, "echo a\necho b\n");
}

TEST(Heredoc, QuotedDelimiterTurnsOffExpansion) {
  for (const char* opener : {"<<\"EOF\"", "<<'EOF'", "<<E\"OF\""}) {
    const Dockerfile d = parse(std::string("FROM a\nRUN cat ") + opener + "\n$X\nEOF\n");
    const Heredoc& h = std::get<p::Run>(first(d).body).heredocs.at(0);
    EXPECT_EQ(h.name, "EOF") << opener;
    EXPECT_EQ(h.expansion, HeredocExpansion::kLiteral) << opener;
  }
}

TEST(Heredoc, SeveralOnOneLineWithFileDescriptors) {
  const Dockerfile d = parse("FROM a\nRUN cmd <<A 3<<B\na\nA\nb\nB\nRUN x\n");
  const p::Run& run = std::get<p::Run>(first(d).body);
  ASSERT_EQ(run.heredocs.size(), 2u);
  EXPECT_EQ(run.heredocs[0].content, "a\n");
  EXPECT_EQ(run.heredocs[1].name, "B");
  EXPECT_EQ(run.heredocs[1].file_descriptor, 3);
  EXPECT_EQ(run.heredocs[1].content, "b\n");
}

TEST(Heredoc, CopyAndAddHeredocsAreSourcesBesidePaths) {
  const Dockerfile d = parse(
      "FROM a\nCOPY <<one.txt file <<two.txt /dest/\n1\none.txt\n2\ntwo.txt\n"
      "ADD <<-x /x\n\tX\n\tx\n");
  const Copy& c = std::get<Copy>(first(d).body);
  EXPECT_EQ(c.sources, (std::vector<std::string>{"file"}));
  ASSERT_EQ(c.heredocs.size(), 2u);
  EXPECT_EQ(c.heredocs[0].name, "one.txt");
  EXPECT_EQ(c.heredocs[0].content, "1\n");
  EXPECT_EQ(c.heredocs[1].content, "2\n");
  const Add& a = std::get<Add>(d.stages[0].instructions.at(1).body);
  EXPECT_TRUE(a.sources.empty());
  EXPECT_EQ(a.heredocs.at(0).content, "X\n");
}

TEST(Heredoc, JsonFormAndOtherInstructionsHaveNone) {
  const Dockerfile d = parse("FROM a\nRUN [\"cat\", \"<<EOF\"]\nENV A=<<B\n");
  EXPECT_TRUE(std::get<p::Run>(first(d).body).heredocs.empty());
  EXPECT_EQ(std::get<Env>(d.stages[0].instructions.at(1).body).pairs[0].value, "<<B");
}

TEST(Heredoc, OnbuildTriggerCarriesItsHeredoc) {
  const Dockerfile d = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n");
  const Onbuild& o = std::get<Onbuild>(first(d).body);
  EXPECT_EQ(o.expression, "RUN <<EOF\necho hi\nEOF");
  EXPECT_EQ(std::get<p::Run>(o.trigger->body).heredocs.at(0).content, "echo hi\n");
  const Instruction again = parse_instruction(o.expression);
  EXPECT_EQ(std::get<p::Run>(again.body).heredocs.at(0).content, "echo hi\n");
}

TEST(Directives, EscapeSyntaxCheckAreRead) {
  const Dockerfile d = parse(
      "# syntax=docker/dockerfile:1.7\n# check=skip=all\n# escape=`\nFROM a\nRUN echo `\n  hi\n");
  EXPECT_EQ(d.directives.syntax, "docker/dockerfile:1.7");
  EXPECT_EQ(d.directives.check, "skip=all");
  EXPECT_EQ(d.directives.escape, '`');
  EXPECT_EQ(std::get<ShellForm>(std::get<p::Run>(first(d).body).command).command, "echo   hi");
}

TEST(Directives, OnlyAtTheTopOfTheFile) {
  const Dockerfile d = parse("# a comment\n# escape=`\nFROM a\nRUN echo \\\n hi\n");
  EXPECT_EQ(d.directives.escape, '\\');
  const Dockerfile e = parse("FROM a\n# syntax=x\n");
  EXPECT_EQ(e.directives.syntax, "");
}

TEST(Directives, UnknownDirectiveEndsTheDirectiveBlock) {
  const Dockerfile d = parse("# foo=bar\n# escape=`\nFROM a\n");
  EXPECT_EQ(d.directives.escape, '\\');
}

TEST(Continuation, CommentsAndBlankLinesInsideAreSkipped) {
  const Dockerfile d = parse("FROM a\nRUN a \\\n# comment\n\n  b \\\n   # indented comment\n c\n");
  EXPECT_EQ(std::get<ShellForm>(std::get<p::Run>(first(d).body).command).command, "a   b  c");
}

TEST(Continuation, EscapedEscapeDoesNotContinue) {
  const Dockerfile d = parse("FROM a\nENV A=x\\\\\nENV B=y\n");
  ASSERT_EQ(d.stages[0].instructions.size(), 2u);
}

TEST(Continuation, CrLfLineEndingsAndBom) {
  const Dockerfile d = parse("\xEF\xBB\xBF# escape=`\r\nFROM a\r\nRUN a `\r\n b\r\n");
  EXPECT_EQ(d.directives.escape, '`');
  EXPECT_EQ(std::get<ShellForm>(std::get<p::Run>(first(d).body).command).command, "a  b");
}

TEST(SyntaxTree, UnknownInstructionsAndFlagsAreKeptForTheDump) {
  const SyntaxTree tree = parse_syntax("FOO bar\nCOPY --weird=1 -- a b\n");
  EXPECT_EQ(dump(tree), "(foo \"\")\n(copy [\"--weird=1\"] \"a\" \"b\")\n");
}

}  // namespace
