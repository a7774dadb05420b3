/* rwlock.c - a fair readers-writer lock: one FIFO line of waiters,
 * admitted from its head, consecutive readers together.  See rwlock.h.
 *
 * The holders are one atomic word.  While nobody waits, a lock or unlock
 * is one compare-and-swap or add on it and nothing else: no mutex, no
 * condition variable, no clock.  A locker that cannot enter at once takes
 * the mutex, sets RWLOCK_LINE and joins the line; while that bit is set no
 * locker enters by the word, so arrival order still decides, and the
 * unlocker that finds it set admits from the head under the mutex.  Only
 * the mutex's holder sets the bit, clears it, or adds holders for others.
 *
 * Each waiter sleeps on a condition variable of its own, on its stack, and
 * is signalled only when it is admitted: an unlock wakes exactly the
 * threads that may now run, never a herd that goes back to sleep.
 */
#include <errno.h>
#include <time.h>

#include "rwlock.h"

#define RWLOCK_WRITER 1u
#define RWLOCK_LINE 2u
#define RWLOCK_READER 4u

struct rwlock_waiter {
	struct rwlock_waiter *next;
	pthread_cond_t wake;
	bool writer;
	bool admitted; /* under the lock's mutex */
};

int rwlock_init(struct rwlock *lock)
{
	int err;

	*lock = (struct rwlock){ 0 };
	lock->tail = &lock->head;
	err = pthread_mutex_init(&lock->mutex, NULL);
	return -err;
}

void rwlock_release(struct rwlock *lock)
{
	pthread_mutex_destroy(&lock->mutex);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t word_of(struct rwlock *lock)
{
	return __atomic_load_n(&lock->word, __ATOMIC_ACQUIRE);
}

static void count(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* Whether a locker may enter now, by the holders alone. */
static bool fits(uint64_t word, bool writer)
{
	if (word & RWLOCK_WRITER)
		return false;
	return !writer || word < RWLOCK_READER;
}

static void enter(struct rwlock *lock, bool writer)
{
	__atomic_fetch_add(&lock->word, writer ? RWLOCK_WRITER : RWLOCK_READER,
			   __ATOMIC_ACQUIRE);
}

/* Admits waiters from the head of the line while they fit: one writer when
 * the lock is free, or every reader up to the next writer while no writer
 * holds it; lets the word serve again once the line is empty.  Under the
 * mutex. */
static void admit(struct rwlock *lock)
{
	while (lock->head && fits(word_of(lock), lock->head->writer)) {
		struct rwlock_waiter *w = lock->head;

		lock->head = w->next;
		if (!lock->head)
			lock->tail = &lock->head;
		enter(lock, w->writer);
		w->admitted = true;
		pthread_cond_signal(&w->wake);
	}
	if (!lock->head)
		__atomic_fetch_and(&lock->word, ~(uint64_t)RWLOCK_LINE, __ATOMIC_RELEASE);
}

/* Joins the end of the line and sleeps until admitted.  Under the mutex;
 * records how long the wait took. */
static void wait_in_line(struct rwlock *lock, bool writer)
{
	struct rwlock_waiter w = { .writer = writer };
	uint64_t start = now_ns(), waited;

	pthread_cond_init(&w.wake, NULL);
	*lock->tail = &w;
	lock->tail = &w.next;
	while (!w.admitted)
		pthread_cond_wait(&w.wake, &lock->mutex);
	pthread_cond_destroy(&w.wake);
	waited = now_ns() - start;
	if (waited > lock->longest_wait_ns)
		lock->longest_wait_ns = waited;
}

/* The way through the mutex: the line holds the earlier arrivals, and the
 * holders may have left since the word refused us. */
static void lock_slowly(struct rwlock *lock, bool writer)
{
	pthread_mutex_lock(&lock->mutex);
	__atomic_fetch_or(&lock->word, RWLOCK_LINE, __ATOMIC_ACQ_REL);
	if (!lock->head && fits(word_of(lock), writer)) {
		enter(lock, writer);
		__atomic_fetch_and(&lock->word, ~(uint64_t)RWLOCK_LINE, __ATOMIC_RELEASE);
	} else if (writer) {
		lock->waiting_writers++;
		wait_in_line(lock, true);
		lock->waiting_writers--;
	} else {
		wait_in_line(lock, false);
	}
	pthread_mutex_unlock(&lock->mutex);
}

static void admit_slowly(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	admit(lock);
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_read_lock(struct rwlock *lock)
{
	uint64_t w = __atomic_load_n(&lock->word, __ATOMIC_RELAXED);

	if ((w & (RWLOCK_WRITER | RWLOCK_LINE)) ||
	    !__atomic_compare_exchange_n(&lock->word, &w, w + RWLOCK_READER, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		lock_slowly(lock, false);
	count(&lock->shared_count);
}

void rwlock_read_unlock(struct rwlock *lock)
{
	uint64_t was = __atomic_fetch_sub(&lock->word, RWLOCK_READER, __ATOMIC_RELEASE);

	/* The last reader out lets in whoever waits. */
	if ((was & RWLOCK_LINE) && was < 2 * RWLOCK_READER)
		admit_slowly(lock);
}

void rwlock_write_lock(struct rwlock *lock)
{
	uint64_t free = 0;

	if (!__atomic_compare_exchange_n(&lock->word, &free, RWLOCK_WRITER, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		lock_slowly(lock, true);
	count(&lock->exclusive_count);
}

void rwlock_write_unlock(struct rwlock *lock)
{
	uint64_t held = RWLOCK_WRITER;

	if (__atomic_compare_exchange_n(&lock->word, &held, 0, false, __ATOMIC_RELEASE,
					__ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&lock->mutex);
	__atomic_fetch_and(&lock->word, ~(uint64_t)RWLOCK_WRITER, __ATOMIC_RELEASE);
	admit(lock);
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_get_stats(struct rwlock *lock, struct rwlock_stats *out)
{
	uint64_t w = word_of(lock);

	out->shared_count = __atomic_load_n(&lock->shared_count, __ATOMIC_RELAXED);
	out->exclusive_count = __atomic_load_n(&lock->exclusive_count, __ATOMIC_RELAXED);
	out->readers = (unsigned)(w / RWLOCK_READER);
	pthread_mutex_lock(&lock->mutex);
	out->waiting_writers = lock->waiting_writers;
	out->longest_wait_ns = lock->longest_wait_ns;
	pthread_mutex_unlock(&lock->mutex);
}
