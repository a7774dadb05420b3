/* queues.h - the registry of queues: every queue by name and by id, the
 * limits that protect the daemon, and the apply of every queue record.
 *
 * Each queues_apply_* function is the whole, deterministic effect of one
 * record: it checks every bound itself (a record may come from a damaged
 * journal), then either changes the registry and returns 0 (or the
 * positive value it documents), or returns -errno and changes nothing.
 * The refusals are outcomes, the same live and at replay; only -ENOMEM
 * depends on the machine.  The queues_check_* functions and
 * queue_check_pop (queue.h) tell, changing nothing, what an apply would
 * answer now, so that a caller can wait rather than propose a refused
 * record.  Nothing here locks: the caller serialises every call.
 *
 * A queue's id is the log position of the record that created it, so it
 * is unique for ever, in this engine and in every other that applies the
 * same log or a snapshot of it.  Every record about a queue carries its id
 * and its name; it applies only to the queue that has both, so a record
 * meant for a queue that was deleted never reaches a new queue of the same
 * name (-ENOENT).  Names are checked by length (len bytes, any bytes): a
 * name that is not valid names no queue.
 */
#ifndef RWFS_QUEUES_H
#define RWFS_QUEUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define QUEUES_MAX 1024                    /* more: -ENOSPC */
/* Waiting and held bytes in all queues together; more: -ENOSPC. */
#define QUEUES_MAX_BYTES (64u << 20)
#define QUEUES_MAX_CAPACITY 100000
#define QUEUES_DEFAULT_CAPACITY 100

/* What queues_apply_attr sets. */
#define QUEUES_SET_MODE 1u
#define QUEUES_SET_OWNER 2u

struct queues;
struct record;

/* An empty registry; new queues get default_capacity (1..QUEUES_MAX_CAPACITY).
 * NULL when out of memory or out of range. */
struct queues *queues_new(size_t default_capacity);

/* Frees every queue; NULL is a no-op. */
void queues_free(struct queues *qs);

size_t queues_default_capacity(const struct queues *qs);

/* True for a capacity a queue may have: 1..QUEUES_MAX_CAPACITY. */
bool queues_capacity_valid(uint64_t capacity);

/* The queue called name (len bytes), or NULL. */
struct queue *queues_by_name(const struct queues *qs, const char *name, size_t len);

/* The queue with id, or NULL.  Ids grow in creation order and are never
 * reused. */
struct queue *queues_by_id(const struct queues *qs, uint64_t id);

/* The id of q, which must be in qs. */
uint64_t queues_id(const struct queues *qs, const struct queue *q);

/* The i-th queue (from 0) in creation order, or NULL past the end. */
struct queue *queues_at(const struct queues *qs, size_t i);

/* Bytes waiting and held in all queues: what QUEUES_MAX_BYTES bounds. */
uint64_t queues_bytes(const struct queues *qs);

/* What creating a queue would answer now: 0, -EINVAL (bad name), -EEXIST,
 * -ENOSPC (QUEUES_MAX reached). */
int queues_check_create(const struct queues *qs, const char *name, size_t len);

/* What pushing the items of text onto q would answer now: 0, an error of
 * queue_check_push (-EMSGSIZE, -EINVAL, -EPIPE, -EFBIG, -EAGAIN), or
 * -ENOSPC when all queues together would hold more than QUEUES_MAX_BYTES.
 * (A pop needs no registry-wide check: queue_check_pop says it.) */
int queues_check_push(const struct queues *qs, const struct queue *q,
		      const char *text, size_t len);

/* Creates an empty queue with id, owned by QUEUE_OWNER_DAEMON with mode
 * QUEUE_MODE_DEFAULT (a create record's owner and mode follow through
 * queues_apply_attr).  Returns 0, -EINVAL (bad name, capacity
 * out of 1..QUEUES_MAX_CAPACITY, or an id not greater than every id this
 * registry gave), -EEXIST, -ENOSPC (QUEUES_MAX reached), -ENOMEM. */
int queues_apply_create(struct queues *qs, uint64_t id, const char *name, size_t len,
			uint64_t capacity);

/* In every function below, the queue is the one with id called name (len
 * bytes); when there is none, it returns -ENOENT and changes nothing. */

/* Deletes the queue with its waiting and held items.  Returns 0 or -ENOENT. */
int queues_apply_delete(struct queues *qs, uint64_t id, const char *name, size_t len);

/* Pushes the items of one write (the lines of items, as
 * queue_count_items splits them), all or nothing.  Returns 0, -ENOENT, an
 * error of queues_check_push, -ENOMEM. */
