/* test_rwlock.c - unit tests of the fair readers-writer lock
 * (fs/engine/rwlock.h): exclusion, sharing, arrival order, no starvation of
 * writers or readers, and the counters.
 *
 * Threads never call cmocka's assertions (they longjmp); they count what
 * went wrong in atomics and the main thread asserts.  Waits are bounded
 * loops on a flag (WAIT_LIMIT_MS, generous): a test fails only when
 * something that must happen has not happened by then.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rwlock.h"

#define WAIT_LIMIT_MS 10000

/* ---- helpers ---------------------------------------------------------- */

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Polls until *value >= want or the limit passes; true when reached. */
static bool wait_for(atomic_long *value, long want)
{
	for (int ms = 0; ms < WAIT_LIMIT_MS; ms++) {
		if (atomic_load(value) >= want)
			return true;
		sleep_us(1000);
	}
	return atomic_load(value) >= want;
}

/* Polls the lock's stats until pred holds or the limit passes. */
static bool wait_for_stats(struct rwlock *lock,
			   bool (*pred)(const struct rwlock_stats *s))
{
	struct rwlock_stats s;

	for (int ms = 0; ms < WAIT_LIMIT_MS; ms++) {
		rwlock_get_stats(lock, &s);
		if (pred(&s))
			return true;
		sleep_us(1000);
	}
	return false;
}

static bool one_writer_waiting(const struct rwlock_stats *s)
{
	return s->waiting_writers == 1;
}

static bool two_readers_in(const struct rwlock_stats *s)
{
	return s->readers == 2;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	assert_int_equal(pthread_create(t, NULL, fn, arg), 0);
}

static void join(pthread_t t)
{
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* What the threads of one test share. */
struct shared {
	struct rwlock lock;
	atomic_int readers_in;   /* threads inside a read section */
	atomic_int writers_in;   /* threads inside a write section */
	atomic_long violations;  /* exclusion broken, seen from inside */
	atomic_long read_iters;
	atomic_long write_iters;
	atomic_bool stop;
	atomic_long acquired;    /* the probe thread got the lock */
	atomic_long release;     /* main tells a holder to let go */
	uint64_t x, y;           /* under lock: always equal outside a write */
	long hold_us;            /* how long each loop iteration holds the lock */

	pthread_mutex_t order_mutex;
	char order[8];           /* who acquired, in order; under order_mutex */
	size_t norder;
};

static void shared_init(struct shared *sh)
{
	memset(sh, 0, sizeof(*sh));
	assert_int_equal(rwlock_init(&sh->lock), 0);
	assert_int_equal(pthread_mutex_init(&sh->order_mutex, NULL), 0);
}

static void shared_release(struct shared *sh)
{
	rwlock_release(&sh->lock);
	pthread_mutex_destroy(&sh->order_mutex);
}

static void note_order(struct shared *sh, char who)
{
	pthread_mutex_lock(&sh->order_mutex);
	if (sh->norder < sizeof(sh->order) - 1)
		sh->order[sh->norder++] = who;
	pthread_mutex_unlock(&sh->order_mutex);
}

/* Inside a read section: no writer may be in. */
static void enter_read(struct shared *sh)
{
	atomic_fetch_add(&sh->readers_in, 1);
	if (atomic_load(&sh->writers_in) != 0)
		atomic_fetch_add(&sh->violations, 1);
}

static void leave_read(struct shared *sh)
{
	atomic_fetch_sub(&sh->readers_in, 1);
}

/* Inside a write section: nobody else may be in. */
static void enter_write(struct shared *sh)
{
	if (atomic_fetch_add(&sh->writers_in, 1) != 0 || atomic_load(&sh->readers_in) != 0)
		atomic_fetch_add(&sh->violations, 1);
}

static void leave_write(struct shared *sh)
{
	atomic_fetch_sub(&sh->writers_in, 1);
}

/* ---- thread bodies -------------------------------------------------------- */

/* Reads until stopped, holding the lock hold_us each time and coming back
 * at once, so that readers overlap and the lock is never free of them. */
static void *reader_loop(void *arg)
{
	struct shared *sh = arg;

	while (!atomic_load(&sh->stop)) {
		rwlock_read_lock(&sh->lock);
		enter_read(sh);
		if (sh->x != sh->y)
			atomic_fetch_add(&sh->violations, 1);
		if (sh->hold_us)
			sleep_us(sh->hold_us);
		atomic_fetch_add(&sh->read_iters, 1);
		leave_read(sh);
		rwlock_read_unlock(&sh->lock);
	}
	return NULL;
}

/* Writes until stopped, the same way. */
static void *writer_loop(void *arg)
{
	struct shared *sh = arg;

	while (!atomic_load(&sh->stop)) {
		rwlock_write_lock(&sh->lock);
		enter_write(sh);
		sh->x++;
		if (sh->hold_us)
			sleep_us(sh->hold_us);
		else
			sched_yield();
		sh->y++;
		atomic_fetch_add(&sh->write_iters, 1);
		leave_write(sh);
		rwlock_write_unlock(&sh->lock);
	}
	return NULL;
}

#define WRITER_ROUNDS 2000

static void *writer_rounds(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < WRITER_ROUNDS; i++) {
		rwlock_write_lock(&sh->lock);
		enter_write(sh);
		sh->x++;
		if (i % 16 == 0)
			sched_yield();
		sh->y++;
		leave_write(sh);
		rwlock_write_unlock(&sh->lock);
	}
	return NULL;
}

