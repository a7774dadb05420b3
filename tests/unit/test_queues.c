/* test_queues.c - unit tests of the registry of queues (fs/engine/queues.h):
 * creation, lookups by name, id and position, the limits (QUEUES_MAX,
 * QUEUES_MAX_BYTES), every apply function and every refusal (each leaves
 * the registry as it was), records by the id of a queue made again under
 * its name, held items across queues and the end of a
 * session, and queues_dump: its records, their bounds, and applied into a
 * fresh registry, the same queues again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "textbuf.h"

#include "queues.h"
#include "record.h"

/* A string of n copies of ch (the caller frees). */
static char *repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* ---- helpers: the registry -------------------------------------------- */

/* The id the next create gives, as the log position of its record would:
 * 1, 2, ... in each test (setup_registry starts again). */
static uint64_t last_id;

static uint64_t next_id(void)
{
	return ++last_id;
}

/* The id of the queue called name (len bytes), or 0 (no queue has it). */
static uint64_t id_of(const struct queues *qs, const char *name, size_t len)
{
	struct queue *q = queues_by_name(qs, name, len);

	return q ? queues_id(qs, q) : 0;
}

static int create(struct queues *qs, const char *name, uint64_t capacity)
{
	return queues_apply_create(qs, next_id(), name, strlen(name), capacity);
}

static uint64_t create_ok(struct queues *qs, const char *name, uint64_t capacity)
{
	uint64_t id = next_id();
	int rc = queues_apply_create(qs, id, name, strlen(name), capacity);

	if (rc != 0)
		fail_msg("create \"%s\": rc %d", name, rc);
	return id;
}

static int delete(struct queues *qs, const char *name)
{
	return queues_apply_delete(qs, id_of(qs, name, strlen(name)), name, strlen(name));
}

static int push_len(struct queues *qs, const char *name, const char *text, size_t len)
{
	return queues_apply_push(qs, id_of(qs, name, strlen(name)), name, strlen(name), text, len);
}

static int push(struct queues *qs, const char *name, const char *text)
{
	return push_len(qs, name, text, strlen(text));
}

static void push_ok(struct queues *qs, const char *name, const char *text)
{
	int rc = push(qs, name, text);

	if (rc != 0)
		fail_msg("push \"%.40s\" onto %s: rc %d", text, name, rc);
}

static int pop(struct queues *qs, const char *name, uint64_t session, uint64_t reader,
	       uint64_t room)
{
	const char *item;
	size_t len;

	return queues_apply_pop(qs, id_of(qs, name, strlen(name)), name, strlen(name), session,
				reader, room, &item, &len);
}

/* Pops for (session, reader), and the item must be want; it stays held. */
static void hold_expect(struct queues *qs, const char *name, uint64_t session,
			uint64_t reader, const char *want)
{
	const char *item = NULL;
	size_t len = 99999;
	uint64_t id = id_of(qs, name, strlen(name));
	int rc = queues_apply_pop(qs, id, name, strlen(name), session, reader, UINT64_MAX, &item,
				  &len);

	if (rc != 0)
		fail_msg("pop of \"%s\" from %s: rc %d", want, name, rc);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(item, want, len);
}

static int ack(struct queues *qs, const char *name, uint64_t session, uint64_t reader)
{
	return queues_apply_ack(qs, id_of(qs, name, strlen(name)), name, strlen(name), session,
				reader);
}

static int give_back(struct queues *qs, const char *name, uint64_t session,
		     uint64_t reader)
{
	return queues_apply_return(qs, id_of(qs, name, strlen(name)), name, strlen(name),
				   session, reader);
}

/* Pops and acknowledges the head item, which must be want. */
static void pop_expect(struct queues *qs, const char *name, const char *want)
{
	hold_expect(qs, name, 1, 1, want);
	assert_int_equal(ack(qs, name, 1, 1), 0);
}

static int seal(struct queues *qs, const char *name, bool sealed)
{
	return queues_apply_seal(qs, id_of(qs, name, strlen(name)), name, strlen(name), sealed);
}

static int set_capacity(struct queues *qs, const char *name, uint64_t capacity)
{
	return queues_apply_capacity(qs, id_of(qs, name, strlen(name)), name, strlen(name),
				     capacity);
}

static int held(struct queues *qs, const char *name, uint64_t session, uint64_t reader,
		const char *item, size_t len)
{
	return queues_apply_held(qs, id_of(qs, name, strlen(name)), name, strlen(name), session,
				 reader, item, len);
}

static struct queue *must_find(struct queues *qs, const char *name)
{
	struct queue *q = queues_by_name(qs, name, strlen(name));

	if (!q)
		fail_msg("no queue \"%s\"", name);
	return q;
}

static struct queue_stats stats(struct queues *qs, const char *name)
{
	struct queue_stats st;

	queue_get_stats(must_find(qs, name), &st);
	return st;
}

static int describe_item(void *arg, const char *item, size_t len)
{
	buf_escaped(arg, item, len);
	return 0;
}

static int describe_held(void *arg, uint64_t session, uint64_t reader, const char *item,
			 size_t len)
{
	buf_printf(arg, "%llu/%llu", (unsigned long long)session, (unsigned long long)reader);
	buf_escaped(arg, item, len);
	return 0;
}

/* One queue as text: name, capacity, seal, depth, bytes, items, held. */
static void describe_queue(struct buf *b, const struct queue *q)
{
	struct queue_stats st;

	queue_get_stats(q, &st);
	buf_printf(b, "%s cap=%llu sealed=%d depth=%llu bytes=%llu items=", queue_name(q),
		   (unsigned long long)st.capacity, st.sealed, (unsigned long long)st.depth,
		   (unsigned long long)st.bytes);
	queue_for_each(q, describe_item, b);
	buf_printf(b, " held=%llu:", (unsigned long long)st.held);
	queue_for_each_held(q, describe_held, b);
	buf_add(b, "\n", 1);
}

static char *describe_one(const struct queue *q)
{
	struct buf b = { 0 };

	buf_add(&b, "", 0);
	describe_queue(&b, q);
	return b.text;
}

static void expect_description(struct queues *qs, const char *name, const char *want)
{
	char *got = describe_one(must_find(qs, name));

	if (strcmp(got, want) != 0)
		fail_msg("queue is\n  %s want\n  %s", got, want);
	free(got);
}

/* ---- helpers: dumps ---------------------------------------------------- */

static const char *kind_name(enum record_kind kind)
{
	switch (kind) {
	case RECORD_QUEUE_CREATE: return "CREATE";
	case RECORD_QUEUE_PUSH: return "PUSH";
	case RECORD_QUEUE_RETURN: return "RETURN";
	case RECORD_QUEUE_HELD: return "HELD";
	case RECORD_QUEUE_CAPACITY: return "CAPACITY";
	case RECORD_QUEUE_SEAL: return "SEAL";
	default: return NULL;
	}
}

/* What every dumped record must be: a queue kind, no proposer, a valid
 * name, data only where the kind has some and within its bounds. */
