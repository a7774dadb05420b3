/* lockwait.c - a histogram of a writer's waits for a readers-writer lock
 * while readers take it flat out: rwfs's struct rwlock (fs/engine/rwlock.c)
 * against glibc's pthread_rwlock_t, writer-preferring and default.
 *
 *     lockwait READERS SECONDS ROUNDS
 *
 * Each lock gets SECONDS in all, split into ROUNDS turns that the locks take
 * one after the other, so that a noisy moment of a shared machine falls on
 * all of them alike.  In a turn READERS threads lock shared, read a counter
 * and unlock, over and over; one writer locks exclusive once a millisecond
 * and times its lock call.
 *
 * Prints a gnuplot data file on stdout: comment lines with each lock's
 * totals,
 *     # lock NAME writes N max_us X p99_us Y reads_per_sec Z
 * then one line per wait bucket (1-2-5 steps from 1 us to 10 s):
 *     LABEL LOW_US COUNT_rwfs COUNT_glibc-writer COUNT_glibc-default
 * where LABEL names the bucket's lower bound and LOW_US is it in µs.
 * Exits 1 with a message on any error.
 */
#define _GNU_SOURCE
#include "rwlock.h"

#include <errno.h>
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

#define NLOCKS 3
#define NBOUNDS 22               /* 1 us, 2 us, 5 us, ... 10 s */
#define NBUCKETS (NBOUNDS + 1)   /* below 1 us, then one per bound */
#define MAX_WRITES (1u << 20)    /* per lock: far above 1000 a second */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("lockwait: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void check_pthread(int err, const char *what)
{
	if (err != 0)
		die("%s: %s", what, strerror(err));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000u, .tv_nsec = ns % 1000000000u };

	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			die("nanosleep: %s", strerror(errno));
}

/* ---- the locks, behind one set of calls ------------------------------- */

struct lock {
	const char *name;
	bool is_rwfs;
	struct rwlock rw;
	pthread_rwlock_t pt;
};

/* Prepares lock NAME: rwfs's when glibc_kind is negative, else glibc's of
 * that kind (pthread_rwlockattr_setkind_np). */
static void lock_init(struct lock *l, const char *name, int glibc_kind)
{
	pthread_rwlockattr_t attr;
	int err;

	l->name = name;
	l->is_rwfs = glibc_kind < 0;
	if (l->is_rwfs) {
		err = rwlock_init(&l->rw);
		if (err != 0)
			die("rwlock_init: %s", strerror(-err));
		return;
	}
	check_pthread(pthread_rwlockattr_init(&attr), "pthread_rwlockattr_init");
	check_pthread(pthread_rwlockattr_setkind_np(&attr, glibc_kind),
		      "pthread_rwlockattr_setkind_np");
	check_pthread(pthread_rwlock_init(&l->pt, &attr), "pthread_rwlock_init");
	check_pthread(pthread_rwlockattr_destroy(&attr), "pthread_rwlockattr_destroy");
}

static void lock_release(struct lock *l)
{
	if (l->is_rwfs)
		rwlock_release(&l->rw);
	else
		check_pthread(pthread_rwlock_destroy(&l->pt), "pthread_rwlock_destroy");
}

static void lock_shared(struct lock *l)
{
	if (l->is_rwfs)
		rwlock_read_lock(&l->rw);
	else
		check_pthread(pthread_rwlock_rdlock(&l->pt), "pthread_rwlock_rdlock");
}

static void lock_exclusive(struct lock *l)
{
	if (l->is_rwfs)
		rwlock_write_lock(&l->rw);
	else
		check_pthread(pthread_rwlock_wrlock(&l->pt), "pthread_rwlock_wrlock");
}

static void unlock_shared(struct lock *l)
{
	if (l->is_rwfs)
		rwlock_read_unlock(&l->rw);
	else
		check_pthread(pthread_rwlock_unlock(&l->pt), "pthread_rwlock_unlock");
}

static void unlock_exclusive(struct lock *l)
{
	if (l->is_rwfs)
		rwlock_write_unlock(&l->rw);
	else
		check_pthread(pthread_rwlock_unlock(&l->pt), "pthread_rwlock_unlock");
}