#define READER_ROUNDS 4000

/* A bounded count of reads, so that the test ends even on an unfair lock. */
static void *reader_rounds(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < READER_ROUNDS; i++) {
		rwlock_read_lock(&sh->lock);
		enter_read(sh);
		if (sh->x != sh->y)
			atomic_fetch_add(&sh->violations, 1);
		if (i % 16 == 0)
			sched_yield();
		leave_read(sh);
		rwlock_read_unlock(&sh->lock);
	}
	return NULL;
}

/* Takes the lock once, says so, and leaves. */
static void *write_once(void *arg)
{
	struct shared *sh = arg;

	rwlock_write_lock(&sh->lock);
	enter_write(sh);
	note_order(sh, 'W');
	atomic_store(&sh->acquired, 1);
	leave_write(sh);
	rwlock_write_unlock(&sh->lock);
	return NULL;
}

static void *read_once(void *arg)
{
	struct shared *sh = arg;

	rwlock_read_lock(&sh->lock);
	enter_read(sh);
	note_order(sh, 'R');
	atomic_store(&sh->acquired, 1);
	leave_read(sh);
	rwlock_read_unlock(&sh->lock);
	return NULL;
}

/* Takes the lock shared, counts itself in, and stays until released. */
static void *read_and_hold(void *arg)
{
	struct shared *sh = arg;

	rwlock_read_lock(&sh->lock);
	enter_read(sh);
	atomic_fetch_add(&sh->acquired, 1);
	wait_for(&sh->release, 1);
	leave_read(sh);
	rwlock_read_unlock(&sh->lock);
	return NULL;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_fresh_stats(void **state)
{
	struct rwlock lock;
	struct rwlock_stats s;

	(void)state;
	assert_int_equal(rwlock_init(&lock), 0);
	memset(&s, 0xff, sizeof(s));
	rwlock_get_stats(&lock, &s);
	assert_int_equal(s.shared_count, 0);
	assert_int_equal(s.exclusive_count, 0);
	assert_int_equal(s.readers, 0);
	assert_int_equal(s.waiting_writers, 0);
	assert_int_equal(s.longest_wait_ns, 0);
	rwlock_release(&lock);
}

static void test_stats_count(void **state)
{
	static const struct {
		int reads, writes;
	} rounds[] = { { 1, 0 }, { 0, 1 }, { 5, 3 }, { 100, 7 } };

	(void)state;
	for (size_t i = 0; i < sizeof(rounds) / sizeof(rounds[0]); i++) {
		struct rwlock lock;
		struct rwlock_stats s;

		assert_int_equal(rwlock_init(&lock), 0);
		for (int r = 0; r < rounds[i].reads; r++) {
			rwlock_read_lock(&lock);
			rwlock_get_stats(&lock, &s);
			assert_int_equal(s.readers, 1);
			assert_int_equal(s.shared_count, r + 1);
			rwlock_read_unlock(&lock);
		}
		for (int w = 0; w < rounds[i].writes; w++) {
			rwlock_write_lock(&lock);
			rwlock_get_stats(&lock, &s);
			assert_int_equal(s.readers, 0);
			assert_int_equal(s.exclusive_count, w + 1);
			rwlock_write_unlock(&lock);
		}
		rwlock_get_stats(&lock, &s);
		assert_int_equal(s.shared_count, rounds[i].reads);
		assert_int_equal(s.exclusive_count, rounds[i].writes);
		assert_int_equal(s.readers, 0);
		assert_int_equal(s.waiting_writers, 0);
		rwlock_release(&lock);
	}
}

/* Two readers are inside at the same time: each stays until main has seen
 * both in. */
static void test_readers_share(void **state)
{
	struct shared sh;
	struct rwlock_stats s;
	pthread_t t[2];
	bool both_in;

	(void)state;
	shared_init(&sh);
	start(&t[0], read_and_hold, &sh);
	start(&t[1], read_and_hold, &sh);
	both_in = wait_for(&sh.acquired, 2);
	rwlock_get_stats(&sh.lock, &s);
	atomic_store(&sh.release, 1);
	join(t[0]);
	join(t[1]);

	assert_true(both_in);
	assert_int_equal(s.readers, 2);
	assert_int_equal(s.shared_count, 2);
	assert_int_equal(atomic_load(&sh.violations), 0);
	rwlock_get_stats(&sh.lock, &s);
	assert_int_equal(s.readers, 0);
	shared_release(&sh);
}

/* Writers never overlap anything; readers see x == y. */
static void test_exclusion(void **state)
{
	enum { WRITERS = 4, READERS = 4 };
	struct shared sh;
	struct rwlock_stats s;
	pthread_t w[WRITERS], r[READERS];

	(void)state;
	shared_init(&sh);
	for (int i = 0; i < READERS || i < WRITERS; i++) {
		if (i < READERS)
			start(&r[i], reader_rounds, &sh);
		if (i < WRITERS)
			start(&w[i], writer_rounds, &sh);
	}
	for (int i = 0; i < WRITERS; i++)
		join(w[i]);
	for (int i = 0; i < READERS; i++)
		join(r[i]);

	assert_int_equal(atomic_load(&sh.violations), 0);
	assert_int_equal(sh.x, WRITERS * WRITER_ROUNDS);
	assert_int_equal(sh.y, WRITERS * WRITER_ROUNDS);
	rwlock_get_stats(&sh.lock, &s);
	assert_int_equal(s.exclusive_count, WRITERS * WRITER_ROUNDS);
	assert_int_equal(s.shared_count, READERS * READER_ROUNDS);
	assert_int_equal(s.readers, 0);
	assert_int_equal(s.waiting_writers, 0);
	shared_release(&sh);
}

/* Arrival order: with a reader inside and a writer waiting, a reader that
 * arrives later waits behind the writer.  Main holds the read lock. */
static void test_reader_queues_behind_waiting_writer(void **state)
{
	struct shared sh;
	struct rwlock_stats s;
	pthread_t writer, reader;
	bool writer_waiting;
	long reader_early;

	(void)state;
	shared_init(&sh);
	rwlock_read_lock(&sh.lock);
	start(&writer, write_once, &sh);
	writer_waiting = wait_for_stats(&sh.lock, one_writer_waiting);
	start(&reader, read_once, &sh);
	/* Give the reader time to arrive.  A fair lock must keep it out
	 * whether or not it has arrived yet, so this cannot flake. */
	sleep_us(50000);
	reader_early = atomic_load(&sh.acquired);
	rwlock_read_unlock(&sh.lock);
	join(writer);
	join(reader);

	assert_true(writer_waiting);
	assert_int_equal(reader_early, 0);
	assert_string_equal(sh.order, "WR");
	assert_int_equal(atomic_load(&sh.violations), 0);
	rwlock_get_stats(&sh.lock, &s);
	assert_int_equal(s.shared_count, 2);
	assert_int_equal(s.exclusive_count, 1);
	assert_int_equal(s.waiting_writers, 0);
	/* the writer waited at least the 50 ms main slept with it waiting */
	assert_true(s.longest_wait_ns >= 40 * 1000000ull);
	shared_release(&sh);
}

/* A writer waits while main holds the write lock; waiting_writers says so. */
static void test_waiting_writers_counted(void **state)
{
	struct shared sh;
	struct rwlock_stats s;
	pthread_t writer;
	bool waiting;

	(void)state;
	shared_init(&sh);
	rwlock_write_lock(&sh.lock);
	start(&writer, write_once, &sh);
	waiting = wait_for_stats(&sh.lock, one_writer_waiting);
	rwlock_get_stats(&sh.lock, &s);
	rwlock_write_unlock(&sh.lock);
	join(writer);

	assert_true(waiting);
	assert_int_equal(s.exclusive_count, 1);
	assert_int_equal(atomic_load(&sh.acquired), 1);
	rwlock_get_stats(&sh.lock, &s);
	assert_int_equal(s.waiting_writers, 0);
	assert_int_equal(s.exclusive_count, 2);
	shared_release(&sh);
}

/* A steady stream of overlapping readers does not starve a writer (a
 * reader-preferring lock, like glibc's default, never lets it in). */
static void test_writer_not_starved(void **state)
{
	enum { READERS = 4 };
	struct shared sh;
	pthread_t r[READERS], writer;
	bool stream_running, writer_in;

	(void)state;
	shared_init(&sh);
	sh.hold_us = 200;
	for (int i = 0; i < READERS; i++)
		start(&r[i], reader_loop, &sh);
	stream_running = wait_for(&sh.read_iters, 200);
	start(&writer, write_once, &sh);
	writer_in = wait_for(&sh.acquired, 1);
	atomic_store(&sh.stop, true);
	for (int i = 0; i < READERS; i++)
		join(r[i]);
	join(writer);

	assert_true(stream_running);
	assert_true(writer_in);
	assert_int_equal(atomic_load(&sh.violations), 0);
	shared_release(&sh);
}

/* A steady stream of writers does not starve a reader. */
static void test_reader_not_starved(void **state)
{
	enum { WRITERS = 3 };
	struct shared sh;
	pthread_t w[WRITERS], reader;
	bool stream_running, reader_in;

	(void)state;
	shared_init(&sh);
	sh.hold_us = 200;
	for (int i = 0; i < WRITERS; i++)
		start(&w[i], writer_loop, &sh);
	stream_running = wait_for(&sh.write_iters, 100);
	start(&reader, read_once, &sh);
	reader_in = wait_for(&sh.acquired, 1);
	atomic_store(&sh.stop, true);
	for (int i = 0; i < WRITERS; i++)
		join(w[i]);
	join(reader);

	assert_true(stream_running);
	assert_true(reader_in);
	assert_int_equal(atomic_load(&sh.violations), 0);
	assert_int_equal(sh.x, sh.y);
	shared_release(&sh);
}

/* Readers and writers both keep arriving: both kinds keep making progress
 * after the mix has started. */
static void test_mixed_progress(void **state)
{
	enum { READERS = 4, WRITERS = 2 };
	struct shared sh;
	pthread_t r[READERS], w[WRITERS];
	long reads0, writes0;
	bool reads_on, writes_on;

	(void)state;
	shared_init(&sh);
	sh.hold_us = 100;
	for (int i = 0; i < READERS; i++)
		start(&r[i], reader_loop, &sh);
	for (int i = 0; i < WRITERS; i++)
		start(&w[i], writer_loop, &sh);
	wait_for(&sh.read_iters, 50);
	wait_for(&sh.write_iters, 50);
	reads0 = atomic_load(&sh.read_iters);
	writes0 = atomic_load(&sh.write_iters);
	reads_on = wait_for(&sh.read_iters, reads0 + 100);
	writes_on = wait_for(&sh.write_iters, writes0 + 100);
	atomic_store(&sh.stop, true);
	for (int i = 0; i < READERS; i++)
		join(r[i]);
	for (int i = 0; i < WRITERS; i++)
		join(w[i]);

	assert_true(reads_on);
	assert_true(writes_on);
	assert_int_equal(atomic_load(&sh.violations), 0);
	assert_int_equal(sh.x, sh.y);
	shared_release(&sh);
}

/* rwlock_get_stats does not wait for holders. */
static void test_stats_while_held(void **state)
{
	struct shared sh;
	struct rwlock_stats s;
	pthread_t t[2];
	bool seen;

	(void)state;
	shared_init(&sh);
	start(&t[0], read_and_hold, &sh);
	start(&t[1], read_and_hold, &sh);
	seen = wait_for_stats(&sh.lock, two_readers_in);
	rwlock_get_stats(&sh.lock, &s);
	atomic_store(&sh.release, 1);
	join(t[0]);
	join(t[1]);
	assert_true(seen);
	assert_int_equal(s.readers, 2);

	rwlock_write_lock(&sh.lock);
	rwlock_get_stats(&sh.lock, &s);
	assert_int_equal(s.readers, 0);
	assert_int_equal(s.exclusive_count, 1);
	rwlock_write_unlock(&sh.lock);
	shared_release(&sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_stats),
		cmocka_unit_test(test_stats_count),
		cmocka_unit_test(test_readers_share),
		cmocka_unit_test(test_exclusion),
		cmocka_unit_test(test_reader_queues_behind_waiting_writer),
		cmocka_unit_test(test_waiting_writers_counted),
		cmocka_unit_test(test_writer_not_starved),
		cmocka_unit_test(test_reader_not_starved),
		cmocka_unit_test(test_mixed_progress),
		cmocka_unit_test(test_stats_while_held),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
