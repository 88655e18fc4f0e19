// Every parse error names file:line:column, says what is wrong, and shows the offending line.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "common/error.h"
#include "parser/parse.h"

namespace {

/// A Dockerfile that must be refused, and the message it must get.
struct ErrorCase {
  std::string name;
  std::string text;
  std::string where;    ///< "Dockerfile:L:C: "
  std::string message;  ///< a part of the message
  std::string line;     ///< the source line shown after the message
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

std::string error_of(const std::string& text) {
  try {
    mkimg::parser::parse(text);
  } catch (const mkimg::Error& e) {
    return e.what();
  }
  return "(accepted)";
}

class ParseError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseError, IsLocatedAndShowsTheLine) {
  const ErrorCase& c = GetParam();
  const std::string error = error_of(c.text);
  EXPECT_EQ(error.rfind(c.where, 0), 0u) << error;
  EXPECT_NE(error.find(c.message), std::string::npos) << error;
  const auto nl = error.find('\n');
  ASSERT_NE(nl, std::string::npos) << error;
  EXPECT_EQ(error.substr(nl + 1), c.line) << error;
}

const ErrorCase kCases[] = {
    {"UnknownInstruction", "FROM x\nFOO bar\n", "Dockerfile:2:1: ", "unknown instruction: FOO",
     "FOO bar"},
    {"UnknownInstructionIndented", "FROM x\n  RUNN x\n",
     "Dockerfile:2:3: ", "unknown instruction: RUNN", "  RUNN x"},
    {"UnterminatedHeredoc", "FROM x\nRUN <<EOF\necho hi\n",
     "Dockerfile:2:1: ", "unterminated heredoc EOF", "RUN <<EOF"},
    {"UnterminatedSecondHeredoc", "FROM x\nCOPY <<A <<B /d\na\nA\nb\n",
     "Dockerfile:2:1: ", "unterminated heredoc B", "COPY <<A <<B /d"},
    {"UnterminatedJsonShell", "FROM x\nSHELL [\"sh\", \"-c\"\n", "Dockerfile:2:1: ",
     "SHELL requires the arguments to be in JSON form", "SHELL [\"sh\", \"-c\""},
    {"NestedJsonArray", "FROM x\nCMD [\"a\", [\"b\"]]\n",
     "Dockerfile:2:1: ", "arrays must be comprised of strings only", "CMD [\"a\", [\"b\"]]"},
    {"BadBooleanFlagValue", "FROM x\nCOPY --link=maybe a b\n", "Dockerfile:2:6: ",
     "expecting boolean value for flag link, not: maybe", "COPY --link=maybe a b"},
    {"BadNetworkValue", "FROM x\nRUN --network=bridge true\n",
     "Dockerfile:2:5: ", "network mode \"bridge\" not supported", "RUN --network=bridge true"},
    {"BadMountType", "FROM x\nRUN --mount=type=nfs,target=/x true\n",
     "Dockerfile:2:5: ", "unsupported mount type \"nfs\"", "RUN --mount=type=nfs,target=/x true"},
    {"BadMountKey", "FROM x\nRUN --mount=type=bind,target=/x,colour=red true\n", "Dockerfile:2:5: ",
     "unexpected key 'colour'", "RUN --mount=type=bind,target=/x,colour=red true"},
    {"BadDuration", "FROM x\nHEALTHCHECK --interval=soon CMD true\n",
     "Dockerfile:2:13: ", "invalid duration \"soon\"", "HEALTHCHECK --interval=soon CMD true"},
    {"TooShortDuration", "FROM x\nHEALTHCHECK --timeout=10us CMD true\n",
     "Dockerfile:2:13: ", "cannot be less than 1ms", "HEALTHCHECK --timeout=10us CMD true"},
    {"NegativeRetries", "FROM x\nHEALTHCHECK --retries=-1 CMD true\n",
     "Dockerfile:2:13: ", "--retries cannot be negative", "HEALTHCHECK --retries=-1 CMD true"},
    {"UnknownFlag", "FROM x\nCOPY --user=me a b\n", "Dockerfile:2:6: ", "unknown flag: user",
     "COPY --user=me a b"},
    {"FlagOnFlaglessInstruction", "FROM x\nCMD --doit=true [\"a\"]\n",
     "Dockerfile:2:5: ", "unknown flag: doit", "CMD --doit=true [\"a\"]"},
    {"DuplicateFlag", "FROM x\nCOPY --from=a --from=b a b\n",
     "Dockerfile:2:15: ", "duplicate flag specified: from", "COPY --from=a --from=b a b"},
    {"StringFlagWithoutValue", "FROM x\nCOPY --chown a b\n",
     "Dockerfile:2:6: ", "missing a value on flag: chown", "COPY --chown a b"},
    {"CopyMissingDestination", "FROM x\nCOPY a\n",
     "Dockerfile:2:1: ", "COPY requires at least two arguments", "COPY a"},
    {"CopyHeredocDestination", "FROM x\nCOPY a <<EOF\nx\nEOF\n",
     "Dockerfile:2:8: ", "COPY cannot accept a heredoc as a destination", "COPY a <<EOF"},
    {"WorkdirMissingArgument", "FROM x\nWORKDIR\n",
     "Dockerfile:2:1: ", "WORKDIR requires exactly one argument", "WORKDIR"},
    {"RunMissingArgument", "FROM x\nRUN\n",
     "Dockerfile:2:1: ", "RUN requires at least one argument", "RUN"},
    {"EnvMissingValue", "FROM x\nENV PATH\n", "Dockerfile:2:1: ", "ENV must have two arguments",
     "ENV PATH"},
    {"EnvWithoutEquals", "FROM x\nENV a=b c\n", "Dockerfile:2:1: ", "can't find = in \"c\"",
     "ENV a=b c"},
    {"FromMissing", "RUN true\n", "Dockerfile:1:1: ", "no build stage in current context",
     "RUN true"},
    {"FromMissingOnlyArgs", "ARG A=1\n", "Dockerfile:1:1: ", "FROM missing", "ARG A=1"},
    {"FromWithTwoArguments", "FROM a b\n", "Dockerfile:1:1: ", "FROM requires either one or three",
     "FROM a b"},
    {"BadStageName", "FROM a AS 1st\n", "Dockerfile:1:11: ", "invalid name for build stage",
     "FROM a AS 1st"},
    {"HealthcheckUnknownType", "FROM x\nHEALTHCHECK CONNECT TCP 7000\n", "Dockerfile:2:13: ",
     "Unknown type \"CONNECT\" in HEALTHCHECK", "HEALTHCHECK CONNECT TCP 7000"},
    {"HealthcheckCmdWithoutCommand", "FROM x\nHEALTHCHECK CMD\n",
     "Dockerfile:2:1: ", "Missing command after HEALTHCHECK CMD", "HEALTHCHECK CMD"},
    {"OnbuildChained", "FROM x\nONBUILD ONBUILD RUN x\n", "Dockerfile:2:1: ", "Chaining ONBUILD",
     "ONBUILD ONBUILD RUN x"},
    {"OnbuildFrom", "FROM x\nONBUILD FROM y\n",
     "Dockerfile:2:9: ", "FROM isn't allowed as an ONBUILD trigger", "ONBUILD FROM y"},
    {"BadEscapeDirective", "# escape=x\nFROM a\n", "Dockerfile:1:1: ", "invalid escape token 'x'",
     "# escape=x"},
    {"RepeatedDirective", "# syntax=a\n# syntax=b\nFROM a\n",
     "Dockerfile:2:1: ", "only one syntax parser directive", "# syntax=b"},
    {"EmptyVolume", "FROM x\nVOLUME [\"\"]\n", "Dockerfile:2:1: ", "can not be an empty string",
     "VOLUME [\"\"]"},
};

INSTANTIATE_TEST_SUITE_P(Dockerfile, ParseError, ::testing::ValuesIn(kCases),
                         [](const auto& test) { return test.param.name; });

TEST(ParseErrorEmptyFile, HasNoInstructions) {
  EXPECT_NE(error_of("").find("file with no instructions"), std::string::npos);
  EXPECT_NE(error_of("# only\n# comments\n").find("file with no instructions"), std::string::npos);
}

// A 50 MB bad line gives a short message: its first 200 bytes and how many more.
TEST(ParseErrorLongLine, IsShortened) {
  std::string err = error_of("FROM x\nBADINSTR " + std::string(50'000'000, 'x') + "\n");
  EXPECT_LT(err.size(), 1000u) << err.substr(0, 1000);
  EXPECT_NE(err.find("Dockerfile:2:1: unknown instruction: BADINSTR"), std::string::npos);
  EXPECT_NE(err.find("... (49999809 more bytes)"), std::string::npos) << err.substr(0, 1000);
}

// A NUL byte does not cut the message: what() shows it as \0.
TEST(ParseErrorNul, IsShownNotCut) {
  std::string err = error_of(std::string("FROM x\nBAD\0INSTR after\n", 23));
  EXPECT_NE(err.find("BAD\\0INSTR after"), std::string::npos) << err;
}

TEST(ParseErrorFileName, IsTheOneGiven) {
  try {
    mkimg::parser::parse("FROM x\nBAD\n", "app/Containerfile");
    FAIL();
  } catch (const mkimg::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("app/Containerfile:2:1: unknown instruction: BAD", 0),
              0u);
  }
}

TEST(ParseErrorTrigger, ReparsedTriggerErrorsAreLocated) {
  try {
    mkimg::parser::parse_instruction("COPY --bogus a b");
    FAIL();
  } catch (const mkimg::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "ONBUILD:1:6: unknown flag: bogus (accepted: --from --chown "
              "--chmod --link --parents --exclude)\nCOPY --bogus a b");
  }
}

}  // namespace
