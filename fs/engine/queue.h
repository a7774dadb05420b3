/* queue.h - one bounded FIFO of items (lines of text).
 *
 * A queue holds at most `capacity` items, each 1..QUEUE_MAX_ITEM bytes
 * without a newline.  Pushes are all or nothing: the items of one push
 * enter together and in order, or none does.  A sealed queue takes no
 * more items; what it holds can still be popped.
 *
 * No locking here: the state's exclusive lock guards every queue.  Waiting
 * for room or for an item is the caller's business (-EAGAIN says when).
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

struct queue;

struct queue_stats {
	uint64_t depth;     /* items held */
	uint64_t bytes;     /* bytes held, a newline counted per item */
	uint64_t capacity;
	uint64_t total_in;  /* items ever pushed */
	uint64_t total_out; /* items ever popped */
	bool sealed;
};

/* True when name is 1-64 of [A-Za-z0-9._-] and not "." or "..". */
bool queue_name_valid(const char *name, size_t len);

/* A new empty queue.  Returns NULL when out of memory or when the name is
 * not valid. */
struct queue *queue_new(const char *name, size_t capacity);

/* Frees the queue and its items; NULL is a no-op. */
void queue_free(struct queue *q);

const char *queue_name(const struct queue *q);

/* Splits text into items, one per line (a final fragment without newline
 * is one item too; an empty line is an empty item, read back as "\n"), and
 * checks them: returns the number of items, or -EMSGSIZE when one is longer
 * than QUEUE_MAX_ITEM, or -EINVAL when text is empty. */
long queue_count_items(const char *text, size_t len);

/* Pushes every item of text, all or nothing.  Returns 0, -EPIPE (sealed),
 * -EFBIG (more items than the capacity: could never fit; or text longer
 * than QUEUE_MAX_WRITE), -EAGAIN (not enough room now), -EMSGSIZE/-EINVAL
 * as queue_count_items, -ENOMEM. */
int queue_push(struct queue *q, const char *text, size_t len);

/* Appends one item whatever the capacity and the seal: for the replay of
 * items that were accepted when they were first pushed.  0 or -ENOMEM. */
int queue_push_item(struct queue *q, const char *item, size_t len);

/* Takes back the last n items pushed (a push that could not be made
 * durable).  n must not exceed the depth. */
void queue_drop_tail(struct queue *q, size_t n);

/* Puts one item back at the head (an item popped for a reader that could
 * not take it).  May exceed the capacity by that item.  0 or -ENOMEM. */
int queue_unpop(struct queue *q, const char *item, size_t len);

/* Looks at the head item: its bytes and length (newline not included).
 * Returns 0, -EAGAIN when empty (and not sealed), or 1 when the queue is
 * sealed and empty (end of file). */
int queue_peek(const struct queue *q, const char **item, size_t *len);

/* Removes the head item (queue_peek said there is one). */
void queue_drop_head(struct queue *q);

/* True when a push of n items would fit now. */
bool queue_has_room(const struct queue *q, size_t n);

void queue_set_capacity(struct queue *q, size_t capacity);
void queue_seal(struct queue *q, bool sealed);
void queue_get_stats(const struct queue *q, struct queue_stats *out);

/* Calls fn for each item, head first (for a snapshot). */
void queue_for_each(const struct queue *q,
		    void (*fn)(void *arg, const char *item, size_t len), void *arg);

#endif
