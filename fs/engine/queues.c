/* queues.c - the registry of queues and the apply of queue records.  See
 * queues.h.
 *
 * At most QUEUES_MAX queues, so an array scanned by name or id is as fast
 * as anything fancier and obviously right.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queues.h"
#include "record.h"

struct slot {
	uint64_t id;
	struct queue *q;
};

/* newest is the greatest id given: a create with an id not greater is
 * refused, so ids only grow and none comes back.  A snapshot does not keep
 * it, only the ids of the queues that exist, so a registry loaded from one
 * may know a smaller newest than the registry that saved it (when the
 * newest queues were deleted).  Both still refuse exactly the same records
 * after the snapshot: apply creates a queue with the position of its
 * record (only a snapshot's records bring ids of their own, in creation
 * order), every id either registry gave is a position up to the
 * snapshot's, and every later record has a later position. */
struct queues {
	struct slot slots[QUEUES_MAX]; /* the first count are in use, in creation order */
	size_t count;
	uint64_t newest;
	size_t default_capacity;
};

struct queues *queues_new(size_t default_capacity)
{
	struct queues *qs;

	if (!queues_capacity_valid(default_capacity))
		return NULL;
	qs = calloc(1, sizeof(*qs));
	if (!qs)
		return NULL;
	qs->default_capacity = default_capacity;
	return qs;
}

void queues_free(struct queues *qs)
{
	if (!qs)
		return;
	for (size_t i = 0; i < qs->count; i++)
		queue_free(qs->slots[i].q);
	free(qs);
}

size_t queues_default_capacity(const struct queues *qs)
{
	return qs->default_capacity;
}