int queues_apply_push(struct queues *qs, uint64_t id, const char *name, size_t len,
		      const char *items, size_t items_len);

/* Moves the head item to the held list of its queue, held for (session,
 * reader), which can take room bytes (newline included).  *item and
 * *item_len are its bytes, valid until the next change of the registry.
 * Returns 0; 1 at end of file (sealed, nothing waiting, nothing held);
 * -ENOENT; -EEXIST when (session, reader) already holds an item there;
 * -EAGAIN when nothing waits (and the queue is not at its end);
 * -EMSGSIZE when the head item and its newline exceed room (it stays). */
int queues_apply_pop(struct queues *qs, uint64_t id, const char *name, size_t len,
		     uint64_t session, uint64_t reader, uint64_t room, const char **item,
		     size_t *item_len);

/* The item held for (session, reader) was received: it is freed.
 * Returns 0 or -ENOENT (no such queue, or nothing held for them there). */
int queues_apply_ack(struct queues *qs, uint64_t id, const char *name, size_t len,
		     uint64_t session, uint64_t reader);

/* The item held for (session, reader) was not received: it goes back to
 * the head of its queue, even over the capacity.  Returns 0 or -ENOENT. */
int queues_apply_return(struct queues *qs, uint64_t id, const char *name, size_t len,
			uint64_t session, uint64_t reader);

/* Seals (no more pushes; readers drain, then end of file) or unseals.
 * Returns 0 or -ENOENT. */
int queues_apply_seal(struct queues *qs, uint64_t id, const char *name, size_t len,
		      bool sealed);

/* Sets what `what` says: QUEUES_SET_MODE the mode (queue_set_mode: no
 * write bit seals, one unseals), QUEUES_SET_OWNER uid and gid.  Returns 0,
 * -ENOENT, -EINVAL (other bits in what, or mode outside QUEUE_MODE_MASK). */
int queues_apply_attr(struct queues *qs, uint64_t id, const char *name, size_t len,
		      unsigned what, uint32_t mode, uint32_t uid, uint32_t gid);

/* Sets the capacity; below the depth, the items stay and pushes wait.
 * Returns 0, -ENOENT, -EINVAL (out of 1..QUEUES_MAX_CAPACITY). */
int queues_apply_capacity(struct queues *qs, uint64_t id, const char *name, size_t len,
			  uint64_t capacity);

/* Adds an item held for (session, reader), after the others held there:
 * how a snapshot brings back held items.  The item is one a push could
 * have made (see queue_add_held).  Returns 0, -ENOENT, -EMSGSIZE (longer
 * than QUEUE_MAX_ITEM), -ENOSPC (over QUEUES_MAX_BYTES), or an error of
 * queue_add_held (-EINVAL: a newline in it, -EEXIST, -ENOMEM). */
int queues_apply_held(struct queues *qs, uint64_t id, const char *name, size_t len,
		      uint64_t session, uint64_t reader, const char *item, size_t item_len);

/* The session is gone and its readers never got what they held: in every
 * queue, its held items go back to the head, the earliest popped first.
 * Returns how many went back. */
size_t queues_end_session(struct queues *qs, uint64_t session);

/* Calls emit with records that, applied in order to an empty registry
 * through the functions above, rebuild every queue: its id, its waiting
 * items, its held items in pop order, capacity and seal (not its
 * counters).  Fields as record.h lists them, every record with the
 * queue's id; session, seq, time_ns and pid are 0, and a return's session
 * is the record's.  Per queue, in creation order (so in id order):
 *   QUEUE_CREATE, u: a capacity that takes what waits, with the queue's
 *     owner and its bits kept (queue.h: with the write bits);
 *   QUEUE_PUSH of the waiting items, data: items each followed by a
 *     newline, at most QUEUE_MAX_WRITE bytes a record;
 *   only when more wait than QUEUES_MAX_CAPACITY: the head items beyond it
 *     as QUEUE_HELD of session 0, readers 0, 1, ... (before the pushes)
 *     and QUEUE_RETURN of those readers, newest first (after them);
 *   QUEUE_HELD of each held item, the earliest popped first;
 *   QUEUE_CAPACITY; QUEUE_SEAL (u = 1) if sealed.
 * Equal registries dump equal records.  A record and what it points to
 * are valid during the call only.  Returns 0, -ENOMEM, or the first
 * non-zero value emit returned, which stops the dump. */
int queues_dump(const struct queues *qs,
		int (*emit)(void *arg, const struct record *r), void *arg);

#endif
