/* state_queue.c - the queue operations of the state: look under the shared
 * lock, propose a record for every change.  See state.h.
 *
 * Every record carries the id of the queue looked at, with its name: the
 * lock is not held while the record goes through the log, and should the
 * queue be deleted meanwhile (and another made with its name), apply
 * refuses the record (-ENOENT) rather than change the other queue.
 *
 * A change that would be refused now (a pop of an empty queue, a push to a
 * full one) is not proposed: its caller waits for the observer instead.
 * Apply decides all the same, so a change that races another still gets
 * the right answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state_priv.h"

int state_set_queue_capacity(struct state *st, size_t capacity)
{
	if (!queues_capacity_valid(capacity))
		return -EINVAL;
	st->queue_capacity = capacity;
	return 0;
}

static void settle_again(struct state *st);

/* Proposes r and turns a refusal into the return value. */
static int propose(struct state *st, struct record *r, struct outcome *out)
{
	int ret = state_submit(st, r, out);

	return ret ? ret : out->err;
}

int state_queue_create(struct state *st, const char *name, size_t len, uint32_t mode,
		       uint32_t uid, uint32_t gid, uint32_t pid, uint64_t *id)
{
	struct record r = { .kind = RECORD_QUEUE_CREATE, .pid = pid, .name = { name, len },
			    .u = st->queue_capacity, .mode = mode, .uid = uid, .gid = gid };
	struct outcome out = { .err = 0 };
	int ret;

	if (!queue_name_valid(name, len) || (mode & ~QUEUE_MODE_MASK))
		return -EINVAL;
	ret = propose(st, &r, &out);
	if (!ret)
		*id = out.queue_id;
	return ret;
}

int state_queue_delete(struct state *st, const char *name, size_t len, uint32_t pid,
		       uint64_t *id)
{
	struct record r = { .kind = RECORD_QUEUE_DELETE, .pid = pid, .name = { name, len } };
	struct outcome out = { .err = 0 };
	int ret = state_queue_find(st, name, len, &r.queue, NULL);

	if (!ret)
		ret = propose(st, &r, &out);
	if (!ret)
		*id = r.queue;
	return ret;
}

int state_queue_find(struct state *st, const char *name, size_t len, uint64_t *id,
		     struct queue_stats *stats)
{
	struct queue *q;

	rwlock_read_lock(&st->lock);
	q = queues_by_name(st->queues, name, len);
	if (q) {
		*id = queues_id(st->queues, q);
		if (stats)
			queue_get_stats(q, stats);
	}
	rwlock_read_unlock(&st->lock);
	return q ? 0 : -ENOENT;
}

static void describe(const struct queue *q, char *name, struct queue_stats *stats)
{
	if (name) {
		/* Not snprintf: it cost a push or a pop 550 instructions. */
		const char *from = queue_name(q);
		size_t len = strnlen(from, QUEUE_NAME_MAX);

		memcpy(name, from, len);
		name[len] = '\0';
	}
	if (stats)
		queue_get_stats(q, stats);
}

int state_queue_at(struct state *st, size_t i, uint64_t *id,
		   char name[QUEUE_NAME_MAX + 1], struct queue_stats *stats)
{
	struct queue *q;

	rwlock_read_lock(&st->lock);
	q = queues_at(st->queues, i);
	if (q) {
		*id = queues_id(st->queues, q);
		describe(q, name, stats);
	}
	rwlock_read_unlock(&st->lock);
	return q ? 0 : -ENOENT;
}

int state_queue_stats(struct state *st, uint64_t id, char name[QUEUE_NAME_MAX + 1],
		      struct queue_stats *stats)
{
	struct queue *q;

	rwlock_read_lock(&st->lock);
	q = queues_by_id(st->queues, id);
	if (q)
		describe(q, name, stats);
	rwlock_read_unlock(&st->lock);
	return q ? 0 : -ENOENT;
}

/* What a push of text (or, text NULL, a pop into room bytes) of queue id
 * would answer now, and the queue's name: under one shared lock. */
static int look(struct state *st, uint64_t id, char name[QUEUE_NAME_MAX + 1],
		const char *text, size_t len, size_t room)
{
	struct queue *q;
	int ret;

	rwlock_read_lock(&st->lock);
	q = queues_by_id(st->queues, id);
	if (!q)
		ret = -ENOENT;
	else if (text)
		ret = queues_check_push(st->queues, q, text, len);
	else
		ret = queue_check_pop(q, room);
	if (q)
		describe(q, name, NULL);
	rwlock_read_unlock(&st->lock);
	return ret;
}