/* ---- one turn: readers flat out, one timed writer ---------------------- */

/* What a lock gathers over all its turns. */
struct tally {
	uint64_t *wait_ns;  /* the writer's waits, MAX_WRITES slots */
	size_t writes;
	uint64_t reads, read_ns;  /* summed over the readers of every turn */
};

struct turn {
	struct lock *lock;
	struct tally *tally;
	pthread_barrier_t start;
	atomic_bool stop;
	volatile uint64_t counter;  /* read shared, bumped exclusive */
};

struct reader {
	pthread_t thread;
	struct turn *turn;
	uint64_t reads, elapsed_ns, sink;  /* written as the reader ends */
};

static void barrier_wait(pthread_barrier_t *b)
{
	int err = pthread_barrier_wait(b);

	if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(err));
}

static bool stopping(struct turn *t)
{
	return atomic_load_explicit(&t->stop, memory_order_relaxed);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct turn *t = r->turn;
	uint64_t t0, reads = 0, sink = 0;

	barrier_wait(&t->start);
	t0 = now_ns();
	while (!stopping(t)) {
		lock_shared(t->lock);
		sink += t->counter;
		unlock_shared(t->lock);
		reads++;
	}
	r->elapsed_ns = now_ns() - t0;
	r->reads = reads;
	r->sink = sink;
	return NULL;
}

static void *writer_main(void *arg)
{
	struct turn *t = arg;
	struct tally *tally = t->tally;

	barrier_wait(&t->start);
	while (!stopping(t) && tally->writes < MAX_WRITES) {
		uint64_t t0 = now_ns();

		lock_exclusive(t->lock);
		tally->wait_ns[tally->writes++] = now_ns() - t0;
		t->counter++;
		unlock_exclusive(t->lock);
		sleep_ns(1000000);
	}
	return NULL;
}

static void start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	check_pthread(pthread_create(thread, NULL, fn, arg), "pthread_create");
}

static void run_turn(struct lock *lock, struct tally *tally, unsigned readers,
		     double seconds, struct reader *r)
{
	struct turn t = { .lock = lock, .tally = tally };
	pthread_t writer;

	check_pthread(pthread_barrier_init(&t.start, NULL, readers + 2), "pthread_barrier_init");
	atomic_init(&t.stop, false);
	for (unsigned i = 0; i < readers; i++) {
		r[i] = (struct reader){ .turn = &t };
		start_thread(&r[i].thread, reader_main, &r[i]);
	}
	start_thread(&writer, writer_main, &t);
	barrier_wait(&t.start);
	sleep_ns((uint64_t)(seconds * 1e9));
	atomic_store(&t.stop, true);
	for (unsigned i = 0; i < readers; i++) {
		check_pthread(pthread_join(r[i].thread, NULL), "pthread_join");
		tally->reads += r[i].reads;
		tally->read_ns += r[i].elapsed_ns;
	}
	check_pthread(pthread_join(writer, NULL), "pthread_join");
	pthread_barrier_destroy(&t.start);
}

/* ---- the report ---------------------------------------------------------- */

/* The lower bound of bucket i in ns: 0, then 1 us, 2 us, 5 us, 10 us, ... */
static uint64_t bucket_low_ns(unsigned i)
{
	static const unsigned steps[] = { 1, 2, 5 };
	uint64_t low = 1000;

	if (i == 0)
		return 0;
	for (unsigned d = 0; d < (i - 1) / 3; d++)
		low *= 10;
	return low * steps[(i - 1) % 3];
}

static unsigned bucket_of(uint64_t ns)
{
	unsigned i = NBUCKETS - 1;

	while (i > 0 && ns < bucket_low_ns(i))
		i--;
	return i;
}