static void check_record(const struct record *r)
{
	if (!kind_name(r->kind))
		fail_msg("dump emitted kind %d", r->kind);
	assert_int_equal(r->session, 0);
	assert_int_equal(r->seq, 0);
	assert_int_equal(r->time_ns, 0);
	assert_int_equal(r->pid, 0);
	assert_true(queue_name_valid(r->name.data, r->name.len));
	if (r->kind == RECORD_QUEUE_PUSH) {
		assert_true(r->data.len > 0 && r->data.len <= QUEUE_MAX_WRITE);
		assert_int_equal(((const char *)r->data.data)[r->data.len - 1], '\n');
	} else if (r->kind == RECORD_QUEUE_HELD) {
		assert_true(r->data.len <= QUEUE_MAX_ITEM);
	} else {
		assert_int_equal(r->data.len, 0);
	}
}

/* Serialises a record as one line: kind, name, id, u, v, data. */
static void serialise(struct buf *b, const struct record *r)
{
	buf_printf(b, "%s ", kind_name(r->kind));
	buf_add(b, r->name.data, r->name.len);
	buf_printf(b, " #%llu u=%llu v=%llu ", (unsigned long long)r->queue,
		   (unsigned long long)r->u, (unsigned long long)r->v);
	buf_escaped(b, r->data.data, r->data.len);
	buf_add(b, "\n", 1);
}

struct dumped {
	struct buf text;
	unsigned records;
	unsigned kinds[RECORD_KIND_END];
};

static int emit_text(void *arg, const struct record *r)
{
	struct dumped *d = arg;

	check_record(r);
	serialise(&d->text, r);
	d->records++;
	d->kinds[r->kind]++;
	return 0;
}

/* The dump of qs, serialised (the caller frees). */
static char *dump_text(const struct queues *qs)
{
	struct dumped d = { { 0 }, 0, { 0 } };

	buf_add(&d.text, "", 0);
	assert_int_equal(queues_dump(qs, emit_text, &d), 0);
	return d.text.text;
}

/* Applies a record as the engine would: session = the proposer's, except
 * for HELD (v). */
static int apply_record(struct queues *qs, const struct record *r)
{
	const char *name = r->name.data, *item;
	size_t len = r->name.len, item_len;
	uint64_t id = r->queue;

	switch (r->kind) {
	case RECORD_QUEUE_CREATE:
		return queues_apply_create(qs, id, name, len, r->u);
	case RECORD_QUEUE_DELETE:
		return queues_apply_delete(qs, id, name, len);
	case RECORD_QUEUE_PUSH:
		return queues_apply_push(qs, id, name, len, r->data.data, r->data.len);
	case RECORD_QUEUE_POP:
		return queues_apply_pop(qs, id, name, len, r->session, r->u, r->v, &item,
					&item_len);
	case RECORD_QUEUE_ACK:
		return queues_apply_ack(qs, id, name, len, r->session, r->u);
	case RECORD_QUEUE_RETURN:
		return queues_apply_return(qs, id, name, len, r->session, r->u);
	case RECORD_QUEUE_SEAL:
		return queues_apply_seal(qs, id, name, len, r->u != 0);
	case RECORD_QUEUE_CAPACITY:
		return queues_apply_capacity(qs, id, name, len, r->u);
	case RECORD_QUEUE_HELD:
		return queues_apply_held(qs, id, name, len, r->v, r->u, r->data.data,
					 r->data.len);
	default:
		return -EINVAL;
	}
}

struct replay {
	struct queues *into;
	char why[256];
	/* The capacity the queue at hand was created with, and its records'
	 * item counts against it. */
	uint64_t created_capacity;
};

static int emit_apply(void *arg, const struct record *r)
{
	struct replay *p = arg;
	int rc;

	check_record(r);
	if (r->kind == RECORD_QUEUE_CREATE)
		p->created_capacity = r->u;
	if (r->kind == RECORD_QUEUE_PUSH &&
	    (uint64_t)queue_count_items(r->data.data, r->data.len) > p->created_capacity)
		snprintf(p->why, sizeof(p->why), "a PUSH of more items than capacity %llu",
			 (unsigned long long)p->created_capacity);
	rc = apply_record(p->into, r);
	if (rc && !p->why[0])
		snprintf(p->why, sizeof(p->why), "%s %.*s u=%llu: rc %d", kind_name(r->kind),
			 (int)r->name.len, (const char *)r->name.data, (unsigned long long)r->u, rc);
	return 0;
}

/* Dumps qs into a fresh registry and checks that it dumps the same;
 * returns the fresh one.  (Frees what it made before failing, so that a
 * failure is not also a leak report.) */
static struct queues *roundtrip(const struct queues *qs)
{
	struct replay p = { .into = queues_new(queues_default_capacity(qs)) };
	char *want, *got;

	assert_non_null(p.into);
	assert_int_equal(queues_dump(qs, emit_apply, &p), 0);
	want = dump_text(qs);
	got = dump_text(p.into);
	if (!p.why[0] && strcmp(want, got) != 0)
		snprintf(p.why, sizeof(p.why), "dump applied dumps\n%.100s\nwant\n%.100s", got,
			 want);
	if (!p.why[0] && queues_bytes(p.into) != queues_bytes(qs))
		snprintf(p.why, sizeof(p.why), "dump applied holds %llu bytes, want %llu",
			 (unsigned long long)queues_bytes(p.into),
			 (unsigned long long)queues_bytes(qs));
	free(want);
	free(got);
	if (p.why[0]) {
		queues_free(p.into);
		fail_msg("%s", p.why);
	}
	return p.into;
}

static int setup_registry(void **state)
{
	last_id = 0;
	*state = queues_new(QUEUES_DEFAULT_CAPACITY);
	return *state ? 0 : -1;
}

static int teardown_registry(void **state)
{
	queues_free(*state);
	return 0;
}

/* ---- the registry ----------------------------------------------------- */

static void test_new_bounds(void **state)
{
	struct queues *qs;

	(void)state;
	assert_null(queues_new(0));
	assert_null(queues_new(QUEUES_MAX_CAPACITY + 1));
	qs = queues_new(1);
	assert_non_null(qs);
	assert_int_equal(queues_default_capacity(qs), 1);
	queues_free(qs);
	qs = queues_new(QUEUES_MAX_CAPACITY);
	assert_non_null(qs);
	assert_int_equal(queues_default_capacity(qs), QUEUES_MAX_CAPACITY);
	assert_null(queues_at(qs, 0));
	assert_int_equal(queues_bytes(qs), 0);
	queues_free(qs);
	queues_free(NULL);
}

