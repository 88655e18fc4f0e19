// bench_parse: how fast parser/ reads big Dockerfiles. Generates a 10,000-line Dockerfile
// (every kind of instruction, continuations, heredocs, JSON forms, expansions) and a 300-stage,
// 3,000-instruction one, then prints the median of several parses (and of expanding every
// instruction). Prints figures only; never asserts. Target: 10,000 lines well under 50 ms.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "parser/expand.h"
#include "parser/parse.h"

namespace {

using Clock = std::chrono::steady_clock;

/// Appends a block of instructions (about 20 lines) numbered `i`.
void append_block(std::string& out, int i) {
  const std::string n = std::to_string(i);
  out += "# block " + n + "\n";
  out += "ARG VERSION_" + n + "=1." + n + "\n";
  out += "ENV PATH=/opt/" + n + "/bin:$PATH HOME=/home/u" + n + " LANG=\"C.UTF-8\"\n";
  out += "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && \\\n";
  out += "    apt-get install -y --no-install-recommends pkg" + n + " \\\n";
  out += "    && rm -rf /var/lib/apt/lists/*\n";
  out += "COPY --chown=app:app --chmod=0644 src/" + n + "/ /app/${VERSION_" + n + "}/\n";
  out += "RUN <<EOF\n";
  out += "set -e\necho building " + n + "\nmake -j2 target" + n + "\n";
  out += "EOF\n";
  out += "WORKDIR /app/$VERSION_" + n + "\n";
  out += "LABEL org.example.block=\"" + n + "\" org.example.name=b" + n + "\n";
  out += "EXPOSE " + std::to_string(8000 + i % 1000) + "/tcp\n";
  out += "HEALTHCHECK --interval=30s --timeout=3s CMD [\"/bin/check\", \"" + n + "\"]\n";
  out += "CMD [\"/app/run\", \"--id\", \"" + n + "\"]\n";
  out += "USER ${USER:-app}\n";
}

std::string ten_thousand_lines() {
  std::string out = "# syntax=docker/dockerfile:1\nFROM debian:12 AS base\n";
  for (int i = 0; out.size() < 10 || std::count(out.begin(), out.end(), '\n') < 10000; ++i) {
    append_block(out, i);
  }
  return out;
}

std::string many_stages() {
  std::string out;
  for (int s = 0; s < 300; ++s) {
    const std::string n = std::to_string(s);
    out += "FROM " + (s == 0 ? std::string("alpine:3.19") : "s" + std::to_string(s - 1)) + " AS s" +
           n + "\n";
    for (int k = 0; k < 9; ++k) {
      out += k % 3 == 0   ? "RUN echo " + n + " " + std::to_string(k) + "\n"
             : k % 3 == 1 ? "COPY --from=s0 /a" + std::to_string(k) + " /b/\n"
                          : "ENV K" + std::to_string(k) + "=v" + n + "\n";
    }
  }
  return out;
}

double cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// Median wall-clock and median CPU milliseconds of `runs` runs (CPU time is what to compare
/// on a loaded machine).
struct Timing {
  double wall_ms;
  double cpu_ms;
};

Timing median_ms(const std::function<void()>& work, int runs) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    const double cpu_start = cpu_ms();
    work();
    cpu.push_back(cpu_ms() - cpu_start);
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

std::size_t count_instructions(const mkimg::parser::Dockerfile& d) {
  std::size_t n = d.global_args.size();
  for (const auto& s : d.stages) n += s.instructions.size() + 1;
  return n;
}

void report(const char* name, const std::string& text, int runs) {
  const auto parsed = mkimg::parser::parse(text);
  mkimg::parser::Environment env;
  mkimg::parser::set_variable(env, "PATH", "/usr/bin:/bin");
  const Timing parse_ms = median_ms([&] { (void)mkimg::parser::parse(text); }, runs);
  const Timing expand_ms = median_ms(
      [&] {
        for (const auto& stage : parsed.stages) {
          for (const auto& instruction : stage.instructions) {
            (void)mkimg::parser::expand(instruction, env);
          }
        }
      },
      runs);
  const long lines = std::count(text.begin(), text.end(), '\n');
  std::printf(
      "%-24s %6ld lines %5zu instructions %4zu stages | parse: cpu %6.2f ms wall %6.2f ms | "
      "expand all: cpu %6.2f ms wall %6.2f ms\n",
      name, lines, count_instructions(parsed), parsed.stages.size(), parse_ms.cpu_ms,
      parse_ms.wall_ms, expand_ms.cpu_ms, expand_ms.wall_ms);
}

}  // namespace

int main() {
  constexpr int kRuns = 9;
  std::printf("bench_parse: median of %d runs\n", kRuns);
  report("10,000-line Dockerfile", ten_thousand_lines(), kRuns);
  report("300 stages x 10", many_stages(), kRuns);
  return 0;
}
