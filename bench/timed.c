/* bench/timed.c: runs a command and reports its wall time and peak RSS, as the last line of its
 * standard error: "timed <seconds> <peak RSS in KiB>". bench/run.py compiles it (cc -static)
 * and starts every measured command through it, the floors' too.
 *
 * Why not /usr/bin/time: it is dynamically linked and its own start (about 5 ms here) was timed
 * with each build, while the floors it is compared with (a bare `runc run`) did not pay it. Why
 * not Python alone: a child forked from Python starts with Python's memory, and the kernel keeps
 * that high-water mark across exec, so ru_maxrss would never be below Python's own (26 MiB).
 * Here the clock runs from just before fork to just after wait4, and the child is forked from
 * this small static process. The RSS is wait4's ru_maxrss: the largest process of the tree. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: timed COMMAND [ARG...]\n");
    return 2;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) {
    perror("timed: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  while (wait4(pid, &status, 0, &usage) < 0) {
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  fprintf(stderr, "timed %.6f %ld\n", seconds, usage.ru_maxrss);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