static void test_create_and_lookups(void **state)
{
	struct queues *qs = *state;
	struct queue *a, *b, *c;
	uint64_t ida, idb, idc, id;

	ida = create_ok(qs, "alpha", 5);
	idb = create_ok(qs, "beta", QUEUES_MAX_CAPACITY);
	idc = create_ok(qs, "gamma", 1);
	a = must_find(qs, "alpha");
	b = must_find(qs, "beta");
	c = must_find(qs, "gamma");
	expect_description(qs, "alpha", "alpha cap=5 sealed=0 depth=0 bytes=0 items= held=0:\n");
	expect_description(qs, "beta", "beta cap=100000 sealed=0 depth=0 bytes=0 items= held=0:\n");
	expect_description(qs, "gamma", "gamma cap=1 sealed=0 depth=0 bytes=0 items= held=0:\n");

	/* Lookups by name use len bytes only, and need the whole name. */
	assert_ptr_equal(queues_by_name(qs, "alphabet", 5), a);
	assert_null(queues_by_name(qs, "alph", 4));
	assert_null(queues_by_name(qs, "ALPHA", 5));
	assert_null(queues_by_name(qs, "delta", 5));

	/* Ids: distinct, non-zero, found again, what create said. */
	assert_true(ida != 0 && idb != 0 && idc != 0);
	assert_true(ida != idb && idb != idc && ida != idc);
	assert_int_equal(queues_id(qs, a), ida);
	assert_int_equal(queues_id(qs, b), idb);
	assert_int_equal(queues_id(qs, c), idc);
	assert_ptr_equal(queues_by_id(qs, ida), a);
	assert_ptr_equal(queues_by_id(qs, idb), b);
	assert_ptr_equal(queues_by_id(qs, idc), c);
	assert_null(queues_by_id(qs, 0));
	assert_null(queues_by_id(qs, 12345));

	/* Creation order. */
	assert_ptr_equal(queues_at(qs, 0), a);
	assert_ptr_equal(queues_at(qs, 1), b);
	assert_ptr_equal(queues_at(qs, 2), c);
	assert_null(queues_at(qs, 3));

	/* A deleted queue's id is never reused, even for the same name. */
	assert_int_equal(queues_apply_delete(qs, idb, "beta", 4), 0);
	assert_null(queues_by_name(qs, "beta", 4));
	assert_null(queues_by_id(qs, idb));
	assert_ptr_equal(queues_at(qs, 0), a);
	assert_ptr_equal(queues_at(qs, 1), c);
	assert_null(queues_at(qs, 2));
	id = create_ok(qs, "beta", 7);
	b = must_find(qs, "beta");
	assert_int_equal(queues_id(qs, b), id);
	assert_true(id != idb && id != ida && id != idc);
	assert_null(queues_by_id(qs, idb));
	assert_ptr_equal(queues_at(qs, 2), b);
	expect_description(qs, "beta", "beta cap=7 sealed=0 depth=0 bytes=0 items= held=0:\n");
	/* The others are untouched. */
	assert_ptr_equal(queues_by_id(qs, ida), a);
	assert_ptr_equal(queues_by_id(qs, idc), c);
}

static void test_check_create(void **state)
{
	struct queues *qs = *state;
	char *n64 = repeat('n', 64), *n65 = repeat('n', 65);

	assert_int_equal(queues_check_create(qs, "jobs", 4), 0);
	assert_int_equal(queues_check_create(qs, n64, 64), 0);
	assert_int_equal(queues_check_create(qs, n65, 65), -EINVAL);
	assert_int_equal(queues_check_create(qs, "", 0), -EINVAL);
	assert_int_equal(queues_check_create(qs, ".", 1), -EINVAL);
	assert_int_equal(queues_check_create(qs, "..", 2), -EINVAL);
	assert_int_equal(queues_check_create(qs, "a b", 3), -EINVAL);
	assert_int_equal(queues_check_create(qs, "a/b", 3), -EINVAL);
	/* Checking creates nothing. */
	assert_null(queues_at(qs, 0));
	create_ok(qs, "jobs", 3);
	assert_int_equal(queues_check_create(qs, "jobs", 4), -EEXIST);
	assert_int_equal(queues_check_create(qs, "jobs2", 5), 0);
	assert_int_equal(queues_check_create(qs, "job", 3), 0);
	free(n64);
	free(n65);
}

static void test_queues_max(void **state)
{
	struct queues *qs = *state;
	char name[16], *before, *after;

	for (int i = 0; i < QUEUES_MAX; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		create_ok(qs, name, 2);
	}
	assert_non_null(queues_at(qs, QUEUES_MAX - 1));
	assert_null(queues_at(qs, QUEUES_MAX));
	before = dump_text(qs);
	assert_int_equal(queues_check_create(qs, "one-more", 8), -ENOSPC);
	assert_int_equal(create(qs, "one-more", 2), -ENOSPC);
	/* A bad name or an existing one is said first. */
	assert_int_equal(create(qs, "a b", 2), -EINVAL);
	assert_int_equal(create(qs, "q7", 2), -EEXIST);
	after = dump_text(qs);
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* Every one of them is found by name and id. */
	for (int i = 0; i < QUEUES_MAX; i++) {
		struct queue *q;

		snprintf(name, sizeof(name), "q%d", i);
		q = must_find(qs, name);
		assert_ptr_equal(queues_by_id(qs, queues_id(qs, q)), q);
		assert_ptr_equal(queues_at(qs, (size_t)i), q);
	}
	/* One gone: room for one. */
	assert_int_equal(delete(qs, "q500"), 0);
	assert_int_equal(queues_check_create(qs, "one-more", 8), 0);
	create_ok(qs, "one-more", 2);
	assert_ptr_equal(queues_at(qs, QUEUES_MAX - 1), must_find(qs, "one-more"));
	assert_int_equal(queues_check_create(qs, "two-more", 8), -ENOSPC);
}

/* ---- applying --------------------------------------------------------- */

static void test_apply_every_operation(void **state)
{
	struct queues *qs = *state;

	create_ok(qs, "jobs", 3);
	push_ok(qs, "jobs", "first item\n\n two  spaces ");
	expect_description(qs, "jobs",
			   "jobs cap=3 sealed=0 depth=3 bytes=26 items=[first item][][ two  spaces ] held=0:\n");
	hold_expect(qs, "jobs", 4, 1, "first item");
	hold_expect(qs, "jobs", 4, 2, "");
	expect_description(qs, "jobs",
			   "jobs cap=3 sealed=0 depth=1 bytes=14 items=[ two  spaces ] held=2:4/1[first item]4/2[]\n");
	assert_int_equal(queues_bytes(qs), 26);
	push_ok(qs, "jobs", "over\n");
	assert_int_equal(ack(qs, "jobs", 4, 2), 0);
	assert_int_equal(give_back(qs, "jobs", 4, 1), 0);
	expect_description(qs, "jobs",
			   "jobs cap=3 sealed=0 depth=3 bytes=30 items=[first item][ two  spaces ][over] held=0:\n");
	assert_int_equal(seal(qs, "jobs", true), 0);
	assert_int_equal(seal(qs, "jobs", true), 0); /* twice is fine */
	expect_description(qs, "jobs",
			   "jobs cap=3 sealed=1 depth=3 bytes=30 items=[first item][ two  spaces ][over] held=0:\n");
	assert_int_equal(set_capacity(qs, "jobs", QUEUES_MAX_CAPACITY), 0);
	assert_int_equal(push(qs, "jobs", "x"), -EPIPE);
	assert_int_equal(seal(qs, "jobs", false), 0);
	push_ok(qs, "jobs", "after");
	assert_int_equal(set_capacity(qs, "jobs", 1), 0);
	assert_int_equal(held(qs, "jobs", 9, 9, "loaded", 6), 0);
	expect_description(qs, "jobs",
			   "jobs cap=1 sealed=0 depth=4 bytes=36 items=[first item][ two  spaces ][over][after] held=1:9/9[loaded]\n");
	assert_int_equal(queues_end_session(qs, 9), 1);
	assert_int_equal(seal(qs, "jobs", true), 0);
	pop_expect(qs, "jobs", "loaded");
	pop_expect(qs, "jobs", "first item");
	pop_expect(qs, "jobs", " two  spaces ");
	pop_expect(qs, "jobs", "over");
	pop_expect(qs, "jobs", "after");
	assert_int_equal(pop(qs, "jobs", 1, 1, 100), 1);
	expect_description(qs, "jobs", "jobs cap=1 sealed=1 depth=0 bytes=0 items= held=0:\n");
	assert_int_equal(delete(qs, "jobs"), 0);
	assert_null(queues_at(qs, 0));
	assert_int_equal(queues_bytes(qs), 0);
}

