// `mkimg build` under a real pseudo-terminal (forkpty): the live tty view redraws in place
// with ANSI sequences, leaves a static summary (each step DONE or CACHED, step output
// collapsed), keeps a failing step's last output lines above the located error, respects the
// terminal width, NO_COLOR and TERM=dumb; --progress=plain prints no escape sequence.
#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

/// What a command run on a pseudo-terminal wrote to it.
struct PtyResult {
  int exit_code = -1;
  std::string raw;  ///< the bytes as written (stderr; stdout goes to a file)
};

/// Runs argv with stdin and stderr on a new pty of `cols` x `rows` (stdout to /dev/null, so
/// only the progress view is on the terminal); `env` is set ("" values are unset).
PtyResult run_in_pty(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env, unsigned short cols = 100,
                     unsigned short rows = 40) {
  winsize ws{};
  ws.ws_col = cols;
  ws.ws_row = rows;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) return {};
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    for (const auto& [k, v] : env) {
      if (v.empty()) {
        ::unsetenv(k.c_str());
      } else {
        ::setenv(k.c_str(), v.c_str(), 1);
      }
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  PtyResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      r.raw.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO: every writer of the slave side is gone
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// A minimal terminal: printable bytes, CR, LF, and the CSI sequences the view uses (cursor
/// up A, erase line K, erase below J; SGR m ignored). Lines scrolled off the top stay (as
/// scrollback); cursor-up stops at the top of the visible screen, like a real terminal.
class Screen {
 public:
  Screen(std::size_t cols, std::size_t rows) : cols_(cols), rows_(rows), lines_(1) {}

  void feed(const std::string& bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      char c = bytes[i];
      if (c == '\x1b' && i + 1 < bytes.size() && bytes[i + 1] == '[') {
        std::size_t j = i + 2;
        while (j < bytes.size() && !(bytes[j] >= 0x40 && bytes[j] <= 0x7e)) ++j;
        if (j >= bytes.size()) break;
        csi(bytes.substr(i + 2, j - i - 2), bytes[j]);
        i = j;
      } else if (c == '\r') {
        col_ = 0;
      } else if (c == '\n') {
        down();
      } else if (static_cast<unsigned char>(c) >= 0x20) {
        if (col_ >= cols_) {  // autowrap
          ++wraps_;
          col_ = 0;
          down();
        }
        std::string& l = lines_[row_];
        if (l.size() < col_) l.resize(col_, ' ');
        if (l.size() == col_) {
          l += c;
        } else {
          l[col_] = c;
        }
        ++col_;
      }
    }
  }

  /// Every line, the scrollback included, trailing spaces removed.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (auto l : lines_) {
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out.push_back(l);
    }
    while (!out.empty() && out.back().empty()) out.pop_back();
    return out;
  }
  std::string text() const {
    std::string s;
    for (const auto& l : lines()) s += l + "\n";
    return s;
  }
  int wraps() const { return wraps_; }

 private:
  void down() {
    ++row_;
    if (row_ >= lines_.size()) lines_.resize(row_ + 1);
  }
  void csi(const std::string& params, char final) {
    std::size_t n = params.empty() ? 1 : std::stoul("0" + params);
    std::size_t top = lines_.size() > rows_ ? lines_.size() - rows_ : 0;
    switch (final) {
      case 'A':
        row_ = row_ >= top + n ? row_ - n : top;
        break;
      case 'K':
        if (lines_[row_].size() > col_) lines_[row_].resize(col_);
        break;
      case 'J':
        if (lines_[row_].size() > col_) lines_[row_].resize(col_);
        lines_.resize(row_ + 1);
        break;
      default:
        break;
    }
  }

  std::size_t cols_, rows_;
  std::vector<std::string> lines_;
  std::size_t row_ = 0, col_ = 0;
  int wraps_ = 0;
};

bool has_line(const std::vector<std::string>& lines, const std::string& prefix,
              const std::string& contains) {
  for (const auto& l : lines) {
    if (l.rfind(prefix, 0) == 0 && l.find(contains) != std::string::npos) return true;
  }
  return false;
}

