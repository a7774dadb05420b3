/* queues.c - the registry of queues and their records.  See queues.h.
 *
 * At most QUEUES_MAX queues, so an array scanned by name or id is as fast
 * as anything fancier and obviously right.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queues.h"

struct slot {
	uint64_t id;
	struct queue *q;
};

struct queues {
	struct slot slots[QUEUES_MAX]; /* the first count are in use, in creation order */
	size_t count;
	uint64_t next_id;
	size_t default_capacity;
};

struct queues *queues_new(size_t default_capacity)
{
	struct queues *qs;

	if (default_capacity == 0 || default_capacity > QUEUES_MAX_CAPACITY)
		return NULL;
	qs = calloc(1, sizeof(*qs));
	if (!qs)
		return NULL;
	qs->next_id = 1;
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
		bytes += st.bytes;
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

int queues_check_push(const struct queues *qs, const struct queue *q,
		      const char *text, size_t len)
{
	long n = queue_count_items(text, len);
	struct queue_stats st;

	if (n < 0)
		return (int)n;
	queue_get_stats(q, &st);
	if (st.sealed)
		return -EPIPE;
	if ((uint64_t)n > st.capacity || len > QUEUE_MAX_WRITE)
		return -EFBIG;
	if (!queue_has_room(q, (size_t)n))
		return -EAGAIN;
	/* Each item costs its bytes and a newline: len + 1 at most. */
	if (queues_bytes(qs) + len + 1 > QUEUES_MAX_BYTES)
		return -ENOSPC;
	return 0;
}

size_t queues_record(char *line, const char *verb, const struct queue *q,
		     const char *item, size_t len)
{
	int n = snprintf(line, QUEUES_RECORD_MAX, "%s %s", verb, queue_name(q));

	if (item) {
		line[n++] = ' ';
		memcpy(line + n, item, len);
		n += (int)len;
	}
	return (size_t)n;
}

/* --- applying records ------------------------------------------------------ */

/* A record line cut into its verb, its queue name and the rest. */
struct record {
	const char *verb;
	size_t verb_len;
	const char *name;
	size_t name_len;
	const char *rest; /* NULL when the line ends after the name */
	size_t rest_len;
};

static bool split(const char *line, size_t len, struct record *r)
{
	const char *sp = memchr(line, ' ', len);

	if (!sp)
		return false;
	r->verb = line;
	r->verb_len = (size_t)(sp - line);
	r->name = sp + 1;
	len -= r->verb_len + 1;
	sp = memchr(r->name, ' ', len);
	r->name_len = sp ? (size_t)(sp - r->name) : len;
	r->rest = sp ? sp + 1 : NULL;
	r->rest_len = sp ? len - r->name_len - 1 : 0;
	return r->name_len > 0;
}

static bool verb_is(const struct record *r, const char *verb)
{
	return strlen(verb) == r->verb_len && memcmp(r->verb, verb, r->verb_len) == 0;
}

static const char *const verbs[] = {
	"QUEUE", "DELETE", "PUSH", "POP", "RETURN", "SEAL", "UNSEAL", "CAPACITY",
};

bool queues_is_record(const char *line, size_t len)
{
	struct record r;

	if (!split(line, len, &r))
		return false;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verb_is(&r, verbs[i]))
			return true;
	return false;
}

/* Parses the number at the end of a QUEUE or CAPACITY record. */
static int parse_capacity(const struct record *r, size_t *out)
{
	char buf[16];
	char *end;
	unsigned long v;

	if (!r->rest || r->rest_len == 0 || r->rest_len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, r->rest, r->rest_len);
	buf[r->rest_len] = '\0';
	v = strtoul(buf, &end, 10);
	if (*end || v == 0 || v > QUEUES_MAX_CAPACITY)
		return -EINVAL;
	*out = v;
	return 0;
}

static int apply_create(struct queues *qs, const struct record *r)
{
	char name[QUEUE_NAME_MAX + 1];
	size_t capacity;
	struct queue *q;

	if (queues_check_create(qs, r->name, r->name_len) || parse_capacity(r, &capacity))
		return -EINVAL;
	memcpy(name, r->name, r->name_len);
	name[r->name_len] = '\0';
	q = queue_new(name, capacity);
	if (!q)
		return -ENOMEM;
	qs->slots[qs->count++] = (struct slot){ qs->next_id++, q };
	return 0;
}

static void delete_at(struct queues *qs, size_t i)
{
	queue_free(qs->slots[i].q);
	memmove(&qs->slots[i], &qs->slots[i + 1], (qs->count - i - 1) * sizeof(qs->slots[0]));
	qs->count--;
}

/* Applies a record to an existing queue. */
static int apply_to(struct queues *qs, size_t i, const struct record *r)
{
	struct queue *q = qs->slots[i].q;
	const char *item;
	size_t len, capacity;

	if (verb_is(r, "DELETE") && !r->rest) {
		delete_at(qs, i);
		return 0;
	}
	if (verb_is(r, "PUSH") && r->rest)
		return queue_push_item(q, r->rest, r->rest_len);
	if (verb_is(r, "RETURN") && r->rest)
		return queue_unpop(q, r->rest, r->rest_len);
	if (verb_is(r, "POP") && !r->rest) {
		if (queue_peek(q, &item, &len) != 0)
			return -EINVAL;
		queue_drop_head(q);
		return 0;
	}
	if ((verb_is(r, "SEAL") || verb_is(r, "UNSEAL")) && !r->rest) {
		queue_seal(q, verb_is(r, "SEAL"));
		return 0;
	}
	if (verb_is(r, "CAPACITY") && parse_capacity(r, &capacity) == 0) {
		queue_set_capacity(q, capacity);
		return 0;
	}
	return -EINVAL;
}

int queues_apply(struct queues *qs, const char *line, size_t len)
{
	struct record r;
	ssize_t i;

	if (!split(line, len, &r))
		return -EINVAL;
	if (verb_is(&r, "QUEUE"))
		return apply_create(qs, &r);
	i = index_by_name(qs, r.name, r.name_len);
	return i < 0 ? -EINVAL : apply_to(qs, (size_t)i, &r);
}

/* --- snapshot ------------------------------------------------------------ */

struct dump {
	void (*emit)(void *arg, const char *line, size_t len);
	void *arg;
	const struct queue *q;
	char line[QUEUES_RECORD_MAX];
};

static void dump_item(void *arg, const char *item, size_t len)
{
	struct dump *d = arg;

	d->emit(d->arg, d->line, queues_record(d->line, "PUSH", d->q, item, len));
}

/* PUSH records enter whatever the capacity and the seal, so the items of
 * a queue over its capacity (after a RETURN) or sealed come back whole. */
static void dump_queue(struct dump *d, const struct queue *q)
{
	struct queue_stats st;
	char number[24];
	size_t n;

	queue_get_stats(q, &st);
	d->q = q;
	n = (size_t)snprintf(number, sizeof(number), "%llu", (unsigned long long)st.capacity);
	d->emit(d->arg, d->line, queues_record(d->line, "QUEUE", q, number, n));
	queue_for_each(q, dump_item, d);
	if (st.sealed)
		d->emit(d->arg, d->line, queues_record(d->line, "SEAL", q, NULL, 0));
}

void queues_dump(const struct queues *qs,
		 void (*emit)(void *arg, const char *line, size_t len), void *arg)
{
	struct dump d = { .emit = emit, .arg = arg };

	for (size_t i = 0; i < qs->count; i++)
		dump_queue(&d, qs->slots[i].q);
}
