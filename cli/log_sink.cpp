#include "cli/log_sink.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace mkimg::cli {
namespace {

std::mutex g_divert_mutex;
std::function<void(std::string_view)> g_divert;

/// stderr, or the diverted target while one is set.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string_view line(buf.data(), buf.size());
    std::lock_guard lock(g_divert_mutex);
    if (g_divert) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
      g_divert(line);
      return;
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

void setup_logging(const std::string& level) {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = std::make_shared<spdlog::logger>("mkimg", std::make_shared<StderrSink>());
    logger->set_pattern("mkimg: [%l] %v");
    spdlog::set_default_logger(logger);
  });
  spdlog::set_level(spdlog::level::from_str(level));
}

void divert_log_lines(std::function<void(std::string_view)> divert) {
  std::lock_guard lock(g_divert_mutex);
  g_divert = std::move(divert);
}

}  // namespace mkimg::cli
