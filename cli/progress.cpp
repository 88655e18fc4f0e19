#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/log_sink.h"
#include "oci/digest.h"
#include "registry/encoding.h"

namespace mkimg::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kRunningLines = 6;  ///< output lines shown under a running step
constexpr std::size_t kKeptLines = 20;    ///< kept per step, all shown when it failed
constexpr auto kTick = std::chrono::milliseconds(100);

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

bool dumb_terminal() {
  const char* term = std::getenv("TERM");
  return term && std::string_view(term) == "dumb";
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

/// A step's output line made safe to draw: what follows the last carriage return, no
/// escape sequences or control characters, tabs as spaces.
std::string sanitize(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (auto cr = line.rfind('\r'); cr != std::string_view::npos) line.remove_prefix(cr + 1);
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == 0x1b) {  // CSI "ESC [ ... final" or a two-byte escape
      if (i + 1 < line.size() && line[i + 1] == '[') {
        i += 2;
        while (i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e)) ++i;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '\t') {
      out += ' ';
    } else if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    }
  }
  return out;
}

/// Columns `text` takes, counting any non-ASCII character as two (never under-counts, so a
/// cut line never wraps).
std::size_t columns(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) {
    if (c < 0x80) {
      ++n;
    } else if (c >= 0xc0) {
      n += 2;  // a UTF-8 lead byte; continuation bytes add nothing
    }
  }
  return n;
}

/// The longest prefix of `text` (whole UTF-8 characters) that fits in `width` columns.
std::string cut(std::string_view text, std::size_t width) {
  std::size_t used = 0, i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    std::size_t w = c < 0x80 ? 1 : 2;
    if (used + w > width) break;
    used += w;
    i += len;
  }
  return std::string(text.substr(0, std::min(i, text.size())));
}

/// The stage part of a label: "build" for "build 2/5", "" for "2/5".
std::string_view stage_of(std::string_view label) {
  auto slash = label.rfind('/');
  if (slash == std::string_view::npos) return label;
  auto space = label.rfind(' ', slash);
  return space == std::string_view::npos ? std::string_view{} : label.substr(0, space);
}

}  // namespace

/// The live tty view (see progress.h).
class LiveView {
 public:
  explicit LiveView(bool color) : color_(color), start_(Clock::now()) {
    divert_log_lines([this](std::string_view line) { log(line); });
    ticker_ = std::thread([this] { tick(); });
  }
  ~LiveView() { finish(true); }

  void step(std::string_view label, std::string_view text) {
    std::lock_guard lock(mutex_);
    end_stage(label);
    entries_.push_back({Kind::kRunning, std::string(label), std::string(text), Clock::now()});
  }

  void output(std::string_view label, std::string_view line) {
    std::lock_guard lock(mutex_);
    Entry* e = find(label);
    if (!e) return;
    e->tail.push_back(sanitize(line));
    if (e->tail.size() > kKeptLines) e->tail.pop_front();
  }

  void cached(std::string_view label, std::string_view text) {
    std::lock_guard lock(mutex_);
    end_stage(label);
    entries_.push_back({Kind::kCached, std::string(label), std::string(text), Clock::now()});
  }

  void done(std::string_view label, double seconds) {
    std::lock_guard lock(mutex_);
    if (Entry* e = find(label)) {
      e->kind = Kind::kDone;
      e->seconds = seconds;
      e->tail.clear();
    }
  }

  void note(std::string_view line) {
    std::lock_guard lock(mutex_);
    entries_.push_back({Kind::kNote, "", sanitize(line), Clock::now()});
  }

  /// A log line: printed above the view, which is redrawn below it.
  void log(std::string_view line) {
    std::lock_guard lock(mutex_);
    if (finished_) {
      write(std::string(line) + "\n");
      return;
    }
    std::string out = erase_view();
    out += std::string(line) + "\n";  // above the view: it may wrap
    drawn_ = 0;
    out += draw(false);
    write(out);
  }

  bool active() {
    std::lock_guard lock(mutex_);
    return !finished_;
  }

