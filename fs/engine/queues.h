/* queues.h - the registry of queues: every queue by name and by id, the
 * limits that protect the daemon, and the records that change them.
 *
 * Queues change only by record lines of the one instruction language, so
 * that the journal replays exactly what happened:
 *
 *   QUEUE NAME CAPACITY    a new empty queue
 *   DELETE NAME            the queue and its items are gone
 *   PUSH NAME ITEM         ITEM (the rest of the line, any bytes but a
 *                          newline) joins the tail; the items of one write
 *                          are the PUSH lines of one record
 *   POP NAME               the head item was handed to a reader
 *   RETURN NAME ITEM       an item goes back to the head (its reader was
 *                          gone when it was handed over)
 *   SEAL NAME / UNSEAL NAME
 *   CAPACITY NAME N
 *
 * The caller checks a change with the queues_check_* functions, journals
 * the record, then applies it with queues_apply, under the state's
 * exclusive lock; nothing here locks.
 */
#ifndef RWFS_QUEUES_H
#define RWFS_QUEUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define QUEUES_MAX 1024                    /* more: -ENOSPC */
#define QUEUES_MAX_BYTES (64u << 20)       /* in all queues together: -ENOSPC */
#define QUEUES_MAX_CAPACITY 100000
#define QUEUES_DEFAULT_CAPACITY 100

struct queues;

/* An empty registry; new queues get default_capacity (1..QUEUES_MAX_CAPACITY).
 * NULL when out of memory. */
struct queues *queues_new(size_t default_capacity);

/* Frees every queue; NULL is a no-op. */
void queues_free(struct queues *qs);

size_t queues_default_capacity(const struct queues *qs);

/* True when the line's first word is a queue record's. */
bool queues_is_record(const char *line, size_t len);

/* Applies one record line.  Returns 0, or -EINVAL for a line that is not a
 * valid record for the current queues (a damaged journal), -ENOMEM. */
int queues_apply(struct queues *qs, const char *line, size_t len);

/* The queue called name (len bytes), or NULL. */
struct queue *queues_by_name(const struct queues *qs, const char *name, size_t len);

/* The queue with id, or NULL (ids are never reused while the daemon runs). */
struct queue *queues_by_id(const struct queues *qs, uint64_t id);

/* The id of q, which must be in qs. */
uint64_t queues_id(const struct queues *qs, const struct queue *q);

/* The i-th queue (from 0) in creation order, or NULL past the end. */
struct queue *queues_at(const struct queues *qs, size_t i);

/* Checks that a queue may be created: -EINVAL (bad name), -EEXIST,
 * -ENOSPC (QUEUES_MAX reached). */
int queues_check_create(const struct queues *qs, const char *name, size_t len);

/* Checks that the items of text may be pushed onto q now: as queue_push
 * (-EPIPE, -EFBIG, -EAGAIN, -EMSGSIZE, -EINVAL), or -ENOSPC when all
 * queues together would hold more than QUEUES_MAX_BYTES. */
int queues_check_push(const struct queues *qs, const struct queue *q,
		      const char *text, size_t len);

/* Bytes held in all queues. */
uint64_t queues_bytes(const struct queues *qs);

/* The longest record line: PUSH, a name and an item. */
#define QUEUES_RECORD_MAX (QUEUE_MAX_ITEM + QUEUE_NAME_MAX + 16)

/* Writes into line the record "VERB NAME[ ITEM]" (item may be NULL) and
 * returns its length; line has room for QUEUES_RECORD_MAX bytes.  Items
 * are copied byte for byte: they may hold any byte but a newline. */
size_t queues_record(char *line, const char *verb, const struct queue *q,
		     const char *item, size_t len);

/* Calls emit with each record line (no newline) that rebuilds every queue:
 * for a snapshot. */
void queues_dump(const struct queues *qs,
		 void (*emit)(void *arg, const char *line, size_t len), void *arg);

#endif
