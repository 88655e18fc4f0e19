/* bench/walk.c: the stat floor of a build context, `walk DIR`: every entry below DIR read with
 * getdents64 in 64 KiB batches and stat'ed with statx (size and mtime, what a context memo
 * compares), on one thread a core. Directories are shared through one queue; nothing is kept.
 * Prints the number of entries. What mkimg's own walk cannot beat on this machine: scenario
 * 8's floor of the one-file change uses it (bench/run.py). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static int *queue;           /* open directory descriptors waiting to be read */
static size_t queued, room;  /* entries in queue, its capacity */
static int busy;             /* threads reading a directory */
static unsigned long long total;

static void push(int fd) {
  pthread_mutex_lock(&lock);
  if (queued == room) {
    room = room ? room * 2 : 1024;
    queue = realloc(queue, room * sizeof *queue);
    if (!queue) abort();
  }
  queue[queued++] = fd;
  pthread_cond_signal(&more);
  pthread_mutex_unlock(&lock);
}

static void walk_dir(int dir, char *buf, unsigned long long *count) {
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, 65536);
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
      at += d->d_reclen;
      if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
      struct statx st;
      if (statx(dir, d->d_name, AT_SYMLINK_NOFOLLOW, STATX_SIZE | STATX_MTIME | STATX_TYPE,
                &st) != 0) {
        perror(d->d_name);
        exit(1);
      }
      ++*count;
      if (S_ISDIR(st.stx_mode)) {
        int sub = openat(dir, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
          perror(d->d_name);
          exit(1);
        }
        push(sub);
      }
    }
  }
  close(dir);
}

static void *worker(void *unused) {
  (void)unused;
  char *buf = malloc(65536);
  unsigned long long count = 0;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (queued == 0 && busy > 0) pthread_cond_wait(&more, &lock);
    if (queued == 0) {  /* nothing queued and nobody reading: done */
      pthread_cond_broadcast(&more);
      total += count;
      pthread_mutex_unlock(&lock);
      free(buf);
      return NULL;
    }
    int dir = queue[--queued];
    ++busy;
    pthread_mutex_unlock(&lock);
    walk_dir(dir, buf, &count);
    pthread_mutex_lock(&lock);
    --busy;
    pthread_cond_broadcast(&more);
    pthread_mutex_unlock(&lock);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: walk DIR\n");
    return 2;
  }
  int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    perror(argv[1]);
    return 1;
  }
  push(root);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  pthread_t threads[64];
  int n = cores > 64 ? 64 : (int)cores;
  for (int i = 0; i < n; ++i) pthread_create(&threads[i], NULL, worker, NULL);
  for (int i = 0; i < n; ++i) pthread_join(threads[i], NULL);
  printf("%llu\n", total);
  return 0;
}