enum op { CREATE, DELETE, PUSH, POP, ACK, RETURN, SEAL, CAPACITY, HELD, END };

static int run_op(struct queues *qs, enum op op, const char *name, size_t name_len,
		  uint64_t session, uint64_t a, uint64_t b, const char *data, size_t len)
{
	uint64_t id = op == CREATE ? next_id() : id_of(qs, name, name_len);
	const char *item;
	size_t item_len;

	switch (op) {
	case CREATE: return queues_apply_create(qs, id, name, name_len, a);
	case DELETE: return queues_apply_delete(qs, id, name, name_len);
	case PUSH: return queues_apply_push(qs, id, name, name_len, data, len);
	case POP:
		return queues_apply_pop(qs, id, name, name_len, session, a, b, &item,
					&item_len);
	case ACK: return queues_apply_ack(qs, id, name, name_len, session, a);
	case RETURN: return queues_apply_return(qs, id, name, name_len, session, a);
	case SEAL: return queues_apply_seal(qs, id, name, name_len, a != 0);
	case CAPACITY: return queues_apply_capacity(qs, id, name, name_len, a);
	case HELD: return queues_apply_held(qs, id, name, name_len, session, a, data, len);
	case END: return (int)queues_end_session(qs, session);
	}
	return -EINVAL;
}

/* Every refusal, and every operation that does nothing, leaves the
 * registry as it was: its dump is the same before and after. */
static void test_refusals_change_nothing(void **state)
{
	static const struct {
		enum op op;
		const char *name;
		uint64_t session, a, b; /* a: capacity, reader or seal; b: room */
		const char *data;
		int rc;
	} cases[] = {
		{ CREATE, "", 0, 5, 0, NULL, -EINVAL },
		{ CREATE, "..", 0, 5, 0, NULL, -EINVAL },
		{ CREATE, "a/b", 0, 5, 0, NULL, -EINVAL },
		{ CREATE, "new", 0, 0, 0, NULL, -EINVAL },
		{ CREATE, "new", 0, QUEUES_MAX_CAPACITY + 1, 0, NULL, -EINVAL },
		{ CREATE, "new", 0, UINT64_MAX, 0, NULL, -EINVAL },
		{ CREATE, "q", 0, 5, 0, NULL, -EEXIST },
		{ CREATE, "q", 0, 0, 0, NULL, -EINVAL }, /* the capacity is said first */
		{ DELETE, "nosuch", 0, 0, 0, NULL, -ENOENT },
		{ DELETE, "", 0, 0, 0, NULL, -ENOENT },
		{ PUSH, "nosuch", 0, 0, 0, "a", -ENOENT },
		{ PUSH, "q", 0, 0, 0, "", -EINVAL },
		{ PUSH, "q", 0, 0, 0, "a\nb", -EAGAIN },
		{ PUSH, "q", 0, 0, 0, "1\n2\n3\n4", -EFBIG },
		{ PUSH, "sealed", 0, 0, 0, "a", -EPIPE },
		{ PUSH, "sealed", 0, 0, 0, "", -EINVAL },
		{ POP, "nosuch", 1, 9, 100, NULL, -ENOENT },
		{ POP, "q", 1, 1, 100, NULL, -EEXIST },  /* (1, 1) holds "x" */
		{ POP, "q", 2, 1, 0, NULL, -EMSGSIZE },
		{ POP, "q", 2, 1, 1, NULL, -EMSGSIZE }, /* "y\n" needs 2 */
		{ POP, "empty", 2, 1, 100, NULL, -EAGAIN },
		{ POP, "sealed", 1, 1, 100, NULL, -EAGAIN }, /* its last item is held */
		{ ACK, "nosuch", 1, 1, 0, NULL, -ENOENT },
		{ ACK, "q", 1, 2, 0, NULL, -ENOENT },
		{ ACK, "q", 2, 1, 0, NULL, -ENOENT },
		{ ACK, "empty", 1, 1, 0, NULL, -ENOENT },
		{ RETURN, "nosuch", 1, 1, 0, NULL, -ENOENT },
		{ RETURN, "q", 0, 1, 0, NULL, -ENOENT },
		{ SEAL, "nosuch", 0, 1, 0, NULL, -ENOENT },
		{ SEAL, "sealed", 0, 1, 0, NULL, 0 },
		{ CAPACITY, "nosuch", 0, 5, 0, NULL, -ENOENT },
		{ CAPACITY, "q", 0, 0, 0, NULL, -EINVAL },
		{ CAPACITY, "q", 0, QUEUES_MAX_CAPACITY + 1, 0, NULL, -EINVAL },
		{ CAPACITY, "q", 0, 3, 0, NULL, 0 },
		{ HELD, "nosuch", 1, 5, 0, "a", -ENOENT },
		{ HELD, "q", 1, 1, 0, "a", -EEXIST },
		{ END, "", 99, 0, 0, NULL, 0 },
	};
	struct queues *qs = *state;
	char *before, *after;

	create_ok(qs, "q", 3);
	push_ok(qs, "q", "x\ny\nz");
	hold_expect(qs, "q", 1, 1, "x");
	create_ok(qs, "empty", 5);
	create_ok(qs, "sealed", 2);
	push_ok(qs, "sealed", "s");
	hold_expect(qs, "sealed", 7, 7, "s");
	assert_int_equal(seal(qs, "sealed", true), 0);
	before = dump_text(qs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *data = cases[i].data ? cases[i].data : "";
		int rc = run_op(qs, cases[i].op, cases[i].name, strlen(cases[i].name),
				cases[i].session, cases[i].a, cases[i].b, data, strlen(data));

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].name, rc, cases[i].rc);
		after = dump_text(qs);
		if (strcmp(before, after) != 0)
			fail_msg("case %zu (%s) changed\n%s into\n%s", i, cases[i].name, before, after);
		free(after);
	}
	free(before);
}

/* Oversized input, as a damaged journal or a fuzzer may carry it: refused,
 * nothing changed, nothing overflowed. */
static void test_oversized_input_refused(void **state)
{
	struct queues *qs = *state;
	char *huge = repeat('h', 20000), *name = repeat('n', RECORD_MAX_NAME);
	size_t write_len = QUEUE_MAX_WRITE + 1, pos;
	char *write = malloc(write_len);
	char *before, *after;
	uint64_t id;

	assert_non_null(write);
	id = create_ok(qs, "q", QUEUES_MAX_CAPACITY);
	push_ok(qs, "q", "keep");
	before = dump_text(qs);
	assert_int_equal(push(qs, "q", huge), -EMSGSIZE);
	assert_int_equal(held(qs, "q", 1, 1, huge, 20000), -EMSGSIZE);
	/* Good items around the huge one: none enters. */
	memcpy(huge, "ok\n", 3);
	huge[10000] = '\n';
	assert_int_equal(push(qs, "q", huge), -EMSGSIZE);
	/* Items that each fit, in a write longer than QUEUE_MAX_WRITE. */
	memset(write, 'w', write_len);
	for (pos = QUEUE_MAX_ITEM; pos < write_len; pos += QUEUE_MAX_ITEM + 1)
		write[pos] = '\n';
	assert_true(queue_count_items(write, write_len) > 0);
	assert_int_equal(queues_apply_push(qs, id, "q", 1, write, write_len), -EFBIG);
	/* The longest name a record carries names no queue. */
	assert_int_equal(queues_apply_create(qs, next_id(), name, RECORD_MAX_NAME, 5), -EINVAL);
	assert_int_equal(queues_apply_push(qs, id, name, RECORD_MAX_NAME, "a", 1), -ENOENT);
	/* Bytes past len do not count; a NUL in a name is not a name. */
	assert_int_equal(queues_apply_push(qs, id, "q\0", 2, "a", 1), -ENOENT);
	assert_int_equal(queues_apply_create(qs, next_id(), "q\0x", 3, 5), -EINVAL);
	after = dump_text(qs);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(huge);
	free(name);
	free(write);
}

