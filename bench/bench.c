/* bench.c - load generator for rwfs and its reference filesystems.
 *
 * Each subcommand runs for a fixed time with threads that start together
 * (a barrier) and stop on a shared flag, then prints one line of
 * `key value` pairs for bench/run.sh to pick apart.  No FUSE code here:
 * the same loops run against rwfs, bench/minfuse and tmpfs.  `lock` runs
 * rwfs's struct rwlock and glibc's default pthread_rwlock_t in process.
 * The durability, queue, shop and files subcommands live in their own files
 * (see bench.h) and are dispatched from main here.
 */
#include "bench.h"
#include "rwlock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *progname = "bench";

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000u, .tv_nsec = ns % 1000000000u };

	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			die("nanosleep: %s", strerror(errno));
}

int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	return fd;
}

void close_or_die(int fd, const char *path)
{
	if (close(fd) != 0)
		die("close '%s': %s", path, strerror(errno));
}

/* ---- the run: threads, barrier, stop flag ---------------------------- */

struct worker {
	pthread_t thread;
	struct run *run;
	void (*loop)(struct worker *w);
	const char *path;
	/* Written once by the worker as it ends (counting in a local keeps
	 * the workers off each other's cache lines), read after the join. */
	uint64_t ops;
	uint64_t elapsed_ns;  /* from the barrier to the worker's last op */
};

void barrier_wait(struct run *run)
{
	int err = pthread_barrier_wait(&run->start);

	if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(err));
}

bool stopping(struct run *run)
{
	return atomic_load_explicit(&run->stop, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->loop(w);
	return NULL;
}

void start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(thread, NULL, fn, arg);

	if (err != 0)
		die("pthread_create: %s", strerror(err));
}

void join_thread(pthread_t thread)
{
	int err = pthread_join(thread, NULL);

	if (err != 0)
		die("pthread_join: %s", strerror(err));
}

/* Runs `extra` threads already started by the caller plus `n` workers
 * doing `loop`, worker i on paths[i % npaths], for `seconds`.  Every
 * participant (workers, extras, this thread) passes the barrier once.
 * Returns the workers' summed rate in operations per second. */
static double run_workers_on(struct run *run, unsigned n, void (*loop)(struct worker *),
			     char *const *paths, size_t npaths, double seconds)
{
	struct worker *w = calloc(n, sizeof(*w));
	double rate = 0.0;

	if (w == NULL)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		w[i].run = run;
		w[i].loop = loop;
		w[i].path = paths[i % npaths];
		start_thread(&w[i].thread, worker_main, &w[i]);
	}
	barrier_wait(run);
	sleep_ns((uint64_t)(seconds * 1e9));
	atomic_store(&run->stop, true);
	for (unsigned i = 0; i < n; i++) {
		join_thread(w[i].thread);
		if (w[i].elapsed_ns > 0)
			rate += (double)w[i].ops * 1e9 / (double)w[i].elapsed_ns;
	}
	free(w);
	return rate;
}

/* run_workers_on with every worker on the one path. */
static double run_workers(struct run *run, unsigned n, void (*loop)(struct worker *),
			  const char *path, double seconds)
{
	char *paths[] = { (char *)path };

	return run_workers_on(run, n, loop, paths, 1, seconds);
}

void run_init(struct run *run, unsigned participants)
{
	int err = pthread_barrier_init(&run->start, NULL, participants);

	if (err != 0)
		die("pthread_barrier_init: %s", strerror(err));
	atomic_init(&run->stop, false);
}

void run_release(struct run *run)
{
	pthread_barrier_destroy(&run->start);
}

/* ---- file loops -------------------------------------------------------- */

static void loop_pread(struct worker *w)
{
	char buf[64];
	int fd = open_or_die(w->path, O_RDONLY);
	uint64_t t0, ops = 0;

	barrier_wait(w->run);
	t0 = now_ns();
	while (!stopping(w->run)) {
		if (pread(fd, buf, sizeof(buf), 0) < 0)
			die("pread '%s': %s", w->path, strerror(errno));
		ops++;
	}
	w->elapsed_ns = now_ns() - t0;
	w->ops = ops;
	close_or_die(fd, w->path);
}

static void loop_cat(struct worker *w)
{
	char buf[4096];
	uint64_t t0, ops = 0;

	barrier_wait(w->run);
	t0 = now_ns();
	while (!stopping(w->run)) {
		int fd = open_or_die(w->path, O_RDONLY);
		ssize_t n;

		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		if (n < 0)
			die("read '%s': %s", w->path, strerror(errno));
		close_or_die(fd, w->path);
		ops++;
	}
	w->elapsed_ns = now_ns() - t0;
	w->ops = ops;
}