int state_queue_push(struct state *st, uint64_t id, const char *text, size_t len,
		     uint32_t pid)
{
	char name[QUEUE_NAME_MAX + 1];
	struct record r = { .kind = RECORD_QUEUE_PUSH, .pid = pid, .data = { text, len },
			    .queue = id };
	struct outcome out = { .err = 0 };
	int ret;

	settle_again(st);
	ret = look(st, id, name, text, len, 0);
	if (ret)
		return ret;
	r.name.data = name;
	r.name.len = strlen(name);
	return propose(st, &r, &out);
}

int state_queue_pop(struct state *st, uint64_t id, size_t room, uint32_t pid, char *item,
		    size_t *len, uint64_t *ticket)
{
	char name[QUEUE_NAME_MAX + 1];
	struct record r = { .kind = RECORD_QUEUE_POP, .pid = pid, .v = room, .queue = id };
	struct outcome out = { .item = item };
	int ret;

	settle_again(st);
	ret = look(st, id, name, NULL, 0, room);
	if (ret)
		return ret;
	r.name.data = name;
	r.name.len = strlen(name);
	r.u = *ticket = __atomic_add_fetch(&st->next_reader, 1, __ATOMIC_RELAXED);
	ret = propose(st, &r, &out);
	if (ret)
		return ret;
	if (out.eof)
		return 1;
	*len = out.item_len;
	return 0;
}

/* Proposes a record of kind about queue id (its name and id filled in here). */
static int change(struct state *st, uint64_t id, struct record *r)
{
	char name[QUEUE_NAME_MAX + 1];
	struct outcome out = { .err = 0 };
	struct queue *q;

	rwlock_read_lock(&st->lock);
	q = queues_by_id(st->queues, id);
	if (q)
		describe(q, name, NULL);
	rwlock_read_unlock(&st->lock);
	if (!q)
		return -ENOENT;
	r->name.data = name;
	r->name.len = strlen(name);
	r->queue = id;
	return propose(st, r, &out);
}

/* --- settling held items ------------------------------------------------------
 *
 * An acknowledgement or a return the log could not take (a full disk)
 * leaves its item held, and a held item keeps a sealed queue from its end
 * of file.  It is kept here and proposed again before the next queue
 * change, which is also when the log has room again.  Should the list be
 * full, the item stays held until the next start gives it back.
 */

static void remember_unsettled(struct state *st, enum record_kind kind, uint64_t id,
			       uint64_t ticket)
{
	pthread_mutex_lock(&st->unsettled_lock);
	if (st->nunsettled < STATE_MAX_UNSETTLED) {
		st->unsettled[st->nunsettled] = (struct unsettled){ kind, id, ticket };
		__atomic_store_n(&st->nunsettled, st->nunsettled + 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&st->unsettled_lock);
}

static int settle(struct state *st, enum record_kind kind, uint64_t id, uint64_t ticket)
{
	struct record r = { .kind = kind, .u = ticket };
	int ret = change(st, id, &r);

	/* Refusals (a queue deleted, an item no longer held) are final. */
	if (ret == -ENOSPC || ret == -EIO || ret == -ENOMEM || ret == -EDQUOT)
		remember_unsettled(st, kind, id, ticket);
	return ret;
}

/* Proposes again what could not be settled; the failures stay listed. */
static void settle_again(struct state *st)
{
	struct unsettled again[STATE_MAX_UNSETTLED];
	size_t n;

	if (!__atomic_load_n(&st->nunsettled, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&st->unsettled_lock);
	n = st->nunsettled;
	memcpy(again, st->unsettled, n * sizeof(again[0]));
	__atomic_store_n(&st->nunsettled, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&st->unsettled_lock);
	for (size_t i = 0; i < n; i++)
		settle(st, again[i].kind, again[i].id, again[i].ticket);
}

int state_queue_ack(struct state *st, uint64_t id, uint64_t ticket)
{
	settle_again(st);
	return settle(st, RECORD_QUEUE_ACK, id, ticket);
}

int state_queue_unpop(struct state *st, uint64_t id, uint64_t ticket)
{
	settle_again(st);
	return settle(st, RECORD_QUEUE_RETURN, id, ticket);
}

int state_queue_seal(struct state *st, uint64_t id, bool sealed, uint32_t pid)
{
	struct record r = { .kind = RECORD_QUEUE_SEAL, .pid = pid, .u = sealed };

	return change(st, id, &r);
}

int state_queue_setattr(struct state *st, uint64_t id, unsigned what, uint32_t mode,
			uint32_t uid, uint32_t gid, uint32_t pid)
{
	struct record r = { .kind = RECORD_QUEUE_SETATTR, .pid = pid, .v = what, .mode = mode,
			    .uid = uid, .gid = gid };

	return change(st, id, &r);
}

int state_queue_set_capacity(struct state *st, uint64_t id, size_t capacity, uint32_t pid)
{
	struct record r = { .kind = RECORD_QUEUE_CAPACITY, .pid = pid, .u = capacity };

	if (!queues_capacity_valid(capacity))
		return -EINVAL;
	return change(st, id, &r);
}