/* A record for a queue that was deleted, carrying its id, does not reach
 * the queue made since under the same name: refused, nothing changed. */
static void test_recreated_queue_refuses_old_id(void **state)
{
	struct queues *qs = *state;
	const char *item;
	uint64_t old, new;
	char *before, *after;
	size_t len;

	old = create_ok(qs, "q", 5);
	push_ok(qs, "q", "old");
	assert_int_equal(delete(qs, "q"), 0);
	new = create_ok(qs, "q", 5);
	push_ok(qs, "q", "new");
	hold_expect(qs, "q", 1, 1, "new");
	push_ok(qs, "q", "next");
	before = dump_text(qs);
	assert_int_equal(queues_apply_push(qs, old, "q", 1, "a", 1), -ENOENT);
	assert_int_equal(queues_apply_pop(qs, old, "q", 1, 1, 2, 100, &item, &len), -ENOENT);
	assert_int_equal(queues_apply_ack(qs, old, "q", 1, 1, 1), -ENOENT);
	assert_int_equal(queues_apply_return(qs, old, "q", 1, 1, 1), -ENOENT);
	assert_int_equal(queues_apply_seal(qs, old, "q", 1, true), -ENOENT);
	assert_int_equal(queues_apply_capacity(qs, old, "q", 1, 9), -ENOENT);
	assert_int_equal(queues_apply_held(qs, old, "q", 1, 2, 2, "h", 1), -ENOENT);
	assert_int_equal(queues_apply_delete(qs, old, "q", 1), -ENOENT);
	/* The id must come with its own name. */
	create_ok(qs, "other", 5);
	assert_int_equal(queues_apply_push(qs, new, "other", 5, "a", 1), -ENOENT);
	assert_int_equal(queues_apply_delete(qs, new, "other", 5), -ENOENT);
	assert_int_equal(delete(qs, "other"), 0);
	after = dump_text(qs);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(queues_apply_ack(qs, new, "q", 1, 1, 1), 0);
	assert_int_equal(queues_apply_delete(qs, new, "q", 1), 0);
}

/* An id is given once, in increasing order: a create with an id not
 * greater than every id given is refused, even after those queues went. */
static void test_create_refuses_old_ids(void **state)
{
	struct queues *qs = *state;

	assert_int_equal(queues_apply_create(qs, 0, "zero", 4, 5), -EINVAL);
	assert_int_equal(queues_apply_create(qs, 10, "a", 1, 5), 0);
	assert_int_equal(queues_apply_create(qs, 10, "b", 1, 5), -EINVAL);
	assert_int_equal(queues_apply_create(qs, 7, "b", 1, 5), -EINVAL);
	assert_int_equal(queues_apply_create(qs, 12, "b", 1, 5), 0);
	assert_int_equal(queues_apply_delete(qs, 12, "b", 1), 0);
	assert_int_equal(queues_apply_create(qs, 12, "b", 1, 5), -EINVAL);
	assert_int_equal(queues_apply_create(qs, 11, "c", 1, 5), -EINVAL);
	assert_null(queues_by_name(qs, "b", 1));
	assert_null(queues_at(qs, 1));
	assert_int_equal(queues_apply_create(qs, 13, "b", 1, 5), 0);
	assert_ptr_equal(queues_by_id(qs, 13), queues_at(qs, 1));
	assert_null(queues_by_id(qs, 12));
}

/* A held item is one a push could have made: a newline in it would come
 * back from a snapshot as two items.  An empty one is fine ("\n" pushes
 * one). */
static void test_held_takes_pushable_items(void **state)
{
	struct queues *qs = *state;
	char *before, *after;

	create_ok(qs, "q", 5);
	push_ok(qs, "q", "\n");
	hold_expect(qs, "q", 1, 1, "");
	before = dump_text(qs);
	assert_int_equal(held(qs, "q", 2, 1, "a\nb", 3), -EINVAL);
	assert_int_equal(held(qs, "q", 2, 1, "a\n", 2), -EINVAL);
	assert_int_equal(held(qs, "q", 2, 1, "\n", 1), -EINVAL);
	after = dump_text(qs);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(held(qs, "q", 2, 1, "", 0), 0);
	assert_int_equal(held(qs, "q", 2, 2, "a\0b", 3), 0);
	assert_int_equal(stats(qs, "q").held, 3);
	queues_free(roundtrip(qs));
}

/* Only len bytes of a name or of the items count. */
static void test_apply_uses_len(void **state)
{
	struct queues *qs = *state;
	uint64_t id;

	id = next_id();
	assert_int_equal(queues_apply_create(qs, id, "q12345", 1, 1), 0);
	assert_int_equal(queues_apply_push(qs, id, "qrs", 1, "abcdef", 2), 0);
	expect_description(qs, "q", "q cap=1 sealed=0 depth=1 bytes=3 items=[ab] held=0:\n");
	assert_int_equal(set_capacity(qs, "q", 2), 0);
	/* A NUL inside an item is an ordinary byte. */
	assert_int_equal(queues_apply_push(qs, id, "q", 1, "a\0b", 3), 0);
	expect_description(qs, "q", "q cap=2 sealed=0 depth=2 bytes=7 items=[ab][a\\x00b] held=0:\n");
}

static void test_check_push(void **state)
{
	struct queues *qs = *state;
	char *big = repeat('b', QUEUE_MAX_ITEM + 1), *max = repeat('m', QUEUE_MAX_ITEM);
	struct queue *q;
	char *before, *after;

	create_ok(qs, "q", 3);
	q = must_find(qs, "q");
	push_ok(qs, "q", "one");
	before = dump_text(qs);
	assert_int_equal(queues_check_push(qs, q, "a\nb", 3), 0);
	assert_int_equal(queues_check_push(qs, q, "a\nb\n", 4), 0);
	assert_int_equal(queues_check_push(qs, q, "a\nb\nc", 5), -EAGAIN);
	assert_int_equal(queues_check_push(qs, q, "a\nb\nc\nd", 7), -EFBIG);
	assert_int_equal(queues_check_push(qs, q, "", 0), -EINVAL);
	assert_int_equal(queues_check_push(qs, q, big, strlen(big)), -EMSGSIZE);
	assert_int_equal(queues_check_push(qs, q, max, strlen(max)), 0);
	assert_int_equal(seal(qs, "q", true), 0);
	assert_int_equal(queues_check_push(qs, q, "a", 1), -EPIPE);
	assert_int_equal(seal(qs, "q", false), 0);
	/* Checking changes nothing. */
	after = dump_text(qs);
	assert_string_equal(before, after);
	free(after);
	free(before);
	free(big);
	free(max);
}

