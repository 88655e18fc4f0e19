#include "runtime/cancel.h"

#include <signal.h>

#include <atomic>

namespace mkimg::runtime {
namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted = true; }

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted.load(); }

}  // namespace mkimg::runtime
