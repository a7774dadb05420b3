/* queue.c - a bounded FIFO of lines.  See queue.h.
 *
 * A singly linked list with a tail pointer: pushes append, pops take the
 * head, both O(1); an item is one allocation with its bytes inline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

struct item {
	struct item *next;
	size_t len;
	char text[];
};

struct queue {
	char name[QUEUE_NAME_MAX + 1];
	struct item *head;
	struct item **tail;
	uint64_t depth;
	uint64_t bytes;
	uint64_t capacity;
	uint64_t total_in;
	uint64_t total_out;
	bool sealed;
};

bool queue_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > QUEUE_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

struct queue *queue_new(const char *name, size_t capacity)
{
	size_t len = strlen(name);
	struct queue *q;

	if (!queue_name_valid(name, len))
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	memcpy(q->name, name, len + 1);
	q->tail = &q->head;
	q->capacity = capacity ? capacity : 1;
	return q;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	while (q->head) {
		struct item *it = q->head;

		q->head = it->next;
		free(it);
	}
	free(q);
}

const char *queue_name(const struct queue *q)
{
	return q->name;
}

/* Calls fn for each line of text: the items a write carries. */
static int for_each_line(const char *text, size_t len,
			 int (*fn)(void *arg, const char *line, size_t n), void *arg)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;
		int ret = fn(arg, text + pos, n);

		if (ret)
			return ret;
		pos += n + 1;
	}
	return 0;
}

static int count_line(void *arg, const char *line, size_t n)
{
	(void)line;
	if (n > QUEUE_MAX_ITEM)
		return -EMSGSIZE;
	(*(long *)arg)++;
	return 0;
}

long queue_count_items(const char *text, size_t len)
{
	long n = 0;
	int ret;

	if (len == 0)
		return -EINVAL;
	ret = for_each_line(text, len, count_line, &n);
	return ret ? ret : n;
}

static struct item *item_new(const char *text, size_t len)
{
	struct item *it = malloc(sizeof(*it) + len);

	if (!it)
		return NULL;
	it->next = NULL;
	it->len = len;
	memcpy(it->text, text, len);
	return it;
}

/* The items of one push, built before any of them enters the queue. */
struct batch {
	struct item *head;
	struct item **tail;
	uint64_t bytes;
};

static int add_line(void *arg, const char *line, size_t n)
{
	struct batch *b = arg;
	struct item *it = item_new(line, n);

	if (!it)
		return -ENOMEM;
	*b->tail = it;
	b->tail = &it->next;
	b->bytes += n + 1;
	return 0;
}

bool queue_has_room(const struct queue *q, size_t n)
{
	return q->depth + n <= q->capacity;
}

int queue_push(struct queue *q, const char *text, size_t len)
{
	struct batch b = { NULL, &b.head, 0 };
	long n = queue_count_items(text, len);
	int ret;

	if (n < 0)
		return (int)n;
	if (q->sealed)
		return -EPIPE;
	if ((uint64_t)n > q->capacity || len > QUEUE_MAX_WRITE)
		return -EFBIG;
	if (!queue_has_room(q, (size_t)n))
		return -EAGAIN;
	ret = for_each_line(text, len, add_line, &b);
	if (ret) {
		while (b.head) {
			struct item *it = b.head;

			b.head = it->next;
			free(it);
		}
		return ret;
	}
	*q->tail = b.head;
	q->tail = b.tail;
	q->depth += (uint64_t)n;
	q->bytes += b.bytes;
	q->total_in += (uint64_t)n;
	return 0;
}

int queue_push_item(struct queue *q, const char *item, size_t len)
{
	struct item *it = item_new(item, len);

	if (!it)
		return -ENOMEM;
	*q->tail = it;
	q->tail = &it->next;
	q->depth++;
	q->bytes += len + 1;
	q->total_in++;
	return 0;
}

int queue_unpop(struct queue *q, const char *item, size_t len)
{
	struct item *it = item_new(item, len);

	if (!it)
		return -ENOMEM;
	it->next = q->head;
	q->head = it;
	if (q->tail == &q->head)
		q->tail = &it->next;
	q->depth++;
	q->bytes += len + 1;
	/* Its pop may be in an older snapshot, which keeps no counters. */
	if (q->total_out)
		q->total_out--;
	return 0;
}

int queue_peek(const struct queue *q, const char **item, size_t *len)
{
	if (!q->head)
		return q->sealed ? 1 : -EAGAIN;
	*item = q->head->text;
	*len = q->head->len;
	return 0;
}

void queue_drop_head(struct queue *q)
{
	struct item *it = q->head;

	q->head = it->next;
	if (!q->head)
		q->tail = &q->head;
	q->depth--;
	q->bytes -= it->len + 1;
	q->total_out++;
	free(it);
}

void queue_drop_tail(struct queue *q, size_t n)
{
	size_t keep = q->depth - n;
	struct item **link = &q->head;

	for (size_t i = 0; i < keep; i++)
		link = &(*link)->next;
	while (*link) {
		struct item *it = *link;

		*link = it->next;
		q->depth--;
		q->bytes -= it->len + 1;
		q->total_in--;
		free(it);
	}
	q->tail = link;
}

void queue_set_capacity(struct queue *q, size_t capacity)
{
	q->capacity = capacity ? capacity : 1;
}

void queue_seal(struct queue *q, bool sealed)
{
	q->sealed = sealed;
}

void queue_get_stats(const struct queue *q, struct queue_stats *out)
{
	out->depth = q->depth;
	out->bytes = q->bytes;
	out->capacity = q->capacity;
	out->total_in = q->total_in;
	out->total_out = q->total_out;
	out->sealed = q->sealed;
}

void queue_for_each(const struct queue *q,
		    void (*fn)(void *arg, const char *item, size_t len), void *arg)
{
	for (const struct item *it = q->head; it; it = it->next)
		fn(arg, it->text, it->len);
}