/* Pushes whole QUEUE_MAX_ITEM items onto name until n are in. */
static void fill(struct queues *qs, const char *name, size_t n)
{
	const size_t per_push = 200, cost = QUEUE_MAX_ITEM + 1;
	char *text = malloc(per_push * cost);

	assert_non_null(text);
	for (size_t i = 0; i < per_push; i++) {
		memset(text + i * cost, 'i', QUEUE_MAX_ITEM);
		text[i * cost + QUEUE_MAX_ITEM] = '\n';
	}
	while (n > 0) {
		size_t k = n < per_push ? n : per_push;

		assert_int_equal(push_len(qs, name, text, k * cost), 0);
		n -= k;
	}
	free(text);
}

static void test_total_bytes_limit(void **state)
{
	struct queues *qs = *state;
	const size_t item_cost = QUEUE_MAX_ITEM + 1;
	const size_t full = QUEUES_MAX_BYTES / item_cost; /* whole items that fit */
	char *item = repeat('i', QUEUE_MAX_ITEM);
	struct queue *q, *other;
	char *before, *after;
	size_t rest;

	create_ok(qs, "big", QUEUES_MAX_CAPACITY);
	create_ok(qs, "other", 10);
	q = must_find(qs, "big");
	other = must_find(qs, "other");
	fill(qs, "big", full);
	assert_int_equal(queues_bytes(qs), full * item_cost);
	/* Leave room for exactly two bytes: one one-byte item. */
	rest = QUEUES_MAX_BYTES - full * item_cost - 2;
	assert_true(rest >= 1 && rest <= QUEUE_MAX_ITEM);
	assert_int_equal(push_len(qs, "other", item, rest - 1), 0);
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES - 2);

	/* The limit is over all queues together: any queue is refused. */
	assert_int_equal(queues_check_push(qs, other, "ab", 2), -ENOSPC);
	assert_int_equal(queues_check_push(qs, q, "ab", 2), -ENOSPC);
	assert_int_equal(queues_check_push(qs, other, "a\nb", 3), -ENOSPC);
	assert_int_equal(queues_check_push(qs, other, "a", 1), 0);
	assert_int_equal(queues_check_push(qs, other, "a\n", 2), 0);
	before = dump_text(qs);
	assert_int_equal(push(qs, "other", "ab"), -ENOSPC);
	assert_int_equal(held(qs, "other", 1, 1, "ab", 2), -ENOSPC);
	after = dump_text(qs);
	assert_string_equal(before, after);
	free(before);
	free(after);
	push_ok(qs, "other", "a");
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES);
	assert_int_equal(queues_check_push(qs, other, "a", 1), -ENOSPC);
	assert_int_equal(queues_check_push(qs, q, "\n", 1), -ENOSPC);
	assert_int_equal(held(qs, "other", 1, 1, "", 0), -ENOSPC);
	/* The other errors still come first where they apply. */
	assert_int_equal(seal(qs, "other", true), 0);
	assert_int_equal(queues_check_push(qs, other, "a", 1), -EPIPE);
	assert_int_equal(seal(qs, "other", false), 0);
	/* A held item still counts: memory is not free until it is received. */
	hold_expect(qs, "big", 1, 1, item);
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES);
	assert_int_equal(queues_check_push(qs, other, "a", 1), -ENOSPC);
	assert_int_equal(give_back(qs, "big", 1, 1), 0);
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES);
	/* Received: room again. */
	pop_expect(qs, "big", item);
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES - item_cost);
	assert_int_equal(queues_check_push(qs, other, "a", 1), 0);
	assert_int_equal(queues_check_push(qs, q, item, QUEUE_MAX_ITEM), 0);
	free(item);
}

/* ---- held items ------------------------------------------------------- */