static void loop_pwrite(struct worker *w)
{
	int fd = open_or_die(w->path, O_WRONLY);
	uint64_t t0, ops = 0;

	barrier_wait(w->run);
	t0 = now_ns();
	while (!stopping(w->run)) {
		ssize_t n = pwrite(fd, "1\n", 2, 0);

		if (n != 2)
			die("pwrite '%s': %s", w->path,
			    n < 0 ? strerror(errno) : "short write");
		ops++;
	}
	w->elapsed_ns = now_ns() - t0;
	w->ops = ops;
	close_or_die(fd, w->path);
}

/* rwfs's ctl takes each write() as one batch wherever the offset is.  A
 * plain file would grow by 8 bytes a write, so any file not named `ctl`
 * gets the same bytes with pwrite() at offset 0 instead. */
static bool is_ctl(const char *path)
{
	const char *slash = strrchr(path, '/');

	return strcmp(slash != NULL ? slash + 1 : path, "ctl") == 0;
}

/* Writes batch (len bytes) as one write() to ctl, flat out. */
static void loop_batch(struct worker *w, const char *batch, size_t len)
{
	bool ctl = is_ctl(w->path);
	int fd = open_or_die(w->path, O_RDWR);
	uint64_t t0, ops = 0;

	barrier_wait(w->run);
	t0 = now_ns();
	while (!stopping(w->run)) {
		ssize_t n = ctl ? write(fd, batch, len) : pwrite(fd, batch, len, 0);

		if (n != (ssize_t)len)
			die("write '%s': %s", w->path,
			    n < 0 ? strerror(errno) : "short write");
		ops++;
	}
	w->elapsed_ns = now_ns() - t0;
	w->ops = ops;
	close_or_die(fd, w->path);
}

static void loop_ctl(struct worker *w)
{
	static const char batch[] = "ADD A 1\n";

	loop_batch(w, batch, sizeof(batch) - 1);
}

#define BATCH_LINES 100

/* A batch of 100 instructions, one record: 100 "ADD A 1" lines. */
static void loop_ctl100(struct worker *w)
{
	static const char line[] = "ADD A 1\n";
	char batch[BATCH_LINES * (sizeof(line) - 1)];

	for (size_t k = 0; k < BATCH_LINES; k++)
		memcpy(batch + k * (sizeof(line) - 1), line, sizeof(line) - 1);
	loop_batch(w, batch, sizeof(batch));
}

/* ---- latency samples --------------------------------------------------- */

struct samples {
	uint64_t *ns;
	size_t len, cap;
};

