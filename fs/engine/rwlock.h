/* rwlock.h - a fair readers-writer lock.
 *
 * Arrival order decides: lockers that cannot enter at once wait in one
 * FIFO line and are admitted from its head.  Consecutive readers at the
 * head are admitted together and share the lock; a writer at the head waits
 * for the readers inside to leave, and readers behind a waiting writer wait
 * for it.  So a steady stream of readers never starves a writer and a
 * steady stream of writers never starves readers, which glibc's default
 * (reader-preferring) pthread_rwlock does not promise.
 *
 * The struct is public only so it can be embedded; touch it through the
 * functions below.
 */
#ifndef RWFS_RWLOCK_H
#define RWFS_RWLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct rwlock_waiter;

struct rwlock {
	/* The holders, changed with atomics so that an uncontended lock or
	 * unlock takes no mutex: RWLOCK_WRITER, RWLOCK_LINE (someone waits:
	 * every locker goes through the mutex and the line), and the number of
	 * readers times RWLOCK_READER. */
	uint64_t word;
	pthread_mutex_t mutex;
	struct rwlock_waiter *head;  /* under mutex: the line, oldest first */
	struct rwlock_waiter **tail; /* under mutex */
	unsigned waiting_writers;  /* under mutex */
	uint64_t shared_count;     /* atomic: shared acquisitions */
	uint64_t exclusive_count;  /* atomic: exclusive acquisitions */
	uint64_t longest_wait_ns;  /* under mutex: longest time a locker waited */
};

/* A copy of the lock's counters. */
struct rwlock_stats {
	uint64_t shared_count;
	uint64_t exclusive_count;
	unsigned readers;
	unsigned waiting_writers;
	uint64_t longest_wait_ns;
};

/* Prepares an unlocked lock.  Returns 0 or -errno from pthread. */
int rwlock_init(struct rwlock *lock);

/* Frees what rwlock_init made.  The lock must be unlocked and unwaited. */
void rwlock_release(struct rwlock *lock);

/* Takes the lock shared.  Blocks while a writer holds it or while an
 * earlier arrival (reader or writer) has not yet been admitted. */
void rwlock_read_lock(struct rwlock *lock);
void rwlock_read_unlock(struct rwlock *lock);

/* Takes the lock exclusive.  Blocks until every earlier arrival has been
 * admitted and every holder has left. */
void rwlock_write_lock(struct rwlock *lock);
void rwlock_write_unlock(struct rwlock *lock);

/* Copies the counters into *out.  Never blocks for long (mutex only). */
void rwlock_get_stats(struct rwlock *lock, struct rwlock_stats *out);

#endif