static void test_pop_emsgsize_leaves_item(void **state)
{
	struct queues *qs = *state;
	char *max = repeat('m', QUEUE_MAX_ITEM);
	const char *item;
	size_t len;
	uint64_t id;

	id = create_ok(qs, "small", 10);
	push_ok(qs, "small", "hello\nworld");
	/* "hello\n" needs 6 bytes. */
	assert_int_equal(pop(qs, "small", 1, 1, 5), -EMSGSIZE);
	assert_int_equal(pop(qs, "small", 1, 1, 1), -EMSGSIZE);
	assert_int_equal(pop(qs, "small", 1, 1, 0), -EMSGSIZE);
	assert_int_equal(queue_check_pop(must_find(qs, "small"), 5), -EMSGSIZE);
	expect_description(qs, "small",
			   "small cap=10 sealed=0 depth=2 bytes=12 items=[hello][world] held=0:\n");
	assert_int_equal(queue_check_pop(must_find(qs, "small"), 6), 0);
	assert_int_equal(queues_apply_pop(qs, id, "small", 5, 1, 1, 6, &item, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(item, "hello", 5);
	assert_int_equal(ack(qs, "small", 1, 1), 0);
	/* The largest item needs QUEUE_MAX_ITEM + 1. */
	push_ok(qs, "small", max);
	pop_expect(qs, "small", "world");
	assert_int_equal(pop(qs, "small", 1, 1, QUEUE_MAX_ITEM), -EMSGSIZE);
	assert_int_equal(stats(qs, "small").depth, 1);
	assert_int_equal(queues_apply_pop(qs, id, "small", 5, 1, 1, QUEUE_MAX_ITEM + 1, &item,
					  &len), 0);
	assert_int_equal(len, QUEUE_MAX_ITEM);
	assert_memory_equal(item, max, QUEUE_MAX_ITEM);
	free(max);
}

/* Pops, acks and returns across queues and sessions; an ended session's
 * items come back at the head of each queue, in the order they were
 * popped. */
static void test_pop_ack_return_end_session(void **state)
{
	struct queues *qs = *state;

	create_ok(qs, "a", 10);
	create_ok(qs, "b", 10);
	push_ok(qs, "a", "a1\na2\na3\na4\na5");
	push_ok(qs, "b", "b1\nb2\nb3");
	hold_expect(qs, "a", 1, 1, "a1");
	hold_expect(qs, "a", 2, 1, "a2");
	hold_expect(qs, "b", 1, 1, "b1"); /* the same reader may hold in each queue */
	hold_expect(qs, "a", 1, 2, "a3");
	hold_expect(qs, "b", 1, 2, "b2");
	hold_expect(qs, "a", 1, 3, "a4");
	assert_int_equal(ack(qs, "a", 1, 3), 0);       /* a4 received */
	assert_int_equal(give_back(qs, "b", 1, 2), 0); /* b2 not: first again */
	expect_description(qs, "a",
			   "a cap=10 sealed=0 depth=1 bytes=3 items=[a5] held=3:1/1[a1]2/1[a2]1/2[a3]\n");
	expect_description(qs, "b",
			   "b cap=10 sealed=0 depth=2 bytes=6 items=[b2][b3] held=1:1/1[b1]\n");
	/* Session 1 is gone. */
	assert_int_equal(queues_end_session(qs, 1), 3);
	expect_description(qs, "a",
			   "a cap=10 sealed=0 depth=3 bytes=9 items=[a1][a3][a5] held=1:2/1[a2]\n");
	expect_description(qs, "b",
			   "b cap=10 sealed=0 depth=3 bytes=9 items=[b1][b2][b3] held=0:\n");
	assert_int_equal(queues_end_session(qs, 1), 0);
	assert_int_equal(ack(qs, "a", 1, 1), -ENOENT);
	/* Session 2's item was received after all. */
	assert_int_equal(ack(qs, "a", 2, 1), 0);
	assert_int_equal(queues_end_session(qs, 2), 0);
	pop_expect(qs, "a", "a1");
	pop_expect(qs, "a", "a3");
	pop_expect(qs, "a", "a5");
	assert_int_equal(pop(qs, "a", 1, 1, 100), -EAGAIN);
	assert_int_equal(stats(qs, "a").total_out, 5);
	assert_int_equal(queues_bytes(qs), 9);
}

/* A deleted queue takes its held items with it. */
static void test_delete_drops_held_items(void **state)
{
	struct queues *qs = *state;

	create_ok(qs, "doomed", 5);
	push_ok(qs, "doomed", "a\nb");
	hold_expect(qs, "doomed", 1, 1, "a");
	assert_int_equal(held(qs, "doomed", 2, 1, "c", 1), 0);
	assert_int_equal(delete(qs, "doomed"), 0);
	assert_int_equal(queues_bytes(qs), 0);
	assert_int_equal(ack(qs, "doomed", 1, 1), -ENOENT);
	assert_int_equal(give_back(qs, "doomed", 1, 1), -ENOENT);
	assert_int_equal(queues_end_session(qs, 1), 0);
	/* A new queue of the same name holds nothing of the old one. */
	create_ok(qs, "doomed", 5);
	assert_int_equal(queues_end_session(qs, 2), 0);
	assert_int_equal(ack(qs, "doomed", 1, 1), -ENOENT);
	expect_description(qs, "doomed", "doomed cap=5 sealed=0 depth=0 bytes=0 items= held=0:\n");
}

/* ---- dumps ------------------------------------------------------------ */

static void test_dump_empty_registry(void **state)
{
	struct queues *qs = *state;
	struct dumped d = { { 0 }, 0, { 0 } };

	assert_int_equal(queues_dump(qs, emit_text, &d), 0);
	assert_int_equal(d.records, 0);
	free(d.text.text);
}

/* One empty queue, one with held items: every record, in order. */
static void test_dump_records(void **state)
{
	struct queues *qs = *state;
	char *got;

	create_ok(qs, "e", 7);
	create_ok(qs, "jobs", 5);
	push_ok(qs, "jobs", "a\n\nb c\nd");
	hold_expect(qs, "jobs", 3, 1, "a");
	hold_expect(qs, "jobs", 2, 9, "");
	assert_int_equal(set_capacity(qs, "jobs", 1), 0);
	assert_int_equal(seal(qs, "jobs", true), 0);
	got = dump_text(qs);
	assert_string_equal(got,
			    "CREATE e #1 u=7 v=0 []\n"
			    "CAPACITY e #1 u=7 v=0 []\n"
			    "CREATE jobs #2 u=2 v=0 []\n"
			    "PUSH jobs #2 u=0 v=0 [b c\\x0ad\\x0a]\n"
			    "HELD jobs #2 u=1 v=3 [a]\n"
			    "HELD jobs #2 u=9 v=2 []\n"
			    "CAPACITY jobs #2 u=1 v=0 []\n"
			    "SEAL jobs #2 u=1 v=0 []\n");
	free(got);
}

struct stop_after {
	unsigned left, emitted;
};

static int emit_until(void *arg, const struct record *r)
{
	struct stop_after *s = arg;

	(void)r;
	s->emitted++;
	return --s->left ? 0 : -EIO;
}

static void test_dump_stops_when_emit_fails(void **state)
{
	struct queues *qs = *state;
	struct stop_after s = { 3, 0 };

	create_ok(qs, "a", 5);
	push_ok(qs, "a", "x");
	create_ok(qs, "b", 5);
	assert_int_equal(queues_dump(qs, emit_until, &s), -EIO);
	assert_int_equal(s.emitted, 3);
}

static void test_dump_roundtrip(void **state)
{
	struct queues *qs = *state, *copy, *copy2;
	char *n64 = repeat('z', QUEUE_NAME_MAX), *item = repeat('x', QUEUE_MAX_ITEM);
	struct dumped d = { { 0 }, 0, { 0 } };
	uint64_t id;

	create_ok(qs, "empty", 7);
	create_ok(qs, "words", 10);
	push_ok(qs, "words", "hello world\n\n  leading and trailing  \nPUSH words fake\ntab\there\n\n");
	assert_int_equal(push_len(qs, "words", "nul\0byte", 8), 0);
	create_ok(qs, "gone", 3);
	push_ok(qs, "gone", "never seen");
	create_ok(qs, "sealed", 4);
	push_ok(qs, "sealed", "s1\ns2");
	pop_expect(qs, "sealed", "s1");
	assert_int_equal(seal(qs, "sealed", true), 0);
	create_ok(qs, "sealed-empty", 2);
	assert_int_equal(seal(qs, "sealed-empty", true), 0);
	assert_int_equal(delete(qs, "gone"), 0);
	/* Over its capacity: full, and an item returned at the head. */
	create_ok(qs, "over", 2);
	push_ok(qs, "over", "o0\no1");
	hold_expect(qs, "over", 1, 1, "o0");
	push_ok(qs, "over", "o2");
	assert_int_equal(give_back(qs, "over", 1, 1), 0);
	/* Capacity lowered below the depth, and items held in it. */
	create_ok(qs, "shrunk", 50);
	push_ok(qs, "shrunk", "s\ns\ns\ns\ns\ns\nh1\nh2");
	assert_int_equal(set_capacity(qs, "shrunk", 3), 0);
	assert_int_equal(held(qs, "shrunk", 4, 2, "h1", 2), 0);
	assert_int_equal(held(qs, "shrunk", 3, 2, "h2", 2), 0);
	assert_int_equal(held(qs, "shrunk", 4, 1, "", 0), 0);
	/* Sealed with its last item held. */
	create_ok(qs, "draining", 3);
	push_ok(qs, "draining", "d");
	assert_int_equal(seal(qs, "draining", true), 0);
	hold_expect(qs, "draining", 8, 8, "d");
	/* The longest name, and enough of the largest items for several PUSH
	 * records. */
	id = next_id();
	assert_int_equal(queues_apply_create(qs, id, n64, QUEUE_NAME_MAX, 1000), 0);
	fill(qs, n64, 600);
	assert_int_equal(queues_apply_held(qs, id, n64, QUEUE_NAME_MAX, 1, 1, item,
					   QUEUE_MAX_ITEM), 0);

	buf_add(&d.text, "", 0);
	assert_int_equal(queues_dump(qs, emit_text, &d), 0);
	/* 254 of the largest items fill a PUSH: 600 take 3. */
	assert_int_equal(d.kinds[RECORD_QUEUE_PUSH], 4 + 3);
	assert_int_equal(d.kinds[RECORD_QUEUE_CREATE], 8);
	assert_int_equal(d.kinds[RECORD_QUEUE_HELD], 5);
	assert_int_equal(d.kinds[RECORD_QUEUE_SEAL], 3);
	assert_int_equal(d.kinds[RECORD_QUEUE_RETURN], 0);
	free(d.text.text);

	copy = roundtrip(qs);
	/* What the copy does next is what the original would do. */
	assert_false(queue_has_room(must_find(copy, "over"), 1));
	assert_false(queue_has_room(must_find(copy, "shrunk"), 1));
	assert_true(queue_has_room(must_find(copy, "words"), 3));
	assert_false(queue_has_room(must_find(copy, "words"), 4));
	assert_int_equal(push(copy, "sealed", "x"), -EPIPE);
	assert_int_equal(pop(copy, "draining", 1, 1, 100), -EAGAIN);
	assert_null(queues_by_name(copy, "gone", 4));
	assert_int_equal(queues_end_session(copy, 4), 2);
	assert_int_equal(queues_end_session(qs, 4), 2);
	pop_expect(copy, "shrunk", "h1");
	pop_expect(copy, "shrunk", "");
	pop_expect(copy, "shrunk", "s");
	pop_expect(copy, "over", "o0");
	/* And a dump of the copy applies to the same again. */
	copy2 = roundtrip(copy);
	queues_free(copy2);
	queues_free(copy);
	free(n64);
	free(item);
}

/* Two registries with the same queues (the same ids too), reached by
 * different histories, dump the same records. */
static void test_dump_depends_on_content_only(void **state)
{
	struct queues *qs = *state, *other = queues_new(QUEUES_DEFAULT_CAPACITY);
	uint64_t jobs;
	char *a, *b;

	assert_non_null(other);
	create_ok(qs, "tmp", 3);
	jobs = create_ok(qs, "jobs", 4);
	push_ok(qs, "jobs", "x\ny");
	pop_expect(qs, "jobs", "x");
	push_ok(qs, "jobs", "z\nw");
	hold_expect(qs, "jobs", 1, 1, "y");
	hold_expect(qs, "jobs", 2, 1, "z");
	assert_int_equal(give_back(qs, "jobs", 2, 1), 0);
	assert_int_equal(delete(qs, "tmp"), 0);

	assert_int_equal(queues_apply_create(other, jobs, "jobs", 4, 2), 0);
	push_ok(other, "jobs", "z\nw");
	assert_int_equal(held(other, "jobs", 1, 1, "y", 1), 0);
	assert_int_equal(set_capacity(other, "jobs", 4), 0);

	a = dump_text(qs);
	b = dump_text(other);
	assert_string_equal(a, b);
	free(a);
	free(b);
	queues_free(other);
}

/* The largest capacity, full, and items returned over it: no capacity
 * takes them all, and the dump still applies. */
static void test_dump_over_largest_capacity(void **state)
{
	struct queues *qs = *state, *copy;
	struct dumped d = { { 0 }, 0, { 0 } };
	size_t depth;

	create_ok(qs, "huge", QUEUES_MAX_CAPACITY);
	for (size_t i = 0; i < QUEUES_MAX_CAPACITY; i += 1000) {
		char text[2000];

		for (size_t k = 0; k < 1000; k++) {
			text[2 * k] = 'i';
			text[2 * k + 1] = '\n';
		}
		assert_int_equal(push_len(qs, "huge", text, sizeof(text)), 0);
	}
	hold_expect(qs, "huge", 1, 1, "i");
	hold_expect(qs, "huge", 1, 2, "i");
	hold_expect(qs, "huge", 1, 3, "i");
	push_ok(qs, "huge", "a\nb\nc");
	assert_int_equal(give_back(qs, "huge", 1, 3), 0);
	assert_int_equal(queues_end_session(qs, 1), 2);
	hold_expect(qs, "huge", 5, 5, "i");
	depth = stats(qs, "huge").depth;
	assert_int_equal(depth, QUEUES_MAX_CAPACITY + 2);
	buf_add(&d.text, "", 0);
	assert_int_equal(queues_dump(qs, emit_text, &d), 0);
	assert_int_equal(d.kinds[RECORD_QUEUE_RETURN], 2);
	assert_int_equal(d.kinds[RECORD_QUEUE_HELD], 3);
	free(d.text.text);
	copy = roundtrip(qs);
	assert_int_equal(stats(copy, "huge").depth, depth);
	assert_int_equal(stats(copy, "huge").held, 1);
	queues_free(copy);
}

/* A fixed pseudo-random walk over every operation, with arguments in and
 * out of bounds: each refusal leaves the dump as it was, every popped item
 * is within bounds, and the registry at the end dumps and applies whole. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_random_walk(void **state)
{
	static const char *const names[] = { "a", "b", "c", "bad name" };
	static const char *const texts[] = { "x", "x\ny", "\n", "1\n2\n3\n4\n5", "", "p\nq\n" };
	static const uint64_t numbers[] = { 0, 1, 2, 3, 5, QUEUES_MAX_CAPACITY + 1, UINT64_MAX };
	struct queues *qs = *state, *copy;
	char *huge = repeat('h', 20000);
	uint64_t x = 88172645463325252ull;
	unsigned done[END + 1] = { 0 };

	for (int step = 0; step < 3000; step++) {
		enum op op = (enum op)(next_random(&x) % (END + 1));
		const char *name = names[next_random(&x) % 4];
		const char *text = texts[next_random(&x) % 6];
		size_t len = strlen(text);
		uint64_t session = next_random(&x) % 3, a = numbers[next_random(&x) % 7];
		uint64_t b = next_random(&x) % 4;
		char *before = dump_text(qs), *after;
		int rc;

		if (next_random(&x) % 50 == 0) {
			text = huge;
			len = 20000;
		}
		if (op == POP || op == ACK || op == RETURN || op == HELD)
			a = next_random(&x) % 3; /* a reader */
		if (op == HELD)
			len = strcspn(text, "\n"); /* one item, as a snapshot holds it */
		rc = run_op(qs, op, name, strlen(name), session, a, b, text, len);
		after = dump_text(qs);
		if (rc < 0 && strcmp(before, after) != 0)
			fail_msg("step %d: op %d on %s refused (%d) but changed\n%s into\n%s", step,
				 op, name, rc, before, after);
		free(before);
		free(after);
		if (rc > 0 || (rc == 0 && op != END))
			done[op]++;
	}
	/* The walk did reach every operation. */
	for (int op = CREATE; op <= END; op++)
		if (done[op] == 0)
			fail_msg("op %d never succeeded", op);
	copy = roundtrip(qs);
	queues_free(copy);
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bounds),
#define R(t) cmocka_unit_test_setup_teardown(t, setup_registry, teardown_registry)
		R(test_create_and_lookups),
		R(test_check_create),
		R(test_recreated_queue_refuses_old_id),
		R(test_create_refuses_old_ids),
		R(test_held_takes_pushable_items),
		R(test_queues_max),
		R(test_apply_every_operation),
		R(test_refusals_change_nothing),
		R(test_oversized_input_refused),
		R(test_apply_uses_len),
		R(test_check_push),
		R(test_total_bytes_limit),
		R(test_pop_emsgsize_leaves_item),
		R(test_pop_ack_return_end_session),
		R(test_delete_drops_held_items),
		R(test_dump_empty_registry),
		R(test_dump_records),
		R(test_dump_stops_when_emit_fails),
		R(test_dump_roundtrip),
		R(test_dump_depends_on_content_only),
		R(test_dump_over_largest_capacity),
		R(test_random_walk),
#undef R
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