class ProgressTtyTest : public BuilderTest {
 protected:
  PtyResult build_in_pty(const fs::path& context, std::vector<std::string> extra = {},
                         std::map<std::string, std::string> env = {}, unsigned short cols = 100,
                         unsigned short rows = 40) {
    std::vector<std::string> args{mkimg_binary(), "--root", store().string(), "build"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(context.string());
    env.try_emplace("TERM", "xterm");
    env.try_emplace("NO_COLOR", "");
    env.try_emplace("MKIMG_LOG_LEVEL", "");
    return run_in_pty(args, env, cols, rows);
  }

  static Screen screen_of(const PtyResult& r, std::size_t cols = 100, std::size_t rows = 40) {
    Screen s(cols, rows);
    s.feed(r.raw);
    return s;
  }
};

TEST_F(ProgressTtyTest, LiveViewRedrawsAndLeavesEachStepsFinalLine) {
  // The output ("hello-42") differs from the command text, so the screen tells them apart.
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN echo hello-$((6*7)) && sleep 2\nRUN echo second-$((1+1))\n");
  auto first = build_in_pty(dir("ctx"), {"-t", "app:1"});
  ASSERT_EQ(first.exit_code, 0) << first.raw;
  EXPECT_NE(first.raw.find("\x1b["), std::string::npos) << "ANSI sequences expected";
  EXPECT_NE(first.raw.find("A\x1b[J"), std::string::npos) << "cursor-up and erase: " << first.raw;
  EXPECT_NE(first.raw.find("hello-42"), std::string::npos)
      << "the running step's output is shown: " << first.raw;
  EXPECT_NE(first.raw.find("\x1b[2m"), std::string::npos) << "step output is dimmed";

  Screen screen = screen_of(first);
  auto lines = screen.lines();
  std::string text = screen.text();
  EXPECT_TRUE(has_line(lines, "[+] Building", "FINISHED")) << text;
  EXPECT_TRUE(has_line(lines, "=> [1/3] FROM busybox", "DONE")) << text;
  EXPECT_TRUE(has_line(lines, "=> [2/3] RUN echo hello-$((6*7)) && sleep 2", "DONE ")) << text;
  EXPECT_TRUE(has_line(lines, "=> [3/3] RUN echo second-$((1+1))", "DONE ")) << text;
  EXPECT_EQ(text.find("hello-42"), std::string::npos) << "a finished step's output collapses\n"
                                                      << text;
  EXPECT_EQ(text.find("second-2"), std::string::npos) << text;
  EXPECT_TRUE(has_line(lines, "=> writing image sha256:", "done")) << text;
  EXPECT_EQ(count(text, "[+] Building"), 1) << "one view, redrawn in place\n" << text;

  auto again = build_in_pty(dir("ctx"), {"-t", "app:1"});
  ASSERT_EQ(again.exit_code, 0) << again.raw;
  Screen cached = screen_of(again);
  auto cached_lines = cached.lines();
  EXPECT_TRUE(has_line(cached_lines, "=> [2/3] RUN echo hello-$((6*7))", "CACHED"))
      << cached.text();
  EXPECT_TRUE(has_line(cached_lines, "=> [3/3] RUN echo second-$((1+1))", "CACHED"))
      << cached.text();
}

TEST_F(ProgressTtyTest, FailingRunKeepsItsLastLinesAndTheErrorFollows) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN echo fine\n"
             "RUN for i in 1 2 3 4 5 6 7 8; do echo out-$((i*10)); done; exit 3\n");
  auto r = build_in_pty(dir("ctx"));
  EXPECT_NE(r.exit_code, 0) << r.raw;
  Screen screen = screen_of(r);
  auto lines = screen.lines();
  std::string text = screen.text();
  EXPECT_TRUE(has_line(lines, "[+] Building", "ERROR")) << text;
  EXPECT_TRUE(has_line(lines, "=> [2/3] RUN echo fine", "DONE")) << text;
  EXPECT_TRUE(has_line(lines, "=> [3/3] RUN for i in", "ERROR")) << text;
  // All eight lines stay under the failed step (more than the six of a running step)...
  std::size_t failed = 0;
  while (failed < lines.size() && lines[failed].find("=> [3/3]") == std::string::npos) ++failed;
  ASSERT_LT(failed + 8, lines.size()) << text;
  for (int i = 1; i <= 8; ++i) {
    EXPECT_EQ(lines[failed + i], "   out-" + std::to_string(i * 10)) << text;
  }
  // ... and the located error follows the view.
  auto error = text.find("mkimg: error: Dockerfile:3");
  ASSERT_NE(error, std::string::npos) << text;
  EXPECT_GT(error, text.find("=> [3/3]")) << text;
  EXPECT_NE(text.find("exit code: 3"), std::string::npos) << text;
  EXPECT_EQ(text.find("=> [2/3] RUN echo fine\n   fine"), std::string::npos)
      << "the finished step stays collapsed\n"
      << text;
}