  void finish(bool failed) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      stop_ = true;
    }
    wake_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    divert_log_lines({});
    std::lock_guard lock(mutex_);
    failed_ = failed;
    for (auto& e : entries_) {
      if (e.kind != Kind::kRunning) continue;
      e.seconds = std::chrono::duration<double>(Clock::now() - e.start).count();
      e.kind = failed ? Kind::kError : Kind::kDone;
      if (!failed) e.tail.clear();
    }
    write(draw(true));
    finished_ = true;
  }

 private:
  enum class Kind { kRunning, kCached, kDone, kError, kNote };
  struct Entry {
    Kind kind;
    std::string label, text;
    Clock::time_point start;
    double seconds = 0;
    std::deque<std::string> tail;
  };
  struct Size {
    std::size_t width, rows;
  };

  static Size terminal() {
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      return {std::max<std::size_t>(ws.ws_col, 20), ws.ws_row > 0 ? ws.ws_row : 24u};
    }
    return {80, 24};
  }

  Entry* find(std::string_view label) {
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (it->kind != Kind::kNote && it->label == label) return &*it;
    }
    return nullptr;
  }

  /// The previous running step of `label`'s stage is over (FROM has no done()).
  void end_stage(std::string_view label) {
    std::string_view stage = stage_of(label);
    for (auto& e : entries_) {
      if (e.kind == Kind::kRunning && stage_of(e.label) == stage) {
        e.kind = Kind::kDone;
        e.seconds = std::chrono::duration<double>(Clock::now() - e.start).count();
        e.tail.clear();
      }
    }
  }

  void tick() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      write(draw(false));
      wake_.wait_for(lock, kTick, [this] { return stop_; });
    }
  }

  std::string sgr(const char* code) const { return color_ ? std::string("\x1b[") + code : ""; }

  /// One line: `left` cut to fit, `right` at the right edge, in colour `code`.
  std::string line(const std::string& left, const std::string& right, const char* code,
                   std::size_t width) const {
    std::size_t room = width - 1;  // the last column is left free: no pending wrap
    std::size_t right_cols = right.empty() ? 0 : right.size() + 1;
    std::string text = cut(left, room > right_cols ? room - right_cols : 0);
    if (!right.empty() && room >= right_cols) {
      text += std::string(room - right.size() - columns(text), ' ') + right;
    }
    if (code && color_) return sgr(code) + text + sgr("0m");
    return text;
  }

  /// Cursor to the top of the drawn view, which is erased.
  std::string erase_view() const {
    std::string out = "\r";
    if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "A";
    return out + "\x1b[J";
  }

  /// "[+] Building 1.2s (3/5)", with FINISHED or ERROR once the build is over.
  std::string header_text(bool final, Clock::time_point now) const {
    std::size_t steps = 0, finished = 0;
    for (const auto& e : entries_) {
      if (e.kind == Kind::kNote) continue;
      ++steps;
      if (e.kind != Kind::kRunning) ++finished;
    }
    std::string header = "[+] Building " +
                         seconds_text(std::chrono::duration<double>(now - start_).count()) + " (" +
                         std::to_string(finished) + "/" + std::to_string(steps) + ")";
    if (final) header += failed_ ? " ERROR" : " FINISHED";
    return header;
  }

  /// One entry's lines: its status line, then the last lines of its output it keeps.
  std::vector<std::string> entry_block(const Entry& e, Clock::time_point now,
                                       std::size_t width) const {
    std::vector<std::string> block;
    std::string left = "=> " + (e.label.empty() ? "" : "[" + e.label + "] ") + e.text;
    std::size_t shown = 0;
    switch (e.kind) {
      case Kind::kRunning:
        block.push_back(line(left,
                             seconds_text(std::chrono::duration<double>(now - e.start).count()),
                             nullptr, width));
        shown = kRunningLines;
        break;
      case Kind::kCached:
        block.push_back(line(left, "CACHED", "34m", width));
        break;
      case Kind::kDone:
        block.push_back(line(left, "DONE " + seconds_text(e.seconds), "34m", width));
        break;
      case Kind::kError:
        block.push_back(line(left, "ERROR " + seconds_text(e.seconds), "31m", width));
        shown = kKeptLines;
        break;
      case Kind::kNote:
        block.push_back(line("=> " + e.text, "", nullptr, width));
        break;
    }
    std::size_t from = e.tail.size() > shown ? e.tail.size() - shown : 0;
    for (std::size_t i = from; i < e.tail.size(); ++i) {
      block.push_back(line("   " + e.tail[i], "", "2m", width));
    }
    return block;
  }

  /// The lines of the blocks that fit `rows` (all of them when `final`): finished entries at
  /// the top leave the live view first, then the oldest lines.
  std::vector<std::string> fit(std::vector<std::vector<std::string>> blocks, bool final,
                               std::size_t rows) const {
    std::size_t total = 0;
    for (const auto& b : blocks) total += b.size();
    std::size_t first = 0;
    if (!final) {
      std::size_t budget = rows > 2 ? rows - 2 : 1;
      while (total > budget && first < blocks.size() && entries_[first].kind != Kind::kRunning) {
        total -= blocks[first++].size();
      }
    }
    std::vector<std::string> lines;
    for (std::size_t i = first; i < blocks.size(); ++i) {
      for (auto& l : blocks[i]) lines.push_back(std::move(l));
    }
    if (!final && lines.size() + 1 > rows - 1 && rows > 2) {
      lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(rows - 2));
    }
    return lines;
  }

  /// The view redrawn over the previous one; `final` draws everything, unlimited in height.
  std::string draw(bool final) {
    Size size = terminal();
    auto now = Clock::now();
    std::vector<std::vector<std::string>> blocks;
    for (const auto& e : entries_) blocks.push_back(entry_block(e, now, size.width));
    std::vector<std::string> lines = fit(std::move(blocks), final, size.rows);
    std::string out = erase_view();
    out += line(header_text(final, now), "", final && failed_ ? "31m" : "1m", size.width) + "\n";
    for (const auto& l : lines) out += l + "\n";
    drawn_ = lines.size() + 1;
    return out;
  }

  static void write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }

  const bool color_;
  const Clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false, finished_ = false, failed_ = false;
  std::vector<Entry> entries_;
  std::size_t drawn_ = 0;  ///< lines of the view now on the screen, the cursor below them
  std::thread ticker_;
};

