/* state_priv.h - the inside of struct state, shared by the files that make
 * up the state module (state.c, state_queue.c); nothing else includes it.
 */
#ifndef RWFS_STATE_PRIV_H
#define RWFS_STATE_PRIV_H

#include <time.h>

#include "queues.h"
#include "rwlock.h"
#include "shop.h"
#include "state.h"
#include "store.h"

struct state {
	struct rwlock lock;
	struct isa_machine machine;        /* under lock */
	struct queues *queues;             /* under lock */
	struct shop *shop;                 /* under lock, but its users and throttle */
	uint64_t insn_count[ISA_OP_COUNT]; /* under lock (exclusive) */
	uint64_t batches;                  /* atomic: parse errors count without the lock */
	uint64_t batch_errors;             /* atomic */
	uint64_t reads;                    /* atomic */
	struct timespec started;
	struct evlog *evlog;
	struct store *store;               /* NULL: nothing is saved */
};

/* Adds one to a counter that readers bump without the exclusive lock. */
static inline void state_bump(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* Journals record (record lines, each ending in a newline) and applies
 * them, under the exclusive lock: the one way queues and the shop change.  Returns 0 or the journal's -errno (then nothing changed); a
 * line that does not apply after it was journaled is -EIO.  *ticket is for
 * state_commit_wait. */
int state_commit_locked(struct state *st, const char *record, size_t len, uint64_t *ticket);

/* After the lock is dropped: waits until a committed change is on disk as
 * the sync policy asks.  Returns 0 or -EIO. */
int state_commit_wait(struct state *st, uint64_t ticket);

#endif
