/* memory.c - the log kept in memory.  See memory.h and log.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"

struct entry {
	void *rec;
	size_t len;
};

struct memory_log {
	struct log log;
	pthread_mutex_t lock;      /* orders appends, as the file log's append lock */
	struct entry *entries;     /* under lock: the records after the snapshot */
	size_t count, cap;         /* under lock */
	uint64_t base;             /* under lock: the snapshot's position */
	void *snapshot;            /* under lock: NULL when never compacted */
	size_t snapshot_len;       /* under lock */
	log_deliver_fn deliver;
	void *arg;
};

static struct memory_log *of(struct log *log)
{
	return (struct memory_log *)log;
}

static int memory_follow(struct log *log, log_load_fn load, log_deliver_fn deliver, void *arg)
{
	struct memory_log *m = of(log);
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->snapshot)
		ret = load(arg, m->base, m->snapshot, m->snapshot_len);
	for (size_t k = 0; !ret && k < m->count; k++)
		ret = deliver(arg, m->base + k + 1, m->entries[k].rec, m->entries[k].len);
	m->deliver = deliver;
	m->arg = arg;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int keep(struct memory_log *m, const void *rec, size_t len)
{
	void *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	if (m->count == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct entry *e = realloc(m->entries, cap * sizeof(*e));

		if (!e) {
			free(copy);
			return -ENOMEM;
		}
		m->entries = e;
		m->cap = cap;
	}
	memcpy(copy, rec, len);
	m->entries[m->count].rec = copy;
	m->entries[m->count++].len = len;
	return 0;
}

static int memory_append(struct log *log, const void *rec, size_t len, uint64_t *position)
{
	struct memory_log *m = of(log);
	int ret = len > LOG_MAX_RECORD ? -EFBIG : 0;

	pthread_mutex_lock(&m->lock);
	if (!ret) {
		log_stamp(log, rec, len);
		ret = keep(m, rec, len);
	}
	if (!ret) {
		*position = m->base + m->count;
		if (m->deliver)
			ret = m->deliver(m->arg, *position, rec, len);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int memory_sync(struct log *log, uint64_t position)
{
	(void)log, (void)position;
	return 0;
}

static bool memory_wants_compaction(struct log *log)
{
	(void)log;
	return false;
}

static void drop_entries(struct memory_log *m)
{
	for (size_t k = 0; k < m->count; k++)
		free(m->entries[k].rec);
	m->count = 0;
}

static int memory_compact(struct log *log, log_save_fn save, void *arg)
{
	struct memory_log *m = of(log);
	void *blob;
	size_t len;
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = save(arg, &blob, &len);
	if (!ret) {
		free(m->snapshot);
		m->snapshot = blob;
		m->snapshot_len = len;
		m->base += m->count;
		drop_entries(m);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int memory_format_stats(struct log *log, char *buf, size_t size)
{
	struct memory_log *m = of(log);
	unsigned long long position;

	pthread_mutex_lock(&m->lock);
	position = m->base + m->count;
	pthread_mutex_unlock(&m->lock);
	return snprintf(buf, size, "log memory\nlog_position %llu\n", position);
}

static void memory_close(struct log *log)
{
	struct memory_log *m = of(log);

	drop_entries(m);
	free(m->entries);
	free(m->snapshot);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const struct log_ops memory_ops = {
	.follow = memory_follow,
	.append = memory_append,
	.sync = memory_sync,
	.wants_compaction = memory_wants_compaction,
	.compact = memory_compact,
	.format_stats = memory_format_stats,
	.close = memory_close,
};

struct log *log_memory_new(void)
{
	struct memory_log *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->log.ops = &memory_ops;
	pthread_mutex_init(&m->lock, NULL);
	return &m->log;
}

struct log *log_memory_copy(struct log *from)
{
	struct memory_log *src = of(from), *m;
	struct log *log = log_memory_new();
	int ret = log ? 0 : -ENOMEM;

	if (ret)
		return NULL;
	m = of(log);
	pthread_mutex_lock(&src->lock);
	m->base = src->base;
	if (src->snapshot) {
		m->snapshot = malloc(src->snapshot_len ? src->snapshot_len : 1);
		ret = m->snapshot ? 0 : -ENOMEM;
		if (!ret) {
			memcpy(m->snapshot, src->snapshot, src->snapshot_len);
			m->snapshot_len = src->snapshot_len;
		}
	}
	for (size_t k = 0; !ret && k < src->count; k++)
		ret = keep(m, src->entries[k].rec, src->entries[k].len);
	pthread_mutex_unlock(&src->lock);
	if (ret) {
		memory_close(log);
		return NULL;
	}
	return log;
}

size_t log_memory_count(struct log *log)
{
	struct memory_log *m = of(log);
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->count;
	pthread_mutex_unlock(&m->lock);
	return n;
}
