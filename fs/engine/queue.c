/* queue.c - a bounded FIFO of lines and its held items.  See queue.h.
 *
 * Two singly linked lists with tail pointers, of the same item type: the
 * waiting items (pushes append, pops take the head) and the held ones, in
 * pop order.  An item is one allocation with its bytes inline, and moves
 * between the lists by relinking, so pop, ack, return and the end of a
 * session never allocate and never fail for want of memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

struct item {
	struct item *next;
	uint64_t session, reader; /* who holds it; unused while it waits */
	size_t len;
	char text[];
};

struct list {
	struct item *head;
	struct item **tail;
	uint64_t count;
	uint64_t bytes; /* a newline counted per item */
};

struct queue {
	char name[QUEUE_NAME_MAX + 1];
	struct list waiting;
	struct list held;
	uint64_t capacity;
	uint64_t total_in;
	uint64_t total_out;
	bool sealed;
	uint32_t mode; /* always with a write bit: see queue.h */
	uint32_t uid, gid;
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

static void list_init(struct list *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->count = 0;
	l->bytes = 0;
}

static void list_append(struct list *l, struct item *it)
{
	it->next = NULL;
	*l->tail = it;
	l->tail = &it->next;
	l->count++;
	l->bytes += it->len + 1;
}

static void list_prepend(struct list *l, struct item *it)
{
	it->next = l->head;
	l->head = it;
	if (l->tail == &l->head)
		l->tail = &it->next;
	l->count++;
	l->bytes += it->len + 1;
}

/* Unlinks the item *link points at and returns it. */
static struct item *list_unlink(struct list *l, struct item **link)
{
	struct item *it = *link;