static ssize_t index_by_name(const struct queues *qs, const char *name, size_t len)
{
	for (size_t i = 0; i < qs->count; i++) {
		const char *n = queue_name(qs->slots[i].q);

		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

struct queue *queues_by_name(const struct queues *qs, const char *name, size_t len)
{
	ssize_t i = index_by_name(qs, name, len);

	return i < 0 ? NULL : qs->slots[i].q;
}

/* The index of the queue with id called name, or -1. */
static ssize_t index_of(const struct queues *qs, uint64_t id, const char *name, size_t len)
{
	ssize_t i = index_by_name(qs, name, len);

	return i >= 0 && qs->slots[i].id == id ? i : -1;
}

/* The queue a record is about, or NULL. */
static struct queue *find(const struct queues *qs, uint64_t id, const char *name, size_t len)
{
	ssize_t i = index_of(qs, id, name, len);

	return i < 0 ? NULL : qs->slots[i].q;
}

struct queue *queues_by_id(const struct queues *qs, uint64_t id)
{
	for (size_t i = 0; i < qs->count; i++)
		if (qs->slots[i].id == id)
			return qs->slots[i].q;
	return NULL;
}

uint64_t queues_id(const struct queues *qs, const struct queue *q)
{
	for (size_t i = 0; i < qs->count; i++)
		if (qs->slots[i].q == q)
			return qs->slots[i].id;
	return 0;
}

struct queue *queues_at(const struct queues *qs, size_t i)
{
	return i < qs->count ? qs->slots[i].q : NULL;
}

uint64_t queues_bytes(const struct queues *qs)
{
	struct queue_stats st;
	uint64_t bytes = 0;

	for (size_t i = 0; i < qs->count; i++) {
		queue_get_stats(qs->slots[i].q, &st);
		bytes += st.bytes + st.held_bytes;
	}
	return bytes;
}

int queues_check_create(const struct queues *qs, const char *name, size_t len)
{
	if (!queue_name_valid(name, len))
		return -EINVAL;
	if (index_by_name(qs, name, len) >= 0)
		return -EEXIST;
	if (qs->count == QUEUES_MAX)
		return -ENOSPC;
	return 0;
}

bool queues_capacity_valid(uint64_t capacity)
{
	return capacity >= 1 && capacity <= QUEUES_MAX_CAPACITY;
}

int queues_check_push(const struct queues *qs, const struct queue *q,
		      const char *text, size_t len)
{
	long n = queue_check_push(q, text, len);
	uint64_t cost;

	if (n < 0)
		return (int)n;
	/* Each item costs its bytes and a newline, which the last may lack. */
	cost = (uint64_t)len + (text[len - 1] != '\n');
	if (queues_bytes(qs) + cost > QUEUES_MAX_BYTES)
		return -ENOSPC;
	return 0;
}

int queues_apply_create(struct queues *qs, uint64_t id, const char *name, size_t len,
			uint64_t capacity)
{
	char copy[QUEUE_NAME_MAX + 1];
	struct queue *q;
	int ret;

	if (!queues_capacity_valid(capacity) || id <= qs->newest)
		return -EINVAL;
	ret = queues_check_create(qs, name, len);
	if (ret)
		return ret;
	memcpy(copy, name, len);
	copy[len] = '\0';
	q = queue_new(copy, (size_t)capacity);
	if (!q)
		return -ENOMEM;
	qs->newest = id;
	qs->slots[qs->count++] = (struct slot){ id, q };
	return 0;
}

int queues_apply_delete(struct queues *qs, uint64_t id, const char *name, size_t len)
{
	ssize_t i = index_of(qs, id, name, len);

	if (i < 0)
		return -ENOENT;
	queue_free(qs->slots[i].q);
	memmove(&qs->slots[i], &qs->slots[i + 1],
		(qs->count - (size_t)i - 1) * sizeof(qs->slots[0]));
	qs->count--;
	return 0;
}

int queues_apply_push(struct queues *qs, uint64_t id, const char *name, size_t len,
		      const char *items, size_t items_len)
{
	struct queue *q = find(qs, id, name, len);
	int ret;

	if (!q)
		return -ENOENT;
	ret = queues_check_push(qs, q, items, items_len);
	return ret ? ret : queue_push(q, items, items_len);
}

int queues_apply_pop(struct queues *qs, uint64_t id, const char *name, size_t len,
		     uint64_t session, uint64_t reader, uint64_t room, const char **item,
		     size_t *item_len)
{
	struct queue *q = find(qs, id, name, len);

	return q ? queue_pop(q, session, reader, room, item, item_len) : -ENOENT;
}

int queues_apply_ack(struct queues *qs, uint64_t id, const char *name, size_t len,
		     uint64_t session, uint64_t reader)
{
	struct queue *q = find(qs, id, name, len);

	return q ? queue_ack(q, session, reader) : -ENOENT;
}

int queues_apply_return(struct queues *qs, uint64_t id, const char *name, size_t len,
			uint64_t session, uint64_t reader)
{
	struct queue *q = find(qs, id, name, len);

	return q ? queue_return(q, session, reader) : -ENOENT;
}

int queues_apply_seal(struct queues *qs, uint64_t id, const char *name, size_t len,
		      bool sealed)
{
	struct queue *q = find(qs, id, name, len);

	if (!q)
		return -ENOENT;
	queue_seal(q, sealed);
	return 0;
}

int queues_apply_attr(struct queues *qs, uint64_t id, const char *name, size_t len,
		      unsigned what, uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct queue *q = find(qs, id, name, len);

	if (!q)
		return -ENOENT;
	if ((what & ~(QUEUES_SET_MODE | QUEUES_SET_OWNER)) ||
	    ((what & QUEUES_SET_MODE) && (mode & ~QUEUE_MODE_MASK)))
		return -EINVAL;
	if (what & QUEUES_SET_MODE)
		queue_set_mode(q, mode);
	if (what & QUEUES_SET_OWNER)
		queue_set_owner(q, uid, gid);
	return 0;
}

int queues_apply_capacity(struct queues *qs, uint64_t id, const char *name, size_t len,
			  uint64_t capacity)
{
	struct queue *q = find(qs, id, name, len);

	if (!q)
		return -ENOENT;
	if (!queues_capacity_valid(capacity))
		return -EINVAL;
	queue_set_capacity(q, (size_t)capacity);
	return 0;
}

int queues_apply_held(struct queues *qs, uint64_t id, const char *name, size_t len,
		      uint64_t session, uint64_t reader, const char *item, size_t item_len)
{
	struct queue *q = find(qs, id, name, len);

	if (!q)
		return -ENOENT;
	if (item_len > QUEUE_MAX_ITEM)
		return -EMSGSIZE;
	if (queues_bytes(qs) + item_len + 1 > QUEUES_MAX_BYTES)
		return -ENOSPC;
	return queue_add_held(q, session, reader, item, item_len);
}

size_t queues_end_session(struct queues *qs, uint64_t session)
{
	size_t back = 0;

	for (size_t i = 0; i < qs->count; i++)
		back += queue_end_session(qs->slots[i].q, session);
	return back;
}

/* --- dump ------------------------------------------------------------------ */

struct dump {
	int (*emit)(void *arg, const struct record *r);
	void *arg;
	struct record_bytes name;
	uint64_t id;
	uint32_t mode, uid, gid; /* the CREATE's: only its layout has them */
	uint64_t index;      /* of the waiting item at hand, from the head */
	uint64_t over;       /* head items beyond what a capacity can push */
	char *push;          /* QUEUE_MAX_WRITE bytes: the PUSH being built */
	size_t push_len;
};

static int emit(struct dump *d, enum record_kind kind, uint64_t u, uint64_t v,
		const void *data, size_t len)
{
	struct record r = {
		.kind = kind, .name = d->name, .data = { data, len }, .queue = d->id,
		.u = u, .v = v, .mode = d->mode, .uid = d->uid, .gid = d->gid,
	};

	return d->emit(d->arg, &r);
}

static int flush_push(struct dump *d)
{
	int ret = 0;

	if (d->push_len)
		ret = emit(d, RECORD_QUEUE_PUSH, 0, 0, d->push, d->push_len);
	d->push_len = 0;
	return ret;
}

/* The head items beyond QUEUES_MAX_CAPACITY come back as items held for
 * session 0, readers 0, 1, ..., returned newest first once the others are
 * pushed: no capacity takes them all, and a return ignores the capacity. */
static int dump_waiting(void *arg, const char *item, size_t len)
{
	struct dump *d = arg;
	uint64_t index = d->index++;
	int ret;

	if (index < d->over)
		return emit(d, RECORD_QUEUE_HELD, index, 0, item, len);
	if (d->push_len + len + 1 > QUEUE_MAX_WRITE) {
		ret = flush_push(d);
		if (ret)
			return ret;
	}
	memcpy(d->push + d->push_len, item, len);
	d->push[d->push_len + len] = '\n';
	d->push_len += len + 1;
	return 0;
}

static int dump_held(void *arg, uint64_t session, uint64_t reader, const char *item,
		     size_t len)
{
	return emit(arg, RECORD_QUEUE_HELD, reader, session, item, len);
}

static int dump_queue(struct dump *d, const struct slot *slot)
{
	const struct queue *q = slot->q;
	struct queue_stats st;
	uint64_t pushed;
	int ret;

	queue_get_stats(q, &st);
	pushed = st.depth < QUEUES_MAX_CAPACITY ? st.depth : QUEUES_MAX_CAPACITY;
	d->name = (struct record_bytes){ queue_name(q), strlen(queue_name(q)) };
	d->id = slot->id;
	d->mode = st.mode;
	d->uid = st.uid;
	d->gid = st.gid;
	d->index = 0;
	d->over = st.depth - pushed;
	ret = emit(d, RECORD_QUEUE_CREATE, st.capacity > pushed ? st.capacity : pushed, 0,
		   NULL, 0);
	if (!ret)
		ret = queue_for_each(q, dump_waiting, d);
	if (!ret)
		ret = flush_push(d);
	for (uint64_t reader = d->over; !ret && reader-- > 0;)
		ret = emit(d, RECORD_QUEUE_RETURN, reader, 0, NULL, 0);
	if (!ret)
		ret = queue_for_each_held(q, dump_held, d);
	if (!ret)
		ret = emit(d, RECORD_QUEUE_CAPACITY, st.capacity, 0, NULL, 0);
	if (!ret && st.sealed)
		ret = emit(d, RECORD_QUEUE_SEAL, 1, 0, NULL, 0);
	return ret;
}

int queues_dump(const struct queues *qs,
		int (*emit_fn)(void *arg, const struct record *r), void *arg)
{
	struct dump d = { .emit = emit_fn, .arg = arg };
	int ret = 0;

	d.push = malloc(QUEUE_MAX_WRITE);
	if (!d.push)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < qs->count; i++)
		ret = dump_queue(&d, &qs->slots[i]);
	free(d.push);
	return ret;
}
