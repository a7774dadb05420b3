/* rwlock.c - a fair readers-writer lock: tickets served in arrival order,
 * consecutive readers admitted together.  See rwlock.h.
 *
 * One mutex and one condition variable.  The fast path (nobody waiting,
 * the lock compatible) never touches the clock or the condition variable;
 * broadcasts happen only when someone waits, and the waiters are few (one
 * per FUSE worker thread), so a single condition variable is enough.
 */
#include <errno.h>
#include <time.h>

#include "rwlock.h"

int rwlock_init(struct rwlock *lock)
{
	int err;

	*lock = (struct rwlock){ 0 };
	err = pthread_mutex_init(&lock->mutex, NULL);
	if (err)
		return -err;
	err = pthread_cond_init(&lock->turn, NULL);
	if (err) {
		pthread_mutex_destroy(&lock->mutex);
		return -err;
	}
	return 0;
}

void rwlock_release(struct rwlock *lock)
{
	pthread_cond_destroy(&lock->turn);
	pthread_mutex_destroy(&lock->mutex);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits on the condition variable until admissible(lock, ticket) holds.
 * Called with the mutex held; records how long the wait took. */
static void wait_turn(struct rwlock *lock, uint64_t ticket,
		      int (*admissible)(const struct rwlock *, uint64_t))
{
	uint64_t start, waited;

	if (admissible(lock, ticket))
		return;
	start = now_ns();
	lock->waiting++;
	do
		pthread_cond_wait(&lock->turn, &lock->mutex);
	while (!admissible(lock, ticket));
	lock->waiting--;
	waited = now_ns() - start;
	if (waited > lock->longest_wait_ns)
		lock->longest_wait_ns = waited;
}

static int reader_admissible(const struct rwlock *lock, uint64_t ticket)
{
	return ticket == lock->head && !lock->writer;
}

static int writer_admissible(const struct rwlock *lock, uint64_t ticket)
{
	return ticket == lock->head && !lock->writer && lock->readers == 0;
}

static void wake_waiters(struct rwlock *lock)
{
	if (lock->waiting)
		pthread_cond_broadcast(&lock->turn);
}

void rwlock_read_lock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	wait_turn(lock, lock->next_ticket++, reader_admissible);
	lock->readers++;
	lock->head++;
	lock->shared_count++;
	/* The next ticket may be a reader that can now join us. */
	wake_waiters(lock);
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_read_unlock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	if (--lock->readers == 0)
		wake_waiters(lock);
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_write_lock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	lock->waiting_writers++;
	wait_turn(lock, lock->next_ticket++, writer_admissible);
	lock->waiting_writers--;
	lock->writer = true;
	lock->head++;
	lock->exclusive_count++;
	pthread_mutex_unlock(&lock->mutex);
}

void rwlock_write_unlock(struct rwlock *lock)
{
	pthread_mutex_lock(&lock->mutex);
	lock->writer = false;
	wake_waiters(lock);
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