	*link = it->next;
	if (l->tail == &it->next)
		l->tail = link;
	l->count--;
	l->bytes -= it->len + 1;
	return it;
}

static void list_release(struct list *l)
{
	while (l->head)
		free(list_unlink(l, &l->head));
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
	list_init(&q->waiting);
	list_init(&q->held);
	q->capacity = capacity ? capacity : 1;
	q->mode = QUEUE_MODE_DEFAULT;
	q->uid = q->gid = QUEUE_OWNER_DAEMON;
	return q;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	list_release(&q->waiting);
	list_release(&q->held);
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
	it->session = 0;
	it->reader = 0;
	it->len = len;
	memcpy(it->text, text, len);
	return it;
}

bool queue_has_room(const struct queue *q, size_t n)
{
	return q->waiting.count + n <= q->capacity;
}

long queue_check_push(const struct queue *q, const char *text, size_t len)
{
	long n = queue_count_items(text, len);

	if (n < 0)
		return n;
	if (q->sealed)
		return -EPIPE;
	if ((uint64_t)n > q->capacity || len > QUEUE_MAX_WRITE)
		return -EFBIG;
	if (!queue_has_room(q, (size_t)n))
		return -EAGAIN;
	return n;
}

static int add_line(void *arg, const char *line, size_t n)
{
	struct item *it = item_new(line, n);

	if (!it)
		return -ENOMEM;
	list_append(arg, it);
	return 0;
}

int queue_push(struct queue *q, const char *text, size_t len)
{
	long n = queue_check_push(q, text, len);
	struct list batch;
	int ret;

	if (n < 0)
		return (int)n;
	/* Built apart first, so that a failed allocation leaves q as it was. */
	list_init(&batch);
	ret = for_each_line(text, len, add_line, &batch);
	if (ret) {
		list_release(&batch);
		return ret;
	}
	*q->waiting.tail = batch.head;
	q->waiting.tail = batch.tail;
	q->waiting.count += batch.count;
	q->waiting.bytes += batch.bytes;
	q->total_in += batch.count;
	return 0;
}

int queue_peek(const struct queue *q, const char **item, size_t *len)
{
	if (!q->waiting.head)
		return q->sealed && !q->held.head ? 1 : -EAGAIN;
	*item = q->waiting.head->text;
	*len = q->waiting.head->len;
	return 0;
}

int queue_check_pop(const struct queue *q, uint64_t room)
{
	const char *item;
	size_t len;
	int ret = queue_peek(q, &item, &len);

	if (ret == 0 && (uint64_t)len + 1 > room)
		return -EMSGSIZE;
	return ret;
}

/* The link to the item held for (session, reader), or NULL. */
static struct item **held_link(struct queue *q, uint64_t session, uint64_t reader)
{
	for (struct item **link = &q->held.head; *link; link = &(*link)->next)
		if ((*link)->session == session && (*link)->reader == reader)
			return link;
	return NULL;
}

int queue_pop(struct queue *q, uint64_t session, uint64_t reader, uint64_t room,
	      const char **item, size_t *len)
{
	struct item *it;
	int ret;

	if (held_link(q, session, reader))
		return -EEXIST;
	ret = queue_check_pop(q, room);
	if (ret)
		return ret;
	it = list_unlink(&q->waiting, &q->waiting.head);
	it->session = session;
	it->reader = reader;
	list_append(&q->held, it);
	*item = it->text;
	*len = it->len;
	return 0;
}

int queue_ack(struct queue *q, uint64_t session, uint64_t reader)
{
	struct item **link = held_link(q, session, reader);

	if (!link)
		return -ENOENT;
	free(list_unlink(&q->held, link));
	q->total_out++;
	return 0;
}

int queue_return(struct queue *q, uint64_t session, uint64_t reader)
{
	struct item **link = held_link(q, session, reader);

	if (!link)
		return -ENOENT;
	list_prepend(&q->waiting, list_unlink(&q->held, link));
	return 0;
}

int queue_add_held(struct queue *q, uint64_t session, uint64_t reader,
		   const char *item, size_t len)
{
	struct item *it;

	if (len > QUEUE_MAX_ITEM)
		return -EMSGSIZE;
	if (len && memchr(item, '\n', len))
		return -EINVAL;
	if (held_link(q, session, reader))
		return -EEXIST;
	it = item_new(item, len);
	if (!it)
		return -ENOMEM;
	it->session = session;
	it->reader = reader;
	list_append(&q->held, it);
	return 0;
}

size_t queue_end_session(struct queue *q, uint64_t session)
{
	struct item **link = &q->held.head;
	struct list back;

	list_init(&back);
	while (*link) {
		if ((*link)->session == session)
			list_append(&back, list_unlink(&q->held, link));
		else
			link = &(*link)->next;
	}
	if (!back.head)
		return 0;
	/* The whole run goes in front of the head, in pop order. */
	*back.tail = q->waiting.head;
	if (!q->waiting.head)
		q->waiting.tail = back.tail;
	q->waiting.head = back.head;
	q->waiting.count += back.count;
	q->waiting.bytes += back.bytes;
	return (size_t)back.count;
}

void queue_set_capacity(struct queue *q, size_t capacity)
{
	q->capacity = capacity ? capacity : 1;
}

void queue_seal(struct queue *q, bool sealed)
{
	q->sealed = sealed;
}

void queue_set_mode(struct queue *q, uint32_t mode)
{
	q->sealed = !(mode & 0222);
	q->mode = q->sealed ? mode | (q->mode & 0222) : mode;
}

void queue_set_owner(struct queue *q, uint32_t uid, uint32_t gid)
{
	q->uid = uid;
	q->gid = gid;
}

void queue_get_stats(const struct queue *q, struct queue_stats *out)
{
	out->depth = q->waiting.count;
	out->bytes = q->waiting.bytes;
	out->held = q->held.count;
	out->held_bytes = q->held.bytes;
	out->capacity = q->capacity;
	out->total_in = q->total_in;
	out->total_out = q->total_out;
	out->sealed = q->sealed;
	out->mode = q->mode;
	out->uid = q->uid;
	out->gid = q->gid;
}

int queue_for_each(const struct queue *q,
		   int (*fn)(void *arg, const char *item, size_t len), void *arg)
{
	for (const struct item *it = q->waiting.head; it; it = it->next) {
		int ret = fn(arg, it->text, it->len);

		if (ret)
			return ret;
	}
	return 0;
}

int queue_for_each_held(const struct queue *q,
			int (*fn)(void *arg, uint64_t session, uint64_t reader,
				  const char *item, size_t len),
			void *arg)
{
	for (const struct item *it = q->held.head; it; it = it->next) {
		int ret = fn(arg, it->session, it->reader, it->text, it->len);

		if (ret)
			return ret;
	}
	return 0;
}
