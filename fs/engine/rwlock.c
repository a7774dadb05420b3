/* rwlock.c - a fair readers-writer lock: one FIFO line of waiters,
 * admitted from its head, consecutive readers together.  See rwlock.h.
 *
 * Each waiter sleeps on a condition variable of its own, on its stack, and
 * is signalled only when it is admitted: an unlock wakes exactly the
 * threads that may now run, never a herd that goes back to sleep.  The fast
 * path (nobody in line, the lock compatible) touches neither a condition
 * variable nor the clock.
 */
#include <errno.h>
#include <time.h>

#include "rwlock.h"

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

/* Admits waiters from the head of the line while they fit: one writer when
 * the lock is free, or every reader up to the next writer while no writer
 * holds it.  Under the mutex. */
static void admit(struct rwlock *lock)
{
	while (lock->head && !lock->writer) {
		struct rwlock_waiter *w = lock->head;

		if (w->writer && lock->readers > 0)
			break;
		lock->head = w->next;
		if (!lock->head)
			lock->tail = &lock->head;
		if (w->writer)
			lock->writer = true;
		else
			lock->readers++;
		w->admitted = true;
		pthread_cond_signal(&w->wake);
	}
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

void rwlock_read_lock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	if (!lock->head && !lock->writer)
		lock->readers++;
	else
		wait_in_line(lock, false);
	lock->shared_count++;
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_read_unlock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	if (--lock->readers == 0)
		admit(lock);
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_write_lock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	if (!lock->head && !lock->writer && lock->readers == 0) {
		lock->writer = true;
	} else {
		lock->waiting_writers++;
		wait_in_line(lock, true);
		lock->waiting_writers--;
	}
	lock->exclusive_count++;
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_write_unlock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	lock->writer = false;
	admit(lock);
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_get_stats(struct rwlock *lock, struct rwlock_stats *out)
{
	pthread_mutex_lock(&lock->mutex);
	out->shared_count = lock->shared_count;
	out->exclusive_count = lock->exclusive_count;
	out->readers = lock->readers;
	out->waiting_writers = lock->waiting_writers;
	out->longest_wait_ns = lock->longest_wait_ns;
	pthread_mutex_unlock(&lock->mutex);
}
