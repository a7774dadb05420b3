/* queue.h - one bounded FIFO of items (lines of text) and the items it has
 * handed out but not yet seen received.
 *
 * A queue holds at most `capacity` waiting items, each 0..QUEUE_MAX_ITEM
 * bytes without a newline.  Pushes are all or nothing: the items of one
 * push enter together and in order, or none does.  A pop does not free the
 * head item: it moves to the held list, held for one (session, reader),
 * until an ack frees it or a return puts it back at the head.  So an item
 * whose reader never got it is not lost.  A sealed queue takes no more
 * items; what it holds can still be popped.
 *
 * A queue has an owner (uid, gid: numbers, QUEUE_OWNER_DAEMON for the
 * daemon's) and permission bits.  The seal is the write permission: the
 * mode a queue shows is its bits without the write bits while it is
 * sealed.  The bits kept always have a write bit, the one an unseal gives
 * back.
 *
 * Every function that takes bytes checks their bounds, so no input makes a
 * queue hold an item longer than QUEUE_MAX_ITEM.  On any error nothing
 * changes.  No locking here: the caller serialises every change.
 */
#ifndef RWFS_QUEUE_H
#define RWFS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_MAX_ITEM 4096  /* bytes of one item, newline not counted */
/* Bytes of one write: the kernel hands a longer write() over in pieces of
 * up to 256 pages (fewer when the buffer is not page-aligned), which would
 * cut an item in two and enter the pieces apart.  The first piece of any
 * split write is longer than this, so such a write fails whole (EFBIG). */
#define QUEUE_MAX_WRITE (255 * 4096)
#define QUEUE_NAME_MAX 64
#define QUEUE_MODE_MASK 07777        /* the permission bits a queue keeps */
#define QUEUE_MODE_DEFAULT 0666      /* of a new queue, until queue_set_mode */
#define QUEUE_OWNER_DAEMON UINT32_MAX /* of a new queue, until queue_set_owner */

struct queue;

struct queue_stats {
	uint64_t depth;      /* items waiting */
	uint64_t bytes;      /* bytes waiting, a newline counted per item */
	uint64_t held;       /* items handed out, not yet acknowledged */
	uint64_t held_bytes; /* their bytes, counted like bytes */
	uint64_t capacity;
	uint64_t total_in;   /* items ever pushed */
	uint64_t total_out;  /* items ever acknowledged */
	bool sealed;
	uint32_t mode;       /* the bits kept, write bits included while sealed */
	uint32_t uid, gid;
};

/* True when name is 1-64 of [A-Za-z0-9._-] and not "." or "..". */
bool queue_name_valid(const char *name, size_t len);

/* A new empty queue; capacity 0 counts as 1.  Returns NULL when out of
 * memory or when the name (NUL-terminated) is not valid. */
struct queue *queue_new(const char *name, size_t capacity);

/* Frees the queue, its waiting and its held items; NULL is a no-op. */
void queue_free(struct queue *q);

const char *queue_name(const struct queue *q);

/* Splits text into items, one per line (a final fragment without newline
 * is one item too; an empty line is an empty item, read back as "\n"), and
 * checks them: returns the number of items, or -EMSGSIZE when one is longer
 * than QUEUE_MAX_ITEM, or -EINVAL when text is empty. */
long queue_count_items(const char *text, size_t len);

/* What queue_push would answer now, changing nothing: the number of items
 * of text, or -EMSGSIZE/-EINVAL as queue_count_items, -EPIPE (sealed),
 * -EFBIG (more items than the capacity: could never fit; or text longer
 * than QUEUE_MAX_WRITE), -EAGAIN (not enough room now), in that order. */
long queue_check_push(const struct queue *q, const char *text, size_t len);

/* Pushes every item of text, all or nothing.  Returns 0, an error of
 * queue_check_push, or -ENOMEM. */
int queue_push(struct queue *q, const char *text, size_t len);

/* True when a push of n items would fit now. */
bool queue_has_room(const struct queue *q, size_t n);

/* Looks at the head item: its bytes and length (newline not included),
 * valid until the queue changes.  Returns 0, -EAGAIN when none waits, or 1
 * at end of file: sealed, nothing waiting and nothing held (a held item
 * may still come back). */
int queue_peek(const struct queue *q, const char **item, size_t *len);

/* What queue_pop would answer now for a reader that can take room bytes
 * (the newline included), changing nothing: 0, 1 or -EAGAIN as
 * queue_peek, or -EMSGSIZE when the head item and its newline do not fit
 * in room. */
int queue_check_pop(const struct queue *q, uint64_t room);

/* Moves the head item to the held list, held for (session, reader); *item
 * and *len are its bytes, valid until it is acknowledged, returned or the
 * queue freed.  Returns 0, -EEXIST when (session, reader) already holds an
 * item here, or an answer of queue_check_pop other than 0. */
int queue_pop(struct queue *q, uint64_t session, uint64_t reader, uint64_t room,
	      const char **item, size_t *len);

/* The item held for (session, reader) was received: it is freed.  Returns
 * 0 or -ENOENT when (session, reader) holds nothing here. */
int queue_ack(struct queue *q, uint64_t session, uint64_t reader);

/* The item held for (session, reader) was not received: it goes back to
 * the head, even over the capacity.  Returns 0 or -ENOENT. */
int queue_return(struct queue *q, uint64_t session, uint64_t reader);

/* Adds an item held for (session, reader) after the others (to load a
 * snapshot).  It takes exactly the items a push makes: 0..QUEUE_MAX_ITEM
 * bytes without a newline (a snapshot of one with a newline would come
 * back as two).  Returns 0, -EMSGSIZE (longer than QUEUE_MAX_ITEM),
 * -EINVAL (a newline in it), -EEXIST ((session, reader) already holds one
 * here) or -ENOMEM. */
int queue_add_held(struct queue *q, uint64_t session, uint64_t reader,
		   const char *item, size_t len);

/* Puts every item held by session back at the head, the earliest popped
 * first, as if its readers had returned them newest first.  Returns how
 * many went back. */
size_t queue_end_session(struct queue *q, uint64_t session);

void queue_set_capacity(struct queue *q, size_t capacity);
void queue_seal(struct queue *q, bool sealed);

/* chmod: mode (within QUEUE_MODE_MASK) with a write bit unseals and
 * becomes the bits kept; without one it seals, and the bits kept are mode
 * with the write bits they had, for an unseal to give back. */
void queue_set_mode(struct queue *q, uint32_t mode);

void queue_set_owner(struct queue *q, uint32_t uid, uint32_t gid);
void queue_get_stats(const struct queue *q, struct queue_stats *out);

/* Calls fn for each waiting item, head first, until fn returns non-zero;
 * returns that value or 0. */
int queue_for_each(const struct queue *q,
		   int (*fn)(void *arg, const char *item, size_t len), void *arg);

/* Calls fn for each held item, the earliest popped first, until fn
 * returns non-zero; returns that value or 0. */
int queue_for_each_held(const struct queue *q,
			int (*fn)(void *arg, uint64_t session, uint64_t reader,
				  const char *item, size_t len),
			void *arg);

#endif
