/* bench.h - what the load generator's files share: the run harness (threads
 * that start together at a barrier and stop on a shared flag), the helpers
 * that die with a message, and the subcommands each file provides.
 *
 * bench.c:      the harness, the file loops (pread, cat, pwrite, ctl), the
 *               writer's latency, the lock, main
 * durability.c: fdatasync reference, one timed write, waiting for a mount
 * queues.c:     rwfs queues, a named pipe, Redis (a tiny RESP client)
 * shop.c:       buyers on mnt/shop
 * files.c:      whole-buffer reads and writes, O_APPEND lines, flock pairs
 *
 * Every subcommand prints one line of `key value` pairs for bench/run.sh;
 * a rate is always under the key ops_per_sec.  On any error they die
 * (status 1) with a message naming what failed.
 */
#ifndef RWFS_BENCH_H
#define RWFS_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prints "bench: MESSAGE" on stderr and exits with status 1. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

uint64_t now_ns(void);              /* CLOCK_MONOTONIC */
void sleep_ns(uint64_t ns);
int open_or_die(const char *path, int flags);
void close_or_die(int fd, const char *path);
void start_thread(pthread_t *thread, void *(*fn)(void *), void *arg);
void join_thread(pthread_t thread);

/* One timed run: every participant passes the barrier once, then the
 * controlling thread sleeps and sets stop. */
struct run {
	pthread_barrier_t start;
	atomic_bool stop;
};

void run_init(struct run *run, unsigned participants);
void run_release(struct run *run);
void barrier_wait(struct run *run);
bool stopping(struct run *run);

/* Command-line numbers: a thread count 1..1024, a duration in seconds. */
unsigned parse_count(const char *s);
double parse_seconds(const char *s);

/* durability.c */
void cmd_fsync(const char *dir, double seconds);
void cmd_write_once(const char *path, const char *text);
void cmd_wait_path(const char *path, double seconds, const char *pid);

/* queues.c */
void cmd_queue(const char *path, unsigned producers, unsigned consumers, double seconds);
void cmd_pipe(const char *path, unsigned producers, double seconds);
void cmd_queue_rt(const char *path, double seconds);
void cmd_redis(const char *port, double seconds);
void cmd_free_port(void);

/* shop.c */
void cmd_shop(const char *path, unsigned buyers, double seconds, const char *upc);

/* files.c */
size_t parse_bytes(const char *s);  /* a buffer size, 1 byte to 16 MiB */
void cmd_file_read(const char *path, size_t len, double seconds);
void cmd_file_write(const char *path, size_t len, double seconds);
void cmd_append(const char *path, unsigned procs, double seconds);
void cmd_flock(const char *path, unsigned procs, double seconds);

#endif