/// --progress rawjson (see progress.h): each event as one line of BuildKit's SolveStatus JSON.
class RawJsonView {
 public:
  RawJsonView() {
    divert_log_lines([this](std::string_view line) { log("", 2, std::string(line) + "\n"); });
  }
  ~RawJsonView() { divert_log_lines({}); }

  void step(std::string_view label, std::string_view text) {
    std::lock_guard lock(mutex_);
    end_stage(label);
    Vertex& v = running_[std::string(label)];
    v = {vertex_digest(label, text), "[" + std::string(label) + "] " + std::string(text), now()};
    emit({{"vertexes", nlohmann::json::array({vertex(v)})}});
  }

  void output(std::string_view label, std::string_view line) {
    std::string digest;
    {
      std::lock_guard lock(mutex_);
      auto found = running_.find(std::string(label));
      if (found == running_.end()) return;
      digest = found->second.digest;
    }
    log(digest, 1, std::string(line) + "\n");
  }

  void cached(std::string_view label, std::string_view text) {
    std::lock_guard lock(mutex_);
    end_stage(label);
    Vertex v{vertex_digest(label, text), "[" + std::string(label) + "] " + std::string(text),
             now()};
    nlohmann::json j = vertex(v);
    j["completed"] = v.started;
    j["cached"] = true;
    emit({{"vertexes", nlohmann::json::array({j})}});
  }

  void done(std::string_view label) {
    std::lock_guard lock(mutex_);
    complete(std::string(label), "");
  }

  void note(std::string_view line) {
    std::lock_guard lock(mutex_);
    Vertex v{vertex_digest("", line), std::string(line), now()};
    nlohmann::json j = vertex(v);
    j["completed"] = v.started;
    emit({{"vertexes", nlohmann::json::array({j})}});
  }

  /// Ends every running step: with `error` set when the build failed.
  void finish(const std::string& error) {
    std::lock_guard lock(mutex_);
    while (!running_.empty()) complete(running_.begin()->first, error);
  }

 private:
  struct Vertex {
    std::string digest, name, started;
  };