static void samples_add(struct samples *s, uint64_t ns)
{
	if (s->len == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;
		uint64_t *p = realloc(s->ns, cap * sizeof(*p));

		if (p == NULL)
			die("out of memory");
		s->ns = p;
		s->cap = cap;
	}
	s->ns[s->len++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts the samples; puts the largest and the 99th percentile in µs. */
static void samples_summary(struct samples *s, double *max_us, double *p99_us)
{
	size_t i;

	if (s->len == 0) {
		*max_us = *p99_us = 0.0;
		return;
	}
	qsort(s->ns, s->len, sizeof(*s->ns), cmp_u64);
	i = (s->len * 99 + 99) / 100;  /* ceil(0.99 n), 1-based */
	*max_us = (double)s->ns[s->len - 1] / 1e3;
	*p99_us = (double)s->ns[i - 1] / 1e3;
}

/* ---- writer-latency ---------------------------------------------------- */

struct file_writer {
	struct run *run;
	const char *path;
	struct samples lat;
};

static void *file_writer_main(void *arg)
{
	struct file_writer *fw = arg;
	int fd = open_or_die(fw->path, O_WRONLY);

	barrier_wait(fw->run);
	while (!stopping(fw->run)) {
		uint64_t t0 = now_ns();
		ssize_t n = pwrite(fd, "1\n", 2, 0);

		if (n != 2)
			die("pwrite '%s': %s", fw->path,
			    n < 0 ? strerror(errno) : "short write");
		samples_add(&fw->lat, now_ns() - t0);
		sleep_ns(1000000);
	}
	close_or_die(fd, fw->path);
	return NULL;
}

static void cmd_writer_latency(const char *readfile, const char *writefile,
			       unsigned readers, double seconds)
{
	struct run run;
	struct file_writer fw = { .run = &run, .path = writefile };
	pthread_t writer;
	double rate, max_us, p99_us;

	run_init(&run, readers + 2);
	start_thread(&writer, file_writer_main, &fw);
	rate = run_workers(&run, readers, loop_pread, readfile, seconds);
	join_thread(writer);
	run_release(&run);
	samples_summary(&fw.lat, &max_us, &p99_us);
	printf("writer_max_us %.1f writer_p99_us %.1f writes %zu reader_ops_per_sec %.0f\n",
	       max_us, p99_us, fw.lat.len, rate);
	free(fw.lat.ns);
}

/* ---- lock: rwfs's rwlock against glibc's default rwlock ------------------ */

struct lock_ops {
	const char *name;
	void (*rdlock)(void *lock);
	void (*wrlock)(void *lock);
	void (*unlock_rd)(void *lock);
	void (*unlock_wr)(void *lock);
};

static void rw_rdlock(void *l) { rwlock_read_lock(l); }
static void rw_rdunlock(void *l) { rwlock_read_unlock(l); }
static void rw_wrlock(void *l) { rwlock_write_lock(l); }
static void rw_wrunlock(void *l) { rwlock_write_unlock(l); }

static void check_pthread(int err, const char *what)
{
	if (err != 0)
		die("%s: %s", what, strerror(err));
}

static void pt_rdlock(void *l) { check_pthread(pthread_rwlock_rdlock(l), "pthread_rwlock_rdlock"); }
static void pt_wrlock(void *l) { check_pthread(pthread_rwlock_wrlock(l), "pthread_rwlock_wrlock"); }
static void pt_unlock(void *l) { check_pthread(pthread_rwlock_unlock(l), "pthread_rwlock_unlock"); }

static const struct lock_ops rwfs_lock_ops = {
	.name = "rwfs", .rdlock = rw_rdlock, .wrlock = rw_wrlock,
	.unlock_rd = rw_rdunlock, .unlock_wr = rw_wrunlock,
};

static const struct lock_ops glibc_lock_ops = {
	.name = "glibc", .rdlock = pt_rdlock, .wrlock = pt_wrlock,
	.unlock_rd = pt_unlock, .unlock_wr = pt_unlock,
};

/* What the readers and the writer share: the lock and what it protects. */
struct lock_bench {
	struct run run;
	const struct lock_ops *ops;
	void *lock;
	volatile uint64_t counter;  /* read under the shared lock, bumped under the exclusive one */
	struct samples wait;        /* the writer's */
};

struct lock_reader {
	pthread_t thread;
	struct lock_bench *b;
	uint64_t ops, elapsed_ns, sink;  /* written as the reader ends */
};

static void *lock_reader_main(void *arg)
{
	struct lock_reader *r = arg;
	struct lock_bench *b = r->b;
	uint64_t t0, ops = 0, sink = 0;

	barrier_wait(&b->run);
	t0 = now_ns();
	while (!stopping(&b->run)) {
		b->ops->rdlock(b->lock);
		sink += b->counter;
		b->ops->unlock_rd(b->lock);
		ops++;
	}
	r->elapsed_ns = now_ns() - t0;
	r->ops = ops;
	r->sink = sink;
	return NULL;
}

static void *lock_writer_main(void *arg)
{
	struct lock_bench *b = arg;

	barrier_wait(&b->run);
	while (!stopping(&b->run)) {
		uint64_t t0 = now_ns();

		b->ops->wrlock(b->lock);
		samples_add(&b->wait, now_ns() - t0);
		b->counter++;
		b->ops->unlock_wr(b->lock);
		sleep_ns(1000000);
	}
	return NULL;
}

struct lock_result {
	double max_us, p99_us, reads_per_sec;
	size_t writes;
};

static void lock_round(const struct lock_ops *ops, void *lock, unsigned readers,
		       double seconds, struct lock_result *res)
{
	struct lock_bench b = { .ops = ops, .lock = lock };
	struct lock_reader *r = calloc(readers, sizeof(*r));
	pthread_t writer;
	double rate = 0.0;

	if (r == NULL)
		die("out of memory");
	run_init(&b.run, readers + 2);
	for (unsigned i = 0; i < readers; i++) {
		r[i].b = &b;
		start_thread(&r[i].thread, lock_reader_main, &r[i]);
	}
	start_thread(&writer, lock_writer_main, &b);
	barrier_wait(&b.run);
	sleep_ns((uint64_t)(seconds * 1e9));
	atomic_store(&b.run.stop, true);
	for (unsigned i = 0; i < readers; i++) {
		join_thread(r[i].thread);
		if (r[i].elapsed_ns > 0)
			rate += (double)r[i].ops * 1e9 / (double)r[i].elapsed_ns;
	}
	join_thread(writer);
	run_release(&b.run);
	samples_summary(&b.wait, &res->max_us, &res->p99_us);
	res->writes = b.wait.len;
	res->reads_per_sec = rate;
	free(b.wait.ns);
	free(r);
}

static void cmd_lock(unsigned readers, double seconds)
{
	const struct lock_ops *ops[] = { &rwfs_lock_ops, &glibc_lock_ops };
	struct lock_result res[2];
	struct rwlock rw;
	pthread_rwlock_t pt;
	int err;

	err = rwlock_init(&rw);
	if (err != 0)
		die("rwlock_init: %s", strerror(-err));
	lock_round(ops[0], &rw, readers, seconds, &res[0]);
	rwlock_release(&rw);

	check_pthread(pthread_rwlock_init(&pt, NULL), "pthread_rwlock_init");
	lock_round(ops[1], &pt, readers, seconds, &res[1]);
	check_pthread(pthread_rwlock_destroy(&pt), "pthread_rwlock_destroy");

	for (int i = 0; i < 2; i++)
		printf("%s%s_max_us %.1f %s_p99_us %.1f %s_writes %zu %s_reads_per_sec %.0f",
		       i ? " " : "", ops[i]->name, res[i].max_us, ops[i]->name,
		       res[i].p99_us, ops[i]->name, res[i].writes, ops[i]->name,
		       res[i].reads_per_sec);
	putchar('\n');
}

/* ---- command line ------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench pread FILE THREADS SECONDS    loop pread(64 bytes, offset 0)\n"
		"       bench cat FILE THREADS SECONDS      loop open, read to EOF, close\n"
		"       bench pwrite FILE THREADS SECONDS   loop pwrite(\"1\\n\", offset 0)\n"
		"       bench ctl FILE THREADS SECONDS      loop write(\"ADD A 1\\n\"); a file\n"
		"                                           not named ctl gets pwrite at 0\n"
		"       bench ctl100 FILE THREADS SECONDS   the same with 100 such lines a write\n"
		"       bench writer-latency READFILE WRITEFILE READERS SECONDS\n"
		"       bench lock READERS SECONDS          rwfs rwlock vs glibc rwlock\n"
		"       bench pwrite-each SECONDS FILE...   pwrite as above, a thread per file\n"
		"       bench fsync DIR SECONDS             append + fdatasync in DIR\n"
		"       bench write-once FILE TEXT          one timed write()\n"
		"       bench wait-path PATH SECONDS [PID]  wait for PATH; print the time\n"
		"       bench queue QUEUE PRODUCERS CONSUMERS SECONDS\n"
		"       bench pipe FIFO PRODUCERS SECONDS   the same lines through a named pipe\n"
		"       bench queue-rt QUEUE SECONDS        push then pop, one thread\n"
		"       bench redis PORT SECONDS            LPUSH then BRPOP on 127.0.0.1\n"
		"       bench free-port                     a free TCP port on 127.0.0.1\n"
		"       bench shop SHOPFILE BUYERS SECONDS UPC   buy 1 and read the reply\n"
		"       bench file-read FILE BYTES SECONDS  loop pread(BYTES, offset 0)\n"
		"       bench file-write FILE BYTES SECONDS loop pwrite(BYTES, offset 0)\n"
		"       bench append FILE PROCS SECONDS     O_APPEND lines, a process each\n"
		"       bench flock FILE PROCS SECONDS      flock lock/unlock, a process each\n");
	exit(2);
}

unsigned parse_count(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 1024)
		die("bad thread count '%s' (1-1024)", s);
	return (unsigned)v;
}

double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0.0 && v <= 3600.0))
		die("bad duration '%s' (seconds, 0-3600)", s);
	return v;
}

static const struct {
	const char *name;
	void (*loop)(struct worker *w);
} file_cmds[] = {
	{ "pread", loop_pread },
	{ "cat", loop_cat },
	{ "pwrite", loop_pwrite },
	{ "ctl", loop_ctl },
	{ "ctl100", loop_ctl100 },
};

static void cmd_file(void (*loop)(struct worker *w), const char *path,
		     unsigned threads, double seconds)
{
	struct run run;
	double rate;

	run_init(&run, threads + 1);
	rate = run_workers(&run, threads, loop, path, seconds);
	run_release(&run);
	printf("ops_per_sec %.0f\n", rate);
}

/* One pwrite thread on each file: writers that the kernel does not
 * serialize (it holds a file's inode lock through a FUSE direct write, so
 * threads writing one file go one at a time). */
static void cmd_pwrite_each(char *const *paths, size_t n, double seconds)
{
	struct run run;
	double rate;

	if (n < 1 || n > 1024)
		usage();
	run_init(&run, (unsigned)n + 1);
	rate = run_workers_on(&run, (unsigned)n, loop_pwrite, paths, n, seconds);
	run_release(&run);
	printf("ops_per_sec %.0f\n", rate);
}

static void do_fsync(char **a) { cmd_fsync(a[0], parse_seconds(a[1])); }
static void do_write_once(char **a) { cmd_write_once(a[0], a[1]); }
static void do_wait_path(char **a) { cmd_wait_path(a[0], parse_seconds(a[1]), a[2]); }
static void do_queue(char **a)
{
	cmd_queue(a[0], parse_count(a[1]), parse_count(a[2]), parse_seconds(a[3]));
}
static void do_pipe(char **a) { cmd_pipe(a[0], parse_count(a[1]), parse_seconds(a[2])); }
static void do_queue_rt(char **a) { cmd_queue_rt(a[0], parse_seconds(a[1])); }
static void do_redis(char **a) { cmd_redis(a[0], parse_seconds(a[1])); }
static void do_free_port(char **a) { (void)a; cmd_free_port(); }
static void do_shop(char **a) { cmd_shop(a[0], parse_count(a[1]), parse_seconds(a[2]), a[3]); }
static void do_file_read(char **a) { cmd_file_read(a[0], parse_bytes(a[1]), parse_seconds(a[2])); }
static void do_file_write(char **a) { cmd_file_write(a[0], parse_bytes(a[1]), parse_seconds(a[2])); }
static void do_append(char **a) { cmd_append(a[0], parse_count(a[1]), parse_seconds(a[2])); }
static void do_flock(char **a) { cmd_flock(a[0], parse_count(a[1]), parse_seconds(a[2])); }

/* The subcommands of the other parts, with their argument counts. */
static const struct {
	const char *name;
	int min_args, max_args;
	void (*run)(char **args);
} other_cmds[] = {
	{ "fsync", 2, 2, do_fsync },
	{ "write-once", 2, 2, do_write_once },
	{ "wait-path", 2, 3, do_wait_path },
	{ "queue", 4, 4, do_queue },
	{ "pipe", 3, 3, do_pipe },
	{ "queue-rt", 2, 2, do_queue_rt },
	{ "redis", 2, 2, do_redis },
	{ "free-port", 0, 0, do_free_port },
	{ "shop", 4, 4, do_shop },
	{ "file-read", 3, 3, do_file_read },
	{ "file-write", 3, 3, do_file_write },
	{ "append", 3, 3, do_append },
	{ "flock", 3, 3, do_flock },
};

/* Runs one of other_cmds.  These block on queues, sockets and daemons
 * that could hang: an alarm ends one still running after 5 minutes, far
 * past any run of bench/run.sh (a benchmark that never returns tells
 * nobody anything). */
static void run_other(int nargs, char **args, const char *name)
{
	size_t n = sizeof(other_cmds) / sizeof(other_cmds[0]);
	char *padded[4] = { NULL };

	for (size_t i = 0; i < n; i++) {
		if (strcmp(name, other_cmds[i].name) != 0)
			continue;
		if (nargs < other_cmds[i].min_args || nargs > other_cmds[i].max_args)
			usage();
		for (int k = 0; k < nargs; k++)
			padded[k] = args[k];
		alarm(300);
		other_cmds[i].run(padded);
		alarm(0);
		return;
	}
	usage();
}

int main(int argc, char *argv[])
{
	size_t i, ncmds = sizeof(file_cmds) / sizeof(file_cmds[0]);

	if (argc < 2)
		usage();
	for (i = 0; i < ncmds && strcmp(argv[1], file_cmds[i].name) != 0; i++)
		;
	if (i < ncmds) {
		if (argc != 5)
			usage();
		cmd_file(file_cmds[i].loop, argv[2], parse_count(argv[3]),
			 parse_seconds(argv[4]));
	} else if (strcmp(argv[1], "writer-latency") == 0) {
		if (argc != 6)
			usage();
		cmd_writer_latency(argv[2], argv[3], parse_count(argv[4]),
				   parse_seconds(argv[5]));
	} else if (strcmp(argv[1], "lock") == 0) {
		if (argc != 4)
			usage();
		cmd_lock(parse_count(argv[2]), parse_seconds(argv[3]));
	} else if (strcmp(argv[1], "pwrite-each") == 0) {
		if (argc < 4)
			usage();
		cmd_pwrite_each(argv + 3, (size_t)(argc - 3), parse_seconds(argv[2]));
	} else {
		run_other(argc - 2, argv + 2, argv[1]);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write output: %s", strerror(errno));
	return 0;
}
