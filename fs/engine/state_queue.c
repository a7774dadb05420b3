/* state_queue.c - the queue operations of the state: look under the shared
 * lock; check, journal and apply under the exclusive lock.  See state.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_priv.h"
#include "text.h"

int state_set_queue_capacity(struct state *st, size_t capacity)
{
	struct queues *qs;

	if (capacity == 0 || capacity > QUEUES_MAX_CAPACITY)
		return -EINVAL;
	qs = queues_new(capacity);
	if (!qs)
		return -ENOMEM;
	rwlock_write_lock(&st->lock);
	/* Only before any queue exists: the registry is swapped whole. */
	if (queues_at(st->queues, 0)) {
		rwlock_write_unlock(&st->lock);
		queues_free(qs);
		return -EBUSY;
	}
	queues_free(st->queues);
	st->queues = qs;
	rwlock_write_unlock(&st->lock);
	return 0;
}

/* Journals and applies one record line, then drops the exclusive lock and
 * waits for the sync policy. */
static int commit_line_and_unlock(struct state *st, const char *line, size_t len)
{
	uint64_t ticket;
	int ret = state_commit_locked(st, line, len, &ticket);

	rwlock_write_unlock(&st->lock);
	return ret ? ret : state_commit_wait(st, ticket);
}

int state_queue_create(struct state *st, const char *name, size_t len, uint64_t *id)
{
	char line[QUEUES_RECORD_MAX];
	int n, ret;

	rwlock_write_lock(&st->lock);
	ret = queues_check_create(st->queues, name, len);
	if (ret) {
		rwlock_write_unlock(&st->lock);
		return ret;
	}
	n = snprintf(line, sizeof(line), "QUEUE %.*s %zu", (int)len, name,
		     queues_default_capacity(st->queues));
	ret = commit_line_and_unlock(st, line, (size_t)n);
	/* The journal wait is over; a new look finds the id (or a delete that
	 * came in between, which is fine to report as such). */
	return ret ? ret : state_queue_find(st, name, len, id, NULL);
}

int state_queue_delete(struct state *st, const char *name, size_t len, uint64_t *id)
{
	char line[QUEUES_RECORD_MAX];
	struct queue *q;

	rwlock_write_lock(&st->lock);
	q = queues_by_name(st->queues, name, len);
	if (!q) {
		rwlock_write_unlock(&st->lock);
		return -ENOENT;
	}
	*id = queues_id(st->queues, q);
	return commit_line_and_unlock(st, line, queues_record(line, "DELETE", q, NULL, 0));
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
	if (name)
		snprintf(name, QUEUE_NAME_MAX + 1, "%s", queue_name(q));
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

/* Builds the record of a push: one PUSH line per item. */
static int push_record(const struct queue *q, const char *text, size_t len,
		       struct text *record)
{
	char *line = malloc(QUEUES_RECORD_MAX);
	size_t pos = 0;

	if (!line)
		return -ENOMEM;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;

		text_append(record, line, queues_record(line, "PUSH", q, text + pos, n));
		text_append(record, "\n", 1);
		pos += n + 1;
	}
	free(line);
	return record->oom ? -ENOMEM : 0;
}

int state_queue_push(struct state *st, uint64_t id, const char *text, size_t len)
{
	struct text record = TEXT_INIT;
	uint64_t ticket;
	struct queue *q;
	int ret;

	rwlock_write_lock(&st->lock);
	q = queues_by_id(st->queues, id);
	ret = q ? queues_check_push(st->queues, q, text, len) : -ENOENT;
	if (!ret)
		ret = push_record(q, text, len, &record);
	if (!ret)
		ret = state_commit_locked(st, record.buf, record.len, &ticket);
	rwlock_write_unlock(&st->lock);
	text_free(&record);
	return ret ? ret : state_commit_wait(st, ticket);
}

int state_queue_pop(struct state *st, uint64_t id, size_t room, char *item, size_t *len)
{
	char line[QUEUES_RECORD_MAX];
	const char *head;
	struct queue *q;
	int ret;

	rwlock_write_lock(&st->lock);
	q = queues_by_id(st->queues, id);
	ret = q ? queue_peek(q, &head, len) : -ENOENT;
	if (!ret && *len + 1 > room)
		ret = -EMSGSIZE;
	if (ret) {
		rwlock_write_unlock(&st->lock);
		return ret;
	}
	memcpy(item, head, *len);
	return commit_line_and_unlock(st, line, queues_record(line, "POP", q, NULL, 0));
}

/* Commits "VERB NAME[ REST]" for queue id. */
static int change(struct state *st, uint64_t id, const char *verb, const char *rest,
		  size_t len)
{
	char *line = malloc(QUEUES_RECORD_MAX);
	struct queue *q;
	int ret;

	if (!line)
		return -ENOMEM;
	rwlock_write_lock(&st->lock);
	q = queues_by_id(st->queues, id);
	if (q) {
		ret = commit_line_and_unlock(st, line, queues_record(line, verb, q, rest, len));
	} else {
		rwlock_write_unlock(&st->lock);
		ret = -ENOENT;
	}
	free(line);
	return ret;
}

int state_queue_unpop(struct state *st, uint64_t id, const char *item, size_t len)
{
	return change(st, id, "RETURN", item, len);
}

int state_queue_seal(struct state *st, uint64_t id, bool sealed)
{
	return change(st, id, sealed ? "SEAL" : "UNSEAL", NULL, 0);
}

int state_queue_set_capacity(struct state *st, uint64_t id, size_t capacity)
{
	char number[24];
	int n;

	if (capacity == 0 || capacity > QUEUES_MAX_CAPACITY)
		return -EINVAL;
	n = snprintf(number, sizeof(number), "%zu", capacity);
	return change(st, id, "CAPACITY", number, (size_t)n);
}