  /// RFC 3339 with nanoseconds, UTC, as Go's time.Time marshals.
  static std::string now() {
    auto t = std::chrono::system_clock::now();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns % 1000000000));
    return buf;
  }

  /// A step's vertex digest: stable across builds of the same Dockerfile.
  static std::string vertex_digest(std::string_view label, std::string_view text) {
    return oci::sha256_of(std::string(label) + '\0' + std::string(text)).str();
  }

  static nlohmann::json vertex(const Vertex& v) {
    return {{"digest", v.digest}, {"name", v.name}, {"started", v.started}};
  }

  /// FROM has no done(): the next step of its stage ends it.
  void end_stage(std::string_view label) {
    std::string_view stage = stage_of(label);
    std::vector<std::string> ended;
    for (const auto& [l, v] : running_) {
      if (stage_of(l) == stage) ended.push_back(l);
    }
    for (const auto& l : ended) complete(l, "");
  }

  void complete(const std::string& label, const std::string& error) {
    auto found = running_.find(label);
    if (found == running_.end()) return;
    nlohmann::json j = vertex(found->second);
    j["completed"] = now();
    if (!error.empty()) j["error"] = error;
    running_.erase(found);
    emit({{"vertexes", nlohmann::json::array({j})}});
  }

  void log(const std::string& digest, int stream, const std::string& data) {
    nlohmann::json entry{{"vertex", digest},
                         {"stream", stream},
                         {"data", registry::base64_encode(data)},
                         {"timestamp", now()}};
    std::lock_guard lock(write_mutex_);
    write(nlohmann::json{{"logs", nlohmann::json::array({entry})}});
  }

  void emit(const nlohmann::json& j) {
    std::lock_guard lock(write_mutex_);
    write(j);
  }

  static void write(const nlohmann::json& j) {
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }

  std::mutex mutex_;        ///< running_
  std::mutex write_mutex_;  ///< whole lines on stderr
  std::map<std::string, Vertex> running_;
};

Progress::Progress(ProgressMode mode)
    : mode_(mode), uncaught_at_start_(std::uncaught_exceptions()) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = ::isatty(STDERR_FILENO) ? ProgressMode::kTty : ProgressMode::kPlain;
  }
  if (mode_ == ProgressMode::kTty && dumb_terminal()) mode_ = ProgressMode::kPlain;
  if (mode_ == ProgressMode::kTty) live_ = std::make_unique<LiveView>(!env_set("NO_COLOR"));
  if (mode_ == ProgressMode::kRawJson) json_ = std::make_unique<RawJsonView>();
}

Progress::~Progress() {
  finish(std::uncaught_exceptions() > uncaught_at_start_);
  json_.reset();
}

void Progress::finish(bool failed) {
  if (live_) live_->finish(failed);
  if (json_) json_->finish(failed ? "failed" : "");
}

void Progress::fail(const std::string& message) {
  if (json_) json_->finish(message);
  finish(true);
}

void Progress::print(const std::string& line) {
  if (mode_ == ProgressMode::kQuiet) return;
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::step(std::string_view label, std::string_view text) {
  if (json_) return json_->step(label, text);
  if (live_ && live_->active()) return live_->step(label, text);
  print("#" + std::string(" [") + std::string(label) + "] " + std::string(text));
}

void Progress::output(std::string_view label, std::string_view line) {
  if (json_) return json_->output(label, line);
  if (live_ && live_->active()) return live_->output(label, line);
  print("# [" + std::string(label) + "] | " + std::string(line));
}

void Progress::cached(std::string_view label, std::string_view text) {
  if (json_) return json_->cached(label, text);
  if (live_ && live_->active()) return live_->cached(label, text);
  print("# [" + std::string(label) + "] CACHED " + std::string(text));
}

void Progress::done(std::string_view label, double seconds) {
  if (json_) return json_->done(label);
  if (live_ && live_->active()) return live_->done(label, seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "DONE %.1fs", seconds);
  print("# [" + std::string(label) + "] " + buf);
}

void Progress::note(std::string_view line) {
  if (json_) return json_->note(line);
  if (live_ && live_->active()) return live_->note(line);
  print("# " + std::string(line));
}

}  // namespace mkimg::cli