/* "<1us" for the first bucket, else the bound as "20us", "5ms", "1s". */
static void bucket_label(unsigned i, char *buf, size_t len)
{
	uint64_t ns = bucket_low_ns(i);

	if (i == 0)
		snprintf(buf, len, "<1us");
	else if (ns < 1000000)
		snprintf(buf, len, "%uus", (unsigned)(ns / 1000));
	else if (ns < 1000000000)
		snprintf(buf, len, "%ums", (unsigned)(ns / 1000000));
	else
		snprintf(buf, len, "%us", (unsigned)(ns / 1000000000));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts the tally's waits and prints its comment line.  The readers' rate
 * is all their reads over their mean running time. */
static void print_totals(const struct lock *l, struct tally *t, unsigned readers)
{
	double max_us = 0.0, p99_us = 0.0, rate = 0.0;

	qsort(t->wait_ns, t->writes, sizeof(*t->wait_ns), cmp_u64);
	if (t->writes > 0) {
		size_t i = (t->writes * 99 + 99) / 100;  /* ceil(0.99 n), 1-based */

		max_us = (double)t->wait_ns[t->writes - 1] / 1e3;
		p99_us = (double)t->wait_ns[i - 1] / 1e3;
	}
	if (t->read_ns > 0)
		rate = (double)t->reads * 1e9 * readers / (double)t->read_ns;
	printf("# lock %s writes %zu max_us %.1f p99_us %.1f reads_per_sec %.0f\n",
	       l->name, t->writes, max_us, p99_us, rate);
}

static void print_histogram(struct tally *tallies)
{
	uint64_t count[NLOCKS][NBUCKETS] = { { 0 } };
	unsigned last = 0;
	char label[16];

	for (unsigned k = 0; k < NLOCKS; k++)
		for (size_t w = 0; w < tallies[k].writes; w++) {
			unsigned b = bucket_of(tallies[k].wait_ns[w]);

			count[k][b]++;
			if (b > last)
				last = b;
		}
	printf("# bucket low_us rwfs glibc-writer glibc-default\n");
	for (unsigned b = 0; b <= last; b++) {
		bucket_label(b, label, sizeof(label));
		printf("%s %.0f %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", label,
		       (double)bucket_low_ns(b) / 1e3, count[0][b], count[1][b], count[2][b]);
	}
}

static unsigned parse_unsigned(const char *s, unsigned max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		die("%s must be a whole number from 1 to %u, not '%s'", what, max, s);
	return (unsigned)v;
}

static double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0.0 && v <= 3600.0))
		die("SECONDS must be above 0 and at most 3600, not '%s'", s);
	return v;
}

int main(int argc, char *argv[])
{
	struct lock locks[NLOCKS];
	struct tally tallies[NLOCKS] = { { 0 } };
	struct reader *r;
	unsigned readers, rounds;
	double seconds;

	if (argc != 4)
		die("usage: lockwait READERS SECONDS ROUNDS");
	readers = parse_unsigned(argv[1], 256, "READERS");
	seconds = parse_seconds(argv[2]);
	rounds = parse_unsigned(argv[3], 1000, "ROUNDS");
	r = calloc(readers, sizeof(*r));
	if (r == NULL)
		die("out of memory");
	lock_init(&locks[0], "rwfs", -1);
	lock_init(&locks[1], "glibc-writer", PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	lock_init(&locks[2], "glibc-default", PTHREAD_RWLOCK_DEFAULT_NP);
	for (unsigned k = 0; k < NLOCKS; k++) {
		tallies[k].wait_ns = malloc(MAX_WRITES * sizeof(uint64_t));
		if (tallies[k].wait_ns == NULL)
			die("out of memory");
	}
	/* Round i starts with lock i mod NLOCKS: none always runs first. */
	for (unsigned i = 0; i < rounds; i++)
		for (unsigned k = 0; k < NLOCKS; k++) {
			unsigned which = (i + k) % NLOCKS;

			run_turn(&locks[which], &tallies[which], readers, seconds / rounds, r);
		}
	for (unsigned k = 0; k < NLOCKS; k++)
		print_totals(&locks[k], &tallies[k], readers);
	print_histogram(tallies);
	for (unsigned k = 0; k < NLOCKS; k++) {
		lock_release(&locks[k]);
		free(tallies[k].wait_ns);
	}
	free(r);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write output: %s", strerror(errno));
	return 0;
}