TEST_F(ProgressTtyTest, LinesAreCutToTheTerminalWidth) {
  std::string long_word(150, 'x');
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN echo " + long_word + "-$((2+2)) && sleep 1\n");
  auto r = build_in_pty(dir("ctx"), {}, {}, 40, 20);
  ASSERT_EQ(r.exit_code, 0) << r.raw;
  Screen screen = screen_of(r, 40, 20);
  EXPECT_EQ(screen.wraps(), 0) << "no line wraps\n" << screen.text();
  for (const auto& l : screen.lines()) EXPECT_LT(l.size(), 40u) << l;
  EXPECT_TRUE(has_line(screen.lines(), "=> [2/2] RUN echo xxx", "DONE")) << screen.text();
}

TEST_F(ProgressTtyTest, NoColorKeepsTheViewWithoutColours) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo plain-$((3*3))\n");
  auto r = build_in_pty(dir("ctx"), {"--progress=tty"}, {{"NO_COLOR", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r.raw;
  EXPECT_NE(r.raw.find("\x1b[J"), std::string::npos) << r.raw;
  EXPECT_EQ(r.raw.find("\x1b[2m"), std::string::npos) << r.raw;
  EXPECT_EQ(r.raw.find("\x1b[34m"), std::string::npos) << r.raw;
  EXPECT_EQ(r.raw.find("\x1b[0m"), std::string::npos) << r.raw;
  EXPECT_TRUE(has_line(screen_of(r).lines(), "=> [2/2] RUN echo plain-$((3*3))", "DONE"));
}

TEST_F(ProgressTtyTest, PlainAndDumbTerminalPrintNoEscapeSequences) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo seen-$((5*5))\n");
  auto plain = build_in_pty(dir("ctx"), {"--progress=plain", "--no-cache"});
  ASSERT_EQ(plain.exit_code, 0) << plain.raw;
  EXPECT_EQ(plain.raw.find('\x1b'), std::string::npos) << plain.raw;
  EXPECT_NE(plain.raw.find("# [2/2] RUN echo seen-$((5*5))"), std::string::npos) << plain.raw;
  EXPECT_NE(plain.raw.find("# [2/2] | seen-25"), std::string::npos) << plain.raw;

  auto dumb = build_in_pty(dir("ctx"), {"--no-cache"}, {{"TERM", "dumb"}});
  ASSERT_EQ(dumb.exit_code, 0) << dumb.raw;
  EXPECT_EQ(dumb.raw.find('\x1b'), std::string::npos) << dumb.raw;
  EXPECT_NE(dumb.raw.find("# [2/2] | seen-25"), std::string::npos) << dumb.raw;
}

TEST_F(ProgressTtyTest, LogLinesPrintAboveTheView) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo logged\n");
  auto r = build_in_pty(dir("ctx"), {}, {{"MKIMG_LOG_LEVEL", "debug"}});
  ASSERT_EQ(r.exit_code, 0) << r.raw;
  Screen screen = screen_of(r);
  auto lines = screen.lines();
  std::size_t header = 0;
  while (header < lines.size() && lines[header].rfind("[+] Building", 0) != 0) ++header;
  ASSERT_LT(header, lines.size()) << screen.text();
  EXPECT_TRUE(has_line(lines, "=> [2/2] RUN echo logged", "DONE")) << screen.text();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("mkimg: [debug]", 0) == 0) {
      EXPECT_LT(i, header) << "log lines stay above the view\n" << screen.text();
    }
  }
  EXPECT_TRUE(has_line(lines, "mkimg: [debug] cache miss sha256:", "")) << screen.text();
  EXPECT_TRUE(has_line(lines, "mkimg: [debug] runtime:", "")) << screen.text();
  EXPECT_NE(r.raw.find(" run --bundle "), std::string::npos) << "log lines are never cut";
}

}  // namespace
}  // namespace mkimg::testing
