/* test_queues.c - unit tests of the registry of queues (fs/engine/queues.h)
 * and of the queue functions of the state (state_queue_* in state.h):
 * creation, lookups by name, id and position, the limits (QUEUES_MAX,
 * QUEUES_MAX_BYTES), every record verb and the malformed ones, queues_dump
 * replayed into a fresh registry, and through the state: the errors of
 * push and pop with nothing changed, a deleted id, the journal (restore,
 * compaction, a refusing disk) and concurrent producers and consumers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "queues.h"
#include "scratch.h"
#include "state.h"
#include "store.h"

/* ---- helpers: a growing text ----------------------------------------- */

struct buf {
	char *text;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->text = realloc(b->text, b->cap);
		assert_non_null(b->text);
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	buf_add(b, tmp, (size_t)n);
}

static void buf_free(struct buf *b)
{
	free(b->text);
	memset(b, 0, sizeof(*b));
}

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

static int apply(struct queues *qs, const char *line)
{
	return queues_apply(qs, line, strlen(line));
}

static void apply_ok(struct queues *qs, const char *line)
{
	int rc = apply(qs, line);

	if (rc != 0)
		fail_msg("apply \"%.80s\": rc %d", line, rc);
}

static struct queue *by_name(struct queues *qs, const char *name)
{
	return queues_by_name(qs, name, strlen(name));
}

static struct queue *must_find(struct queues *qs, const char *name)
{
	struct queue *q = by_name(qs, name);

	if (!q)
		fail_msg("no queue \"%s\"", name);
	return q;
}

static void escape_item(void *arg, const char *item, size_t len)
{
	struct buf *b = arg;

	buf_add(b, "[", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)item[i];

		if (c >= 0x20 && c < 0x7f && c != '[' && c != ']' && c != '\\')
			buf_add(b, item + i, 1);
		else
			buf_printf(b, "\\x%02x", c);
	}
	buf_add(b, "]", 1);
}

/* One queue as text: name, capacity, seal, depth, bytes, then its items. */
static void describe_queue(struct buf *b, const struct queue *q)
{
	struct queue_stats st;

	queue_get_stats(q, &st);
	buf_printf(b, "%s cap=%llu sealed=%d depth=%llu bytes=%llu items=", queue_name(q),
		   (unsigned long long)st.capacity, st.sealed, (unsigned long long)st.depth,
		   (unsigned long long)st.bytes);
	queue_for_each(q, escape_item, b);
	buf_add(b, "\n", 1);
}

/* Every queue, in creation order (the caller frees). */
static char *describe(const struct queues *qs)
{
	struct buf b = { 0 };
	const struct queue *q;

	buf_add(&b, "", 0);
	for (size_t i = 0; (q = queues_at(qs, i)); i++)
		describe_queue(&b, q);
	return b.text;
}

static char *describe_one(const struct queue *q)
{
	struct buf b = { 0 };

	buf_add(&b, "", 0);
	describe_queue(&b, q);
	return b.text;
}

static void expect_description(const struct queue *q, const char *want)
{
	char *got = describe_one(q);

	if (strcmp(got, want) != 0)
		fail_msg("queue is\n  %s want\n  %s", got, want);
	free(got);
}

struct dumped {
	struct buf text;
	unsigned lines;
};

static void emit(void *arg, const char *line, size_t len)
{
	struct dumped *d = arg;

	assert_true(len > 0);
	assert_true(len <= QUEUES_RECORD_MAX);
	assert_null(memchr(line, '\n', len));
	buf_add(&d->text, line, len);
	buf_add(&d->text, "\n", 1);
	d->lines++;
}

/* Applies every line of text (newline-separated) to qs.  Returns 0, or
 * the first failure's rc with its line in why. */
static int apply_all(struct queues *qs, const char *text, size_t len, char *why, size_t size)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;
		int rc = queues_apply(qs, text + pos, n);

		if (rc != 0) {
			snprintf(why, size, "replay of \"%.*s\": rc %d", (int)(n < 80 ? n : 80),
				 text + pos, rc);
			return rc;
		}
		pos += n + 1;
	}
	return 0;
}

/* Dumps qs, replays the dump into a fresh registry and checks that it
 * describes the same; returns the fresh one.  (Frees what it made before
 * failing, so that a failure is not also a leak report.) */
static struct queues *roundtrip(const struct queues *qs)
{
	struct queues *copy = queues_new(queues_default_capacity(qs));
	struct dumped d = { { 0 }, 0 };
	char *want, *got, why[4096] = "";
	int rc;

	assert_non_null(copy);
	buf_add(&d.text, "", 0);
	queues_dump(qs, emit, &d);
	rc = apply_all(copy, d.text.text, d.text.len, why, sizeof(why));
	want = describe(qs);
	got = describe(copy);
	if (!rc && strcmp(want, got) != 0)
		snprintf(why, sizeof(why), "dump replayed gives\n%.1000s\nwant\n%.1000s\ndump:\n%.1000s",
			 got, want, d.text.text);
	if (!rc && queues_bytes(copy) != queues_bytes(qs))
		snprintf(why, sizeof(why), "dump replayed holds %llu bytes, want %llu",
			 (unsigned long long)queues_bytes(copy), (unsigned long long)queues_bytes(qs));
	free(want);
	free(got);
	buf_free(&d.text);
	if (why[0]) {
		queues_free(copy);
		fail_msg("%s", why);
	}
	return copy;
}

static int setup_registry(void **state)
{
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

static void test_is_record_table(void **state)
{
	static const struct {
		const char *line;
		bool record;
	} cases[] = {
		{ "QUEUE jobs 10", true },
		{ "DELETE jobs", true },
		{ "PUSH jobs an item", true },
		{ "PUSH jobs ", true },
		{ "POP jobs", true },
		{ "RETURN jobs x", true },
		{ "SEAL jobs", true },
		{ "UNSEAL jobs", true },
		{ "CAPACITY jobs 5", true },
		{ "SET A 5", false },
		{ "ADD A B", false },
		{ "WRITE 7 100", false },
		{ "", false },
		{ "QUEUE", false },
		{ "POP", false },
		{ "PUSHX jobs a", false },
		{ "push jobs a", false },
		{ "queue jobs 1", false },
		{ " PUSH jobs a", false },
		{ "QUEUE  10", false }, /* no name */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (queues_is_record(cases[i].line, strlen(cases[i].line)) != cases[i].record)
			fail_msg("queues_is_record(\"%s\") is %d", cases[i].line, !cases[i].record);
	}
	/* Only len bytes count. */
	assert_true(queues_is_record("POP jobs and more", 8));
	assert_false(queues_is_record("POP jobs", 3));
}

static void test_create_and_lookups(void **state)
{
	struct queues *qs = *state;
	struct queue *a, *b, *c;
	uint64_t ida, idb, idc;

	apply_ok(qs, "QUEUE alpha 5");
	apply_ok(qs, "QUEUE beta 100000");
	apply_ok(qs, "QUEUE gamma 1");
	a = must_find(qs, "alpha");
	b = must_find(qs, "beta");
	c = must_find(qs, "gamma");
	expect_description(a, "alpha cap=5 sealed=0 depth=0 bytes=0 items=\n");
	expect_description(b, "beta cap=100000 sealed=0 depth=0 bytes=0 items=\n");
	expect_description(c, "gamma cap=1 sealed=0 depth=0 bytes=0 items=\n");

	/* Lookups by name use len bytes only, and need the whole name. */
	assert_ptr_equal(queues_by_name(qs, "alphabet", 5), a);
	assert_null(queues_by_name(qs, "alph", 4));
	assert_null(by_name(qs, "ALPHA"));
	assert_null(by_name(qs, "delta"));

	/* Ids: distinct, non-zero, found again. */
	ida = queues_id(qs, a);
	idb = queues_id(qs, b);
	idc = queues_id(qs, c);
	assert_true(ida != 0 && idb != 0 && idc != 0);
	assert_true(ida != idb && idb != idc && ida != idc);
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
	apply_ok(qs, "DELETE beta");
	assert_null(by_name(qs, "beta"));
	assert_null(queues_by_id(qs, idb));
	assert_ptr_equal(queues_at(qs, 0), a);
	assert_ptr_equal(queues_at(qs, 1), c);
	assert_null(queues_at(qs, 2));
	apply_ok(qs, "QUEUE beta 7");
	b = must_find(qs, "beta");
	assert_true(queues_id(qs, b) != idb);
	assert_true(queues_id(qs, b) != ida && queues_id(qs, b) != idc);
	assert_null(queues_by_id(qs, idb));
	assert_ptr_equal(queues_at(qs, 2), b);
	expect_description(b, "beta cap=7 sealed=0 depth=0 bytes=0 items=\n");
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
	apply_ok(qs, "QUEUE jobs 3");
	assert_int_equal(queues_check_create(qs, "jobs", 4), -EEXIST);
	assert_int_equal(queues_check_create(qs, "jobs2", 5), 0);
	assert_int_equal(queues_check_create(qs, "job", 3), 0);
	free(n64);
	free(n65);
}

static void test_queues_max(void **state)
{
	struct queues *qs = *state;
	char line[64], name[16];

	for (int i = 0; i < QUEUES_MAX; i++) {
		snprintf(line, sizeof(line), "QUEUE q%d 2", i);
		apply_ok(qs, line);
	}
	assert_non_null(queues_at(qs, QUEUES_MAX - 1));
	assert_null(queues_at(qs, QUEUES_MAX));
	assert_int_equal(queues_check_create(qs, "one-more", 8), -ENOSPC);
	assert_int_equal(apply(qs, "QUEUE one-more 2"), -EINVAL);
	assert_null(by_name(qs, "one-more"));
	/* Every one of them is found by name and id. */
	for (int i = 0; i < QUEUES_MAX; i++) {
		struct queue *q;

		snprintf(name, sizeof(name), "q%d", i);
		q = must_find(qs, name);
		assert_ptr_equal(queues_by_id(qs, queues_id(qs, q)), q);
		assert_ptr_equal(queues_at(qs, (size_t)i), q);
	}
	/* One gone: room for one. */
	apply_ok(qs, "DELETE q500");
	assert_int_equal(queues_check_create(qs, "one-more", 8), 0);
	apply_ok(qs, "QUEUE one-more 2");
	assert_ptr_equal(queues_at(qs, QUEUES_MAX - 1), must_find(qs, "one-more"));
	assert_int_equal(queues_check_create(qs, "two-more", 8), -ENOSPC);
}

/* ---- records ---------------------------------------------------------- */

static void test_apply_every_verb(void **state)
{
	struct queues *qs = *state;
	struct queue *q;

	apply_ok(qs, "QUEUE jobs 3");
	q = must_find(qs, "jobs");
	apply_ok(qs, "PUSH jobs first item");
	apply_ok(qs, "PUSH jobs ");          /* an empty item */
	apply_ok(qs, "PUSH jobs  two  spaces ");
	expect_description(q, "jobs cap=3 sealed=0 depth=3 bytes=26 items=[first item][][ two  spaces ]\n");
	/* PUSH is a replay of an accepted item: the capacity does not stop it. */
	apply_ok(qs, "PUSH jobs over");
	expect_description(q, "jobs cap=3 sealed=0 depth=4 bytes=31 items=[first item][][ two  spaces ][over]\n");
	apply_ok(qs, "POP jobs");
	apply_ok(qs, "POP jobs");
	expect_description(q, "jobs cap=3 sealed=0 depth=2 bytes=19 items=[ two  spaces ][over]\n");
	apply_ok(qs, "RETURN jobs back again");
	expect_description(q, "jobs cap=3 sealed=0 depth=3 bytes=30 items=[back again][ two  spaces ][over]\n");
	apply_ok(qs, "RETURN jobs ");
	expect_description(q, "jobs cap=3 sealed=0 depth=4 bytes=31 items=[][back again][ two  spaces ][over]\n");
	apply_ok(qs, "SEAL jobs");
	expect_description(q, "jobs cap=3 sealed=1 depth=4 bytes=31 items=[][back again][ two  spaces ][over]\n");
	apply_ok(qs, "PUSH jobs after seal"); /* replay: accepted before the seal */
	apply_ok(qs, "UNSEAL jobs");
	apply_ok(qs, "CAPACITY jobs 100000");
	expect_description(q, "jobs cap=100000 sealed=0 depth=5 bytes=42 items=[][back again][ two  spaces ][over][after seal]\n");
	apply_ok(qs, "CAPACITY jobs 1");
	apply_ok(qs, "SEAL jobs");
	apply_ok(qs, "SEAL jobs"); /* twice is fine */
	expect_description(q, "jobs cap=1 sealed=1 depth=5 bytes=42 items=[][back again][ two  spaces ][over][after seal]\n");
	for (int i = 0; i < 5; i++)
		apply_ok(qs, "POP jobs");
	expect_description(q, "jobs cap=1 sealed=1 depth=0 bytes=0 items=\n");
	assert_int_equal(apply(qs, "POP jobs"), -EINVAL);
	apply_ok(qs, "DELETE jobs");
	assert_null(by_name(qs, "jobs"));
	assert_null(queues_at(qs, 0));
	assert_int_equal(queues_bytes(qs), 0);
}

static void test_apply_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"QUEUE",
		"QUEUE q",           /* no capacity */
		"QUEUE q 5",         /* exists */
		"QUEUE new",         /* no capacity */
		"QUEUE new 0",
		"QUEUE new 100001",
		"QUEUE new -5",
		"QUEUE new five",
		"QUEUE new 5x",
		"QUEUE new 5 6",
		"QUEUE new ",
		"QUEUE a/b 5",
		"QUEUE . 5",
		"QUEUE .. 5",
		"QUEUE  5",          /* empty name */
		"DELETE",
		"DELETE nosuch",
		"DELETE q extra",
		"PUSH",
		"PUSH q",            /* no item */
		"PUSH nosuch item",
		"PUSH  item",        /* empty name */
		"POP",
		"POP nosuch",
		"POP q extra",
		"RETURN q",
		"RETURN nosuch x",
		"SEAL",
		"SEAL nosuch",
		"SEAL q x",
		"UNSEAL q x",
		"UNSEAL nosuch",
		"CAPACITY q",
		"CAPACITY q 0",
		"CAPACITY q 100001",
		"CAPACITY q -1",
		"CAPACITY q x",
		"CAPACITY q 5 5",
		"CAPACITY nosuch 5",
		"FROB q",
		"SET A 5",
		"push q x",
		"Pop q",
	};
	struct queues *qs = *state;
	char *before, *after;

	apply_ok(qs, "QUEUE q 5");
	apply_ok(qs, "PUSH q x");
	apply_ok(qs, "PUSH q y");
	before = describe(qs);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = apply(qs, bad[i]);

		if (rc != -EINVAL)
			fail_msg("apply \"%s\": rc %d, want -EINVAL", bad[i], rc);
		after = describe(qs);
		if (strcmp(before, after) != 0)
			fail_msg("apply \"%s\" changed\n%s into\n%s", bad[i], before, after);
		free(after);
	}
	assert_null(by_name(qs, "new"));
	free(before);
}

/* A record line is cut at len: what follows does not count. */
static void test_apply_uses_len(void **state)
{
	struct queues *qs = *state;

	assert_int_equal(queues_apply(qs, "QUEUE q 12345", 9), 0);
	expect_description(must_find(qs, "q"), "q cap=1 sealed=0 depth=0 bytes=0 items=\n");
	assert_int_equal(queues_apply(qs, "PUSH q abcdef", 9), 0);
	/* A NUL inside an item is an ordinary byte. */
	assert_int_equal(queues_apply(qs, "PUSH q a\0b", 10), 0);
	expect_description(must_find(qs, "q"), "q cap=1 sealed=0 depth=2 bytes=7 items=[ab][a\\x00b]\n");
}

static void test_check_push(void **state)
{
	struct queues *qs = *state;
	char *big = repeat('b', QUEUE_MAX_ITEM + 1), *max = repeat('m', QUEUE_MAX_ITEM);
	struct queue *q;
	char *before, *after;

	apply_ok(qs, "QUEUE q 3");
	q = must_find(qs, "q");
	apply_ok(qs, "PUSH q one");
	before = describe(qs);
	assert_int_equal(queues_check_push(qs, q, "a\nb", 3), 0);
	assert_int_equal(queues_check_push(qs, q, "a\nb\n", 4), 0);
	assert_int_equal(queues_check_push(qs, q, "a\nb\nc", 5), -EAGAIN);
	assert_int_equal(queues_check_push(qs, q, "a\nb\nc\nd", 7), -EFBIG);
	assert_int_equal(queues_check_push(qs, q, "", 0), -EINVAL);
	assert_int_equal(queues_check_push(qs, q, big, strlen(big)), -EMSGSIZE);
	assert_int_equal(queues_check_push(qs, q, max, strlen(max)), 0);
	apply_ok(qs, "SEAL q");
	assert_int_equal(queues_check_push(qs, q, "a", 1), -EPIPE);
	apply_ok(qs, "UNSEAL q");
	/* Checking changes nothing. */
	after = describe(qs);
	assert_string_equal(before, after);
	free(after);
	free(before);
	free(big);
	free(max);
}

static void test_total_bytes_limit(void **state)
{
	struct queues *qs = *state;
	const size_t item_cost = QUEUE_MAX_ITEM + 1;
	const size_t full = QUEUES_MAX_BYTES / item_cost; /* whole items that fit */
	char *line = malloc(QUEUES_RECORD_MAX);
	char *item = repeat('i', QUEUE_MAX_ITEM);
	struct queue *q, *other;
	uint64_t bytes;
	size_t n, rest;

	assert_non_null(line);
	apply_ok(qs, "QUEUE big 100000");
	apply_ok(qs, "QUEUE other 10");
	q = must_find(qs, "big");
	other = must_find(qs, "other");
	n = queues_record(line, "PUSH", q, item, QUEUE_MAX_ITEM);
	for (size_t i = 0; i < full; i++)
		assert_int_equal(queues_apply(qs, line, n), 0);
	bytes = queues_bytes(qs);
	assert_int_equal(bytes, full * item_cost);
	/* Leave room for exactly two bytes: one one-byte item. */
	rest = QUEUES_MAX_BYTES - bytes - 2;
	assert_true(rest >= 1 && rest <= QUEUE_MAX_ITEM);
	n = queues_record(line, "PUSH", other, item, rest - 1);
	assert_int_equal(queues_apply(qs, line, n), 0);
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES - 2);

	/* The limit is over all queues together: any queue is refused. */
	assert_int_equal(queues_check_push(qs, other, "ab", 2), -ENOSPC);
	assert_int_equal(queues_check_push(qs, q, "ab", 2), -ENOSPC);
	assert_int_equal(queues_check_push(qs, other, "a\nb", 3), -ENOSPC);
	assert_int_equal(queues_check_push(qs, other, "a", 1), 0);
	apply_ok(qs, "PUSH other a");
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES);
	assert_int_equal(queues_check_push(qs, other, "a", 1), -ENOSPC);
	assert_int_equal(queues_check_push(qs, q, "\n", 1), -ENOSPC);
	/* The other errors still come first where they apply. */
	apply_ok(qs, "SEAL other");
	assert_int_equal(queues_check_push(qs, other, "a", 1), -EPIPE);
	apply_ok(qs, "UNSEAL other");
	/* Taking an item makes room again. */
	apply_ok(qs, "POP big");
	assert_int_equal(queues_bytes(qs), QUEUES_MAX_BYTES - item_cost);
	assert_int_equal(queues_check_push(qs, other, "a", 1), 0);
	assert_int_equal(queues_check_push(qs, q, item, QUEUE_MAX_ITEM), 0);
	free(line);
	free(item);
}

static void test_record_format(void **state)
{
	struct queues *qs = *state;
	char *name = repeat('N', QUEUE_NAME_MAX), *item = repeat('I', QUEUE_MAX_ITEM);
	char line[QUEUES_RECORD_MAX + 1];
	struct queue *q;
	char qline[128];
	size_t n;

	apply_ok(qs, "QUEUE jobs 3");
	q = must_find(qs, "jobs");
	n = queues_record(line, "POP", q, NULL, 0);
	assert_int_equal(n, 8);
	assert_memory_equal(line, "POP jobs", 8);
	n = queues_record(line, "PUSH", q, "a b", 3);
	assert_int_equal(n, 13);
	assert_memory_equal(line, "PUSH jobs a b", 13);
	n = queues_record(line, "PUSH", q, "", 0);
	assert_int_equal(n, 10);
	assert_memory_equal(line, "PUSH jobs ", 10);
	n = queues_record(line, "PUSH", q, "a\0b", 3);
	assert_int_equal(n, 13);
	assert_memory_equal(line, "PUSH jobs a\0b", 13);

	/* The longest record fits in QUEUES_RECORD_MAX and applies. */
	snprintf(qline, sizeof(qline), "QUEUE %s 2", name);
	apply_ok(qs, qline);
	q = must_find(qs, name);
	memset(line, 0x5a, sizeof(line));
	n = queues_record(line, "RETURN", q, item, QUEUE_MAX_ITEM);
	assert_int_equal(n, 7 + QUEUE_NAME_MAX + 1 + QUEUE_MAX_ITEM);
	assert_true(n <= QUEUES_RECORD_MAX);
	assert_int_equal((unsigned char)line[QUEUES_RECORD_MAX], 0x5a);
	assert_int_equal(queues_apply(qs, line, n), 0);
	n = queues_record(line, "PUSH", q, item, QUEUE_MAX_ITEM);
	assert_int_equal(queues_apply(qs, line, n), 0);
	assert_int_equal(queues_bytes(qs), 2 * (QUEUE_MAX_ITEM + 1));
	free(name);
	free(item);
}

/* ---- snapshots -------------------------------------------------------- */

static void test_dump_empty_registry(void **state)
{
	struct queues *qs = *state;
	struct dumped d = { { 0 }, 0 };

	queues_dump(qs, emit, &d);
	assert_int_equal(d.lines, 0);
	buf_free(&d.text);
}

static void test_dump_roundtrip(void **state)
{
	struct queues *qs = *state, *copy, *copy2;
	char *n64 = repeat('z', QUEUE_NAME_MAX), *item = repeat('x', QUEUE_MAX_ITEM);
	char line[QUEUES_RECORD_MAX];
	struct queue *q;
	size_t n;

	apply_ok(qs, "QUEUE empty 7");
	apply_ok(qs, "QUEUE words 10");
	apply_ok(qs, "PUSH words hello world");
	apply_ok(qs, "PUSH words ");
	apply_ok(qs, "PUSH words   leading and trailing  ");
	apply_ok(qs, "PUSH words PUSH words fake record");
	apply_ok(qs, "PUSH words tab\there");
	apply_ok(qs, "PUSH words ");
	assert_int_equal(queues_apply(qs, "PUSH words nul\0byte", 19), 0);
	apply_ok(qs, "QUEUE gone 3");
	apply_ok(qs, "PUSH gone never seen");
	apply_ok(qs, "QUEUE sealed 4");
	apply_ok(qs, "PUSH sealed s1");
	apply_ok(qs, "PUSH sealed s2");
	apply_ok(qs, "POP sealed");
	apply_ok(qs, "SEAL sealed");
	apply_ok(qs, "QUEUE sealed-empty 2");
	apply_ok(qs, "SEAL sealed-empty");
	apply_ok(qs, "DELETE gone");
	/* Over its capacity: full, and an item returned at the head. */
	apply_ok(qs, "QUEUE over 2");
	apply_ok(qs, "PUSH over o1");
	apply_ok(qs, "PUSH over o2");
	apply_ok(qs, "RETURN over o0");
	/* Capacity lowered below the depth. */
	apply_ok(qs, "QUEUE shrunk 50");
	for (int i = 0; i < 6; i++)
		apply_ok(qs, "PUSH shrunk s");
	apply_ok(qs, "CAPACITY shrunk 3");
	/* The longest name and item. */
	snprintf(line, sizeof(line), "QUEUE %s 1", n64);
	apply_ok(qs, line);
	q = must_find(qs, n64);
	n = queues_record(line, "PUSH", q, item, QUEUE_MAX_ITEM);
	assert_int_equal(queues_apply(qs, line, n), 0);

	copy = roundtrip(qs);
	/* What the copy does next is what the original would do. */
	assert_false(queue_has_room(must_find(copy, "over"), 1));
	assert_false(queue_has_room(must_find(copy, "shrunk"), 1));
	assert_true(queue_has_room(must_find(copy, "words"), 3));
	assert_false(queue_has_room(must_find(copy, "words"), 4));
	assert_int_equal(queues_check_push(copy, must_find(copy, "sealed"), "x", 1), -EPIPE);
	assert_null(by_name(copy, "gone"));
	/* And a dump of the copy replays to the same again. */
	copy2 = roundtrip(copy);
	queues_free(copy2);
	queues_free(copy);
	free(n64);
	free(item);
}

/* The largest capacity, full, and one item returned over it: the snapshot
 * must still replay (its QUEUE record carries the depth). */
static void test_dump_over_largest_capacity(void **state)
{
	struct queues *qs = *state, *copy;
	char line[64];

	snprintf(line, sizeof(line), "QUEUE huge %u", QUEUES_MAX_CAPACITY);
	apply_ok(qs, line);
	for (unsigned i = 0; i < QUEUES_MAX_CAPACITY; i++)
		apply_ok(qs, "PUSH huge i");
	apply_ok(qs, "POP huge");
	apply_ok(qs, "PUSH huge i");
	apply_ok(qs, "RETURN huge r");
	copy = roundtrip(qs);
	queues_free(copy);
}

/* ---- the state's queue functions ------------------------------------- */

static int setup_state(void **state)
{
	*state = state_new(16, NULL);
	return *state ? 0 : -1;
}

static int teardown_state(void **state)
{
	state_free(*state);
	return 0;
}

static uint64_t create_ok(struct state *st, const char *name)
{
	uint64_t id = 0;
	int rc = state_queue_create(st, name, strlen(name), &id);

	if (rc != 0)
		fail_msg("create \"%s\": rc %d", name, rc);
	assert_true(id != 0);
	return id;
}

static int spush(struct state *st, uint64_t id, const char *text)
{
	return state_queue_push(st, id, text, strlen(text));
}

static void spush_ok(struct state *st, uint64_t id, const char *text)
{
	int rc = spush(st, id, text);

	if (rc != 0)
		fail_msg("push \"%.40s\": rc %d", text, rc);
}

/* Pops the head item, which must be want. */
static void spop_expect(struct state *st, uint64_t id, const char *want)
{
	char item[QUEUE_MAX_ITEM + 1];
	size_t len = 99999;
	int rc = state_queue_pop(st, id, QUEUE_MAX_ITEM + 1, item, &len);

	if (rc != 0)
		fail_msg("pop for \"%s\": rc %d", want, rc);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(item, want, len);
}

static int spop_rc(struct state *st, uint64_t id)
{
	char item[QUEUE_MAX_ITEM + 1];
	size_t len;

	return state_queue_pop(st, id, sizeof(item), item, &len);
}

static struct queue_stats sstats(struct state *st, uint64_t id)
{
	struct queue_stats qs;

	memset(&qs, 0, sizeof(qs));
	assert_int_equal(state_queue_stats(st, id, NULL, &qs), 0);
	return qs;
}

static void expect_sstats(struct state *st, uint64_t id, uint64_t depth, uint64_t bytes,
			  uint64_t capacity, uint64_t in, uint64_t out, bool sealed)
{
	struct queue_stats qs = sstats(st, id);

	assert_int_equal(qs.depth, depth);
	assert_int_equal(qs.bytes, bytes);
	assert_int_equal(qs.capacity, capacity);
	assert_int_equal(qs.total_in, in);
	assert_int_equal(qs.total_out, out);
	assert_int_equal(qs.sealed, sealed);
}

static void test_state_create_find_at_delete(void **state)
{
	struct state *st = *state;
	char name[QUEUE_NAME_MAX + 1];
	struct queue_stats qs;
	uint64_t a, b, id = 0, a2;

	a = create_ok(st, "alpha");
	b = create_ok(st, "beta");
	assert_true(a != b);
	assert_int_equal(state_queue_create(st, "alpha", 5, &id), -EEXIST);
	assert_int_equal(state_queue_create(st, "a b", 3, &id), -EINVAL);
	assert_int_equal(state_queue_create(st, "", 0, &id), -EINVAL);
	assert_int_equal(state_queue_create(st, "..", 2, &id), -EINVAL);

	assert_int_equal(state_queue_find(st, "beta", 4, &id, &qs), 0);
	assert_int_equal(id, b);
	assert_int_equal(qs.capacity, QUEUES_DEFAULT_CAPACITY);
	assert_int_equal(qs.depth, 0);
	assert_int_equal(state_queue_find(st, "gamma", 5, &id, NULL), -ENOENT);

	assert_int_equal(state_queue_at(st, 0, &id, name, &qs), 0);
	assert_int_equal(id, a);
	assert_string_equal(name, "alpha");
	assert_int_equal(state_queue_at(st, 1, &id, NULL, NULL), 0);
	assert_int_equal(id, b);
	assert_int_equal(state_queue_at(st, 2, &id, name, NULL), -ENOENT);

	assert_int_equal(state_queue_stats(st, b, name, NULL), 0);
	assert_string_equal(name, "beta");

	assert_int_equal(state_queue_delete(st, "alpha", 5, &id), 0);
	assert_int_equal(id, a);
	assert_int_equal(state_queue_delete(st, "alpha", 5, &id), -ENOENT);
	assert_int_equal(state_queue_find(st, "alpha", 5, &id, NULL), -ENOENT);
	assert_int_equal(state_queue_at(st, 0, &id, name, NULL), 0);
	assert_string_equal(name, "beta");
	a2 = create_ok(st, "alpha");
	assert_true(a2 != a && a2 != b);
}

static void test_state_queues_max(void **state)
{
	struct state *st = *state;
	char name[16];
	uint64_t id;

	for (int i = 0; i < QUEUES_MAX; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		create_ok(st, name);
	}
	assert_int_equal(state_queue_create(st, "last", 4, &id), -ENOSPC);
	assert_int_equal(state_queue_find(st, "last", 4, &id, NULL), -ENOENT);
	assert_int_equal(state_queue_delete(st, "q0", 2, &id), 0);
	create_ok(st, "last");
}

static void test_state_push_pop_errors(void **state)
{
	struct state *st = *state;
	char *big = repeat('b', QUEUE_MAX_ITEM + 1);
	uint64_t id = create_ok(st, "jobs");

	assert_int_equal(state_queue_set_capacity(st, id, 3), 0);
	assert_int_equal(spop_rc(st, id), -EAGAIN);
	spush_ok(st, id, "a\nb\n");
	expect_sstats(st, id, 2, 4, 3, 2, 0, false);
	assert_int_equal(spush(st, id, "c\nd"), -EAGAIN);
	assert_int_equal(spush(st, id, "1\n2\n3\n4"), -EFBIG);
	assert_int_equal(spush(st, id, big), -EMSGSIZE);
	assert_int_equal(state_queue_push(st, id, "", 0), -EINVAL);
	/* A good item then a bad one: nothing enters. */
	{
		size_t len = strlen(big) + 2;
		char *text = malloc(len + 1);

		assert_non_null(text);
		memcpy(text, "c\n", 2);
		memcpy(text + 2, big, strlen(big) + 1);
		assert_int_equal(state_queue_push(st, id, text, len), -EMSGSIZE);
		free(text);
	}
	expect_sstats(st, id, 2, 4, 3, 2, 0, false);
	spush_ok(st, id, "\n");
	expect_sstats(st, id, 3, 5, 3, 3, 0, false);
	spop_expect(st, id, "a");
	spop_expect(st, id, "b");
	spop_expect(st, id, "");
	assert_int_equal(spop_rc(st, id), -EAGAIN);
	expect_sstats(st, id, 0, 0, 3, 3, 3, false);

	/* Sealed: pushes fail, pops drain, then end of file (1). */
	spush_ok(st, id, "x");
	assert_int_equal(state_queue_seal(st, id, true), 0);
	assert_int_equal(spush(st, id, "y"), -EPIPE);
	spop_expect(st, id, "x");
	assert_int_equal(spop_rc(st, id), 1);
	assert_int_equal(spop_rc(st, id), 1);
	expect_sstats(st, id, 0, 0, 3, 4, 4, true);
	assert_int_equal(state_queue_seal(st, id, false), 0);
	assert_int_equal(spop_rc(st, id), -EAGAIN);
	spush_ok(st, id, "y");
	spop_expect(st, id, "y");

	/* Capacity: 1..QUEUES_MAX_CAPACITY. */
	assert_int_equal(state_queue_set_capacity(st, id, 0), -EINVAL);
	assert_int_equal(state_queue_set_capacity(st, id, QUEUES_MAX_CAPACITY + 1), -EINVAL);
	assert_int_equal(sstats(st, id).capacity, 3);
	assert_int_equal(state_queue_set_capacity(st, id, QUEUES_MAX_CAPACITY), 0);
	assert_int_equal(sstats(st, id).capacity, QUEUES_MAX_CAPACITY);
	assert_int_equal(state_queue_set_capacity(st, id, 1), 0);
	spush_ok(st, id, "z");
	assert_int_equal(spush(st, id, "w"), -EAGAIN);
	assert_int_equal(spush(st, id, "w\nv"), -EFBIG);
	free(big);
}

static void test_state_pop_emsgsize_keeps_item(void **state)
{
	struct state *st = *state;
	uint64_t id = create_ok(st, "small");
	char item[QUEUE_MAX_ITEM + 1];
	size_t len = 0;

	spush_ok(st, id, "hello\nworld");
	/* "hello\n" needs 6 bytes. */
	assert_int_equal(state_queue_pop(st, id, 5, item, &len), -EMSGSIZE);
	assert_int_equal(state_queue_pop(st, id, 1, item, &len), -EMSGSIZE);
	assert_int_equal(state_queue_pop(st, id, 0, item, &len), -EMSGSIZE);
	expect_sstats(st, id, 2, 12, QUEUES_DEFAULT_CAPACITY, 2, 0, false);
	assert_int_equal(state_queue_pop(st, id, 6, item, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(item, "hello", 5);
	/* An empty item needs one byte: its newline. */
	spush_ok(st, id, "\n");
	spop_expect(st, id, "world");
	assert_int_equal(state_queue_pop(st, id, 0, item, &len), -EMSGSIZE);
	assert_int_equal(state_queue_pop(st, id, 1, item, &len), 0);
	assert_int_equal(len, 0);
	/* The largest item needs QUEUE_MAX_ITEM + 1. */
	{
		char *max = repeat('m', QUEUE_MAX_ITEM);

		spush_ok(st, id, max);
		assert_int_equal(state_queue_pop(st, id, QUEUE_MAX_ITEM, item, &len), -EMSGSIZE);
		assert_int_equal(sstats(st, id).depth, 1);
		assert_int_equal(state_queue_pop(st, id, QUEUE_MAX_ITEM + 1, item, &len), 0);
		assert_int_equal(len, QUEUE_MAX_ITEM);
		assert_memory_equal(item, max, QUEUE_MAX_ITEM);
		free(max);
	}
	expect_sstats(st, id, 0, 0, QUEUES_DEFAULT_CAPACITY, 4, 4, false);
}

static void test_state_unpop(void **state)
{
	struct state *st = *state;
	uint64_t id = create_ok(st, "back");

	assert_int_equal(state_queue_set_capacity(st, id, 2), 0);
	spush_ok(st, id, "a\nb");
	spop_expect(st, id, "a");
	spush_ok(st, id, "c");
	/* The reader of "a" was gone: back at the head, over the capacity. */
	assert_int_equal(state_queue_unpop(st, id, "a", 1), 0);
	expect_sstats(st, id, 3, 6, 2, 3, 0, false);
	assert_int_equal(spush(st, id, "d"), -EAGAIN);
	spop_expect(st, id, "a");
	spop_expect(st, id, "b");
	spop_expect(st, id, "c");
}

static void test_state_deleted_id(void **state)
{
	struct state *st = *state;
	char item[QUEUE_MAX_ITEM + 1], name[QUEUE_NAME_MAX + 1];
	struct queue_stats qs;
	uint64_t id = create_ok(st, "doomed"), id2, got;
	size_t len;

	spush_ok(st, id, "a\nb");
	assert_int_equal(state_queue_delete(st, "doomed", 6, &got), 0);
	assert_int_equal(got, id);
	assert_int_equal(spush(st, id, "c"), -ENOENT);
	assert_int_equal(state_queue_pop(st, id, sizeof(item), item, &len), -ENOENT);
	assert_int_equal(state_queue_unpop(st, id, "a", 1), -ENOENT);
	assert_int_equal(state_queue_seal(st, id, true), -ENOENT);
	assert_int_equal(state_queue_seal(st, id, false), -ENOENT);
	assert_int_equal(state_queue_set_capacity(st, id, 5), -ENOENT);
	assert_int_equal(state_queue_stats(st, id, name, &qs), -ENOENT);
	/* A new queue of the same name is a different queue: the old id does
	 * not reach it. */
	id2 = create_ok(st, "doomed");
	assert_true(id2 != id);
	assert_int_equal(spush(st, id, "c"), -ENOENT);
	assert_int_equal(state_queue_pop(st, id, sizeof(item), item, &len), -ENOENT);
	expect_sstats(st, id2, 0, 0, QUEUES_DEFAULT_CAPACITY, 0, 0, false);
	spush_ok(st, id2, "new");
	spop_expect(st, id2, "new");
}

static void test_state_default_capacity(void **state)
{
	struct state *st = *state;
	uint64_t id;

	assert_int_equal(state_set_queue_capacity(st, 0), -EINVAL);
	assert_int_equal(state_set_queue_capacity(st, QUEUES_MAX_CAPACITY + 1), -EINVAL);
	assert_int_equal(state_set_queue_capacity(st, 7), 0);
	id = create_ok(st, "seven");
	assert_int_equal(sstats(st, id).capacity, 7);
	/* Only before any queue exists. */
	assert_int_equal(state_set_queue_capacity(st, 9), -EBUSY);
	assert_int_equal(sstats(st, id).capacity, 7);
	id = create_ok(st, "also-seven");
	assert_int_equal(sstats(st, id).capacity, 7);
}

static void test_state_total_bytes_enospc(void **state)
{
	struct state *st = *state;
	const size_t per_push = 200;
	size_t len = per_push * (QUEUE_MAX_ITEM + 1);
	char *text = malloc(len), *item = repeat('t', QUEUE_MAX_ITEM);
	uint64_t a = create_ok(st, "a"), b = create_ok(st, "b");
	uint64_t pushed = 0;
	int rc = 0;

	assert_non_null(text);
	for (size_t i = 0; i < per_push; i++) {
		memcpy(text + i * (QUEUE_MAX_ITEM + 1), item, QUEUE_MAX_ITEM);
		text[i * (QUEUE_MAX_ITEM + 1) + QUEUE_MAX_ITEM] = '\n';
	}
	assert_int_equal(state_queue_set_capacity(st, a, QUEUES_MAX_CAPACITY), 0);
	/* Whole pushes of 200 items until the limit refuses one. */
	while ((rc = state_queue_push(st, a, text, len)) == 0)
		pushed += per_push;
	assert_int_equal(rc, -ENOSPC);
	assert_true(pushed * (QUEUE_MAX_ITEM + 1) <= QUEUES_MAX_BYTES);
	assert_true((pushed + per_push) * (QUEUE_MAX_ITEM + 1) > QUEUES_MAX_BYTES - (QUEUE_MAX_ITEM + 1));
	expect_sstats(st, a, pushed, pushed * (QUEUE_MAX_ITEM + 1), QUEUES_MAX_CAPACITY, pushed, 0,
		      false);
	/* Single items until the limit: the total never passes it. */
	while ((rc = state_queue_push(st, a, item, QUEUE_MAX_ITEM)) == 0)
		pushed++;
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(sstats(st, a).depth, pushed);
	assert_true(pushed * (QUEUE_MAX_ITEM + 1) <= QUEUES_MAX_BYTES);
	assert_true((pushed + 1) * (QUEUE_MAX_ITEM + 1) > QUEUES_MAX_BYTES);
	/* Another queue is refused too, with nothing changed. */
	while ((rc = spush(st, b, "x")) == 0)
		;
	assert_int_equal(rc, -ENOSPC);
	assert_true(sstats(st, a).bytes + sstats(st, b).bytes <= QUEUES_MAX_BYTES);
	assert_int_equal(spush(st, b, "x"), -ENOSPC);
	assert_int_equal(spush(st, b, "y"), -ENOSPC);
	/* One item out: room again. */
	{
		char out[QUEUE_MAX_ITEM + 1];
		size_t n;

		assert_int_equal(state_queue_pop(st, a, sizeof(out), out, &n), 0);
		assert_int_equal(n, QUEUE_MAX_ITEM);
	}
	spush_ok(st, b, "x");
	free(text);
	free(item);
}

/* Journal-like text through state_restore: queue records and instructions
 * mixed, as a snapshot holds them. */
static void test_state_restore_records(void **state)
{
	struct state *st = *state;
	static const char journal[] =
		"SET A 5\n"
		"QUEUE jobs 4\n"
		"PUSH jobs one\n"
		"PUSH jobs two words\n"
		"PUSH jobs \n"
		"ADD A 1\n"
		"POP jobs\n"
		"CAPACITY jobs 2\n"
		"SEAL jobs\n"
		"QUEUE other 9\n"
		"DELETE other\n";
	uint64_t id;

	assert_int_equal(state_restore(st, journal, strlen(journal)), 0);
	assert_int_equal(state_read_register(st, 0), 6);
	assert_int_equal(state_queue_find(st, "other", 5, &id, NULL), -ENOENT);
	assert_int_equal(state_queue_find(st, "jobs", 4, &id, NULL), 0);
	assert_int_equal(sstats(st, id).depth, 2);
	assert_int_equal(sstats(st, id).capacity, 2);
	assert_true(sstats(st, id).sealed);
	spop_expect(st, id, "two words");
	spop_expect(st, id, "");
	assert_int_equal(spop_rc(st, id), 1);
	/* A record that does not apply is a damaged journal. */
	assert_int_equal(state_restore(st, "POP nosuch\n", 11), -EBADMSG);
	assert_int_equal(state_restore(st, "QUEUE jobs 5\n", 13), -EBADMSG);
	assert_int_equal(state_restore(st, "POP jobs\n", 9), -EBADMSG);
}

/* ---- concurrency ------------------------------------------------------ */

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 3000

struct shared {
	struct state *st;
	uint64_t id;
	int taken;      /* atomic */
	int failures;   /* atomic: unexpected return codes; everybody stops */
};

static bool stopped(struct shared *sh)
{
	return __atomic_load_n(&sh->failures, __ATOMIC_RELAXED) != 0;
}

struct worker {
	struct shared *sh;
	int n;
	int *got;       /* consumer: items in the order taken, p * PER_PRODUCER + i */
	int count;
};

static void *producer_main(void *arg)
{
	struct worker *w = arg;
	char line[32];

	for (int i = 0; i < PER_PRODUCER; i++) {
		int n = snprintf(line, sizeof(line), "%d %d", w->n, i);
		int rc;

		while ((rc = state_queue_push(w->sh->st, w->sh->id, line, (size_t)n)) == -EAGAIN &&
		       !stopped(w->sh))
			sched_yield();
		if (rc != 0) {
			__atomic_fetch_add(&w->sh->failures, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct worker *w = arg;
	const int total = PRODUCERS * PER_PRODUCER;
	char item[QUEUE_MAX_ITEM + 1];
	size_t len;

	while (__atomic_load_n(&w->sh->taken, __ATOMIC_RELAXED) < total && !stopped(w->sh)) {
		int rc = state_queue_pop(w->sh->st, w->sh->id, sizeof(item), item, &len);
		int p, i;

		if (rc == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (rc != 0 || len >= 32) {
			__atomic_fetch_add(&w->sh->failures, 1, __ATOMIC_RELAXED);
			break;
		}
		item[len] = '\0';
		if (sscanf(item, "%d %d", &p, &i) != 2 || p < 0 || p >= PRODUCERS || i < 0 ||
		    i >= PER_PRODUCER) {
			__atomic_fetch_add(&w->sh->failures, 1, __ATOMIC_RELAXED);
			break;
		}
		w->got[w->count++] = p * PER_PRODUCER + i;
		__atomic_fetch_add(&w->sh->taken, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_state_concurrent_producers_consumers(void **state)
{
	struct shared sh = { .st = *state };
	struct worker prod[PRODUCERS], cons[CONSUMERS];
	pthread_t pt[PRODUCERS], ct[CONSUMERS];
	static char seen[PRODUCERS * PER_PRODUCER];

	sh.id = create_ok(sh.st, "shared");
	assert_int_equal(state_queue_set_capacity(sh.st, sh.id, 16), 0);
	memset(seen, 0, sizeof(seen));
	for (int c = 0; c < CONSUMERS; c++) {
		cons[c] = (struct worker){ &sh, c, calloc(PRODUCERS * PER_PRODUCER, sizeof(int)), 0 };
		assert_non_null(cons[c].got);
		assert_int_equal(pthread_create(&ct[c], NULL, consumer_main, &cons[c]), 0);
	}
	for (int p = 0; p < PRODUCERS; p++) {
		prod[p] = (struct worker){ &sh, p, NULL, 0 };
		assert_int_equal(pthread_create(&pt[p], NULL, producer_main, &prod[p]), 0);
	}
	for (int p = 0; p < PRODUCERS; p++)
		pthread_join(pt[p], NULL);
	for (int c = 0; c < CONSUMERS; c++)
		pthread_join(ct[c], NULL);
	assert_int_equal(sh.failures, 0);
	assert_int_equal(sh.taken, PRODUCERS * PER_PRODUCER);
	for (int c = 0; c < CONSUMERS; c++) {
		int last[PRODUCERS];

		for (int p = 0; p < PRODUCERS; p++)
			last[p] = -1;
		for (int k = 0; k < cons[c].count; k++) {
			int v = cons[c].got[k], p = v / PER_PRODUCER, i = v % PER_PRODUCER;

			if (seen[v]++)
				fail_msg("item \"%d %d\" delivered twice", p, i);
			/* One consumer sees each producer's items in order. */
			if (i <= last[p])
				fail_msg("consumer %d took \"%d %d\" after \"%d %d\"", c, p, i, p,
					 last[p]);
			last[p] = i;
		}
		free(cons[c].got);
	}
	for (int v = 0; v < PRODUCERS * PER_PRODUCER; v++)
		if (!seen[v])
			fail_msg("item \"%d %d\" lost", v / PER_PRODUCER, v % PER_PRODUCER);
	expect_sstats(sh.st, sh.id, 0, 0, 16, PRODUCERS * PER_PRODUCER,
		      PRODUCERS * PER_PRODUCER, false);
}

#define BATCHERS 3
#define BATCHES 2000

struct batcher {
	struct state *st;
	uint64_t id;
	int n;
	int failures;
	int *stop; /* atomic: the consumer gave up */
};

static void *batcher_main(void *arg)
{
	struct batcher *b = arg;
	char text[96];

	for (int i = 0; i < BATCHES; i++) {
		int n = snprintf(text, sizeof(text), "%d %d 0\n%d %d 1\n%d %d 2\n", b->n, i, b->n, i,
				 b->n, i);
		int rc;

		while ((rc = state_queue_push(b->st, b->id, text, (size_t)n)) == -EAGAIN &&
		       !__atomic_load_n(b->stop, __ATOMIC_RELAXED))
			sched_yield();
		if (rc != 0) {
			b->failures++;
			break;
		}
	}
	return NULL;
}

/* The items of one push enter together: a single consumer sees the three
 * items of each batch one after the other, whatever the other producers do. */
static void test_state_push_items_stay_together(void **state)
{
	struct state *st = *state;
	struct batcher b[BATCHERS];
	pthread_t t[BATCHERS];
	char item[QUEUE_MAX_ITEM + 1];
	int next[BATCHERS] = { 0 };
	uint64_t id = create_ok(st, "batches");
	int taken = 0, bp = -1, bi = -1, stop = 0;
	char why[256] = "";

	assert_int_equal(state_queue_set_capacity(st, id, 7), 0);
	for (int k = 0; k < BATCHERS; k++) {
		b[k] = (struct batcher){ st, id, k, 0, &stop };
		assert_int_equal(pthread_create(&t[k], NULL, batcher_main, &b[k]), 0);
	}
	while (!why[0] && taken < BATCHERS * BATCHES * 3) {
		int p = -1, i = -1, part = -1, rc;
		size_t len;

		rc = state_queue_pop(st, id, sizeof(item), item, &len);
		if (rc == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (rc != 0) {
			snprintf(why, sizeof(why), "pop: rc %d", rc);
			break;
		}
		item[len] = '\0';
		if (sscanf(item, "%d %d %d", &p, &i, &part) != 3 || p < 0 || p >= BATCHERS)
			snprintf(why, sizeof(why), "item %d is \"%.40s\"", taken, item);
		else if (part != taken % 3)
			snprintf(why, sizeof(why), "item %d is \"%.40s\": batches are interleaved", taken,
				 item);
		else if (part == 0 && i != next[p])
			snprintf(why, sizeof(why), "item %d is \"%.40s\", want batch %d %d", taken, item, p,
				 next[p]);
		else if (part != 0 && (p != bp || i != bi))
			snprintf(why, sizeof(why), "item %d is \"%.40s\" inside batch %d %d", taken, item,
				 bp, bi);
		if (why[0])
			break;
		if (part == 0) {
			bp = p;
			bi = i;
		}
		if (part == 2)
			next[p]++;
		taken++;
	}
	__atomic_store_n(&stop, why[0] != 0, __ATOMIC_RELAXED);
	for (int k = 0; k < BATCHERS; k++)
		pthread_join(t[k], NULL);
	if (why[0])
		fail_msg("%s", why);
	for (int k = 0; k < BATCHERS; k++) {
		assert_int_equal(b[k].failures, 0);
		assert_int_equal(next[k], BATCHES);
	}
	assert_int_equal(spop_rc(st, id), -EAGAIN);
}

/* ---- with a journal --------------------------------------------------- */

struct store_fixture {
	char dir[64];
	struct state *st;
};

static int fail_pwrite_errno;
static int fail_fdatasync;

static ssize_t fake_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (fail_pwrite_errno) {
		errno = fail_pwrite_errno;
		return -1;
	}
	return pwrite(fd, buf, n, off);
}

static int fake_fdatasync(int fd)
{
	if (fail_fdatasync) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

static const struct store_io fake_io = {
	.openat = real_openat,
	.pwrite = fake_pwrite,
	.fdatasync = fake_fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
};

static int setup_store(void **state)
{
	struct store_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (scratch_dir(f->dir, sizeof(f->dir), "rwfs-queues") != 0) {
		free(f);
		return -1;
	}
	fail_pwrite_errno = 0;
	fail_fdatasync = 0;
	*state = f;
	return 0;
}

static int teardown_store(void **state)
{
	struct store_fixture *f = *state;
	char cmd[128];

	state_free(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A fresh state restored from the fixture's directory (the old one is
 * freed first: the directory is locked by its store). */
static struct state *reopen(struct store_fixture *f, enum store_sync sync, uint64_t compact)
{
	struct store_options o = {
		.dir = f->dir, .sync = sync, .compact_bytes = compact, .io = &fake_io,
	};
	struct store *s = NULL;
	char msg[256] = "";
	int rc;

	state_free(f->st);
	f->st = state_new(16, NULL);
	assert_non_null(f->st);
	rc = store_open(&o, state_restore, f->st, &s, msg, sizeof(msg));
	if (rc != 0)
		fail_msg("store_open: rc %d: %s", rc, msg);
	state_attach_store(f->st, s);
	return f->st;
}

static uint64_t find_ok(struct state *st, const char *name)
{
	uint64_t id = 0;

	if (state_queue_find(st, name, strlen(name), &id, NULL) != 0)
		fail_msg("no queue \"%s\" after the restart", name);
	return id;
}

static void test_journal_restores_queues(void **state)
{
	struct store_fixture *f = *state;
	struct state *st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	uint64_t jobs, sealed, gone, over;

	jobs = create_ok(st, "jobs");
	sealed = create_ok(st, "sealed");
	gone = create_ok(st, "gone");
	over = create_ok(st, "over");
	spush_ok(st, jobs, "one\ntwo words\n\n  padded  \nfive");
	spop_expect(st, jobs, "one");
	spush_ok(st, jobs, "six");
	assert_int_equal(state_queue_set_capacity(st, jobs, 9), 0);
	spush_ok(st, sealed, "s1\ns2");
	assert_int_equal(state_queue_seal(st, sealed, true), 0);
	spush_ok(st, gone, "lost with its queue");
	assert_int_equal(state_queue_delete(st, "gone", 4, &gone), 0);
	assert_int_equal(state_queue_set_capacity(st, over, 2), 0);
	spush_ok(st, over, "o1\no2");
	spop_expect(st, over, "o1");
	spush_ok(st, over, "o3");
	assert_int_equal(state_queue_unpop(st, over, "o1", 2), 0);

	st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	jobs = find_ok(st, "jobs");
	sealed = find_ok(st, "sealed");
	over = find_ok(st, "over");
	assert_int_equal(state_queue_find(st, "gone", 4, &gone, NULL), -ENOENT);
	assert_int_equal(sstats(st, jobs).capacity, 9);
	assert_int_equal(sstats(st, jobs).depth, 5);
	spop_expect(st, jobs, "two words");
	spop_expect(st, jobs, "");
	spop_expect(st, jobs, "  padded  ");
	spop_expect(st, jobs, "five");
	spop_expect(st, jobs, "six");
	assert_int_equal(spop_rc(st, jobs), -EAGAIN);
	assert_true(sstats(st, sealed).sealed);
	assert_int_equal(spush(st, sealed, "s3"), -EPIPE);
	spop_expect(st, sealed, "s1");
	spop_expect(st, sealed, "s2");
	assert_int_equal(spop_rc(st, sealed), 1);
	assert_int_equal(sstats(st, over).depth, 3);
	assert_int_equal(sstats(st, over).capacity, 2);
	spop_expect(st, over, "o1");
	spop_expect(st, over, "o2");
	spop_expect(st, over, "o3");

	/* What was popped after the restart stays popped. */
	st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	assert_int_equal(sstats(st, find_ok(st, "jobs")).depth, 0);
	assert_int_equal(spop_rc(st, find_ok(st, "sealed")), 1);
	assert_int_equal(sstats(st, find_ok(st, "over")).depth, 0);
}

/* A model of one queue's items, to compare with after a restart. */
struct model {
	char items[2048][64];
	size_t head, tail;
};

static void model_push(struct model *m, const char *item)
{
	assert_true(m->tail < 2048);
	snprintf(m->items[m->tail++], sizeof(m->items[0]), "%s", item);
}

static void model_check(struct model *m, struct state *st, uint64_t id)
{
	assert_int_equal(sstats(st, id).depth, m->tail - m->head);
	while (m->head < m->tail)
		spop_expect(st, id, m->items[m->head++]);
	assert_int_equal(spop_rc(st, id), -EAGAIN);
}

static long journal_size(struct store_fixture *f, const char *name)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* A journal compacted many times: the snapshot's queue records rebuild the
 * same queues (items with spaces, empty items, a seal, a depth over the
 * capacity). */
static void test_compaction_keeps_queues(void **state)
{
	struct store_fixture *f = *state;
	static struct model m;
	struct state *st = reopen(f, STORE_SYNC_NO, 512);
	uint64_t q, s, o, filler;
	char text[40];

	memset(&m, 0, sizeof(m));
	q = create_ok(st, "q");
	s = create_ok(st, "s");
	o = create_ok(st, "o");
	filler = create_ok(st, "filler");
	assert_int_equal(state_queue_set_capacity(st, q, 1000), 0);
	/* 300 rounds: an item with spaces and an empty item in, one out. */
	for (int i = 0; i < 300; i++) {
		snprintf(text, sizeof(text), " %d  x ", i);
		model_push(&m, text);
		model_push(&m, "");
		strcat(text, "\n\n");
		spush_ok(st, q, text);
		spop_expect(st, q, m.items[m.head++]);
	}
	spush_ok(st, s, "sealed item");
	assert_int_equal(state_queue_seal(st, s, true), 0);
	assert_int_equal(state_queue_set_capacity(st, o, 1), 0);
	spush_ok(st, o, "o2");
	assert_int_equal(state_queue_unpop(st, o, "o1", 2), 0);
	/* More changes, so that compactions ran after all of the above. */
	for (int i = 0; i < 100; i++) {
		spush_ok(st, filler, "f");
		spop_expect(st, filler, "f");
	}
	assert_true(journal_size(f, "snapshot") > 0);
	assert_true(journal_size(f, "journal") < 2048);

	st = reopen(f, STORE_SYNC_NO, 512);
	q = find_ok(st, "q");
	s = find_ok(st, "s");
	o = find_ok(st, "o");
	assert_int_equal(sstats(st, q).capacity, 1000);
	assert_true(sstats(st, s).sealed);
	assert_int_equal(spush(st, s, "x"), -EPIPE);
	assert_int_equal(sstats(st, o).capacity, 1);
	assert_int_equal(sstats(st, o).depth, 2);
	assert_int_equal(spush(st, o, "o3"), -EAGAIN);
	model_check(&m, st, q);
	spop_expect(st, s, "sealed item");
	assert_int_equal(spop_rc(st, s), 1);
	spop_expect(st, o, "o1");
	spop_expect(st, o, "o2");
	assert_int_equal(sstats(st, find_ok(st, "filler")).depth, 0);
}

/* A journal that refuses a change (full disk, I/O error): the change fails
 * with that error and nothing changes, in memory or after a restart. */
static void test_refused_journal_changes_nothing(void **state)
{
	static const int errors[] = { ENOSPC, EIO };
	struct store_fixture *f = *state;
	struct state *st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	uint64_t id = create_ok(st, "jobs"), other;
	char item[QUEUE_MAX_ITEM + 1];
	size_t len;

	spush_ok(st, id, "a\nb");
	for (size_t k = 0; k < sizeof(errors) / sizeof(errors[0]); k++) {
		int e = errors[k];

		fail_pwrite_errno = e;
		assert_int_equal(spush(st, id, "c\nd"), -e);
		assert_int_equal(state_queue_pop(st, id, sizeof(item), item, &len), -e);
		assert_int_equal(state_queue_seal(st, id, true), -e);
		assert_int_equal(state_queue_set_capacity(st, id, 5), -e);
		assert_int_equal(state_queue_create(st, "new", 3, &other), -e);
		assert_int_equal(state_queue_delete(st, "jobs", 4, &other), -e);
		fail_pwrite_errno = 0;
		expect_sstats(st, id, 2, 4, QUEUES_DEFAULT_CAPACITY, 2, 0, false);
		assert_int_equal(state_queue_find(st, "new", 3, &other, NULL), -ENOENT);
		assert_int_equal(state_queue_find(st, "jobs", 4, &other, NULL), 0);
	}
	st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	id = find_ok(st, "jobs");
	assert_int_equal(state_queue_find(st, "new", 3, &other, NULL), -ENOENT);
	expect_sstats(st, id, 2, 4, QUEUES_DEFAULT_CAPACITY, 2, 0, false);
	spop_expect(st, id, "a");
	spop_expect(st, id, "b");
}

/* With --sync=always a failed fdatasync fails the change (EIO); DESIGN.md:
 * "the change taken back, so the state in memory stays what is on disk".
 * A pop that fails must leave its item queued: its reader gets the error,
 * not the item, so an item gone with it is lost. */
static void test_failed_sync_pop_keeps_item(void **state)
{
	struct store_fixture *f = *state;
	struct state *st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	uint64_t id = create_ok(st, "jobs");
	char item[QUEUE_MAX_ITEM + 1];
	size_t len;
	int rc;

	spush_ok(st, id, "precious");
	fail_fdatasync = 1;
	rc = state_queue_pop(st, id, sizeof(item), item, &len);
	fail_fdatasync = 0;
	if (rc == 0) {
		assert_int_equal(sstats(st, id).depth, 0);
		return;
	}
	if (sstats(st, id).depth != 1)
		fail_msg("pop failed (rc %d) and its item is gone from the queue: lost", rc);
	st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	id = find_ok(st, "jobs");
	if (sstats(st, id).depth != 1)
		fail_msg("pop failed (rc %d) and its item is gone after a restart: lost", rc);
	spop_expect(st, id, "precious");
}

/* The same for a push: one that fails must not have entered, or the
 * writer's retry puts the items in twice.  (The store's answer to a failed
 * fdatasync is to let the change stand and refuse every later change until
 * a restart; see store.h.) */
static void test_failed_sync_push_enters_nothing(void **state)
{
	struct store_fixture *f = *state;
	struct state *st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	uint64_t id = create_ok(st, "jobs");
	char item[QUEUE_MAX_ITEM + 1];
	size_t len;
	int rc;

	fail_fdatasync = 1;
	rc = spush(st, id, "once");
	fail_fdatasync = 0;
	if (rc == 0) {
		/* It stands; later changes are refused until a restart. */
		assert_int_equal(state_queue_pop(st, id, sizeof(item), item, &len), -EIO);
		st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
		id = find_ok(st, "jobs");
		spop_expect(st, id, "once");
		assert_int_equal(sstats(st, id).depth, 0);
		return;
	}
	if (sstats(st, id).depth != 0)
		fail_msg("push failed (rc %d) but its item is queued: a retry doubles it", rc);
	st = reopen(f, STORE_SYNC_ALWAYS, 1u << 30);
	if (sstats(st, find_ok(st, "jobs")).depth != 0)
		fail_msg("push failed (rc %d) but its item is queued after a restart", rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bounds),
		cmocka_unit_test(test_is_record_table),
#define R(t) cmocka_unit_test_setup_teardown(t, setup_registry, teardown_registry)
		R(test_create_and_lookups),
		R(test_check_create),
		R(test_queues_max),
		R(test_apply_every_verb),
		R(test_apply_malformed),
		R(test_apply_uses_len),
		R(test_check_push),
		R(test_total_bytes_limit),
		R(test_record_format),
		R(test_dump_empty_registry),
		R(test_dump_roundtrip),
		R(test_dump_over_largest_capacity),
#undef R
#define S(t) cmocka_unit_test_setup_teardown(t, setup_state, teardown_state)
		S(test_state_create_find_at_delete),
		S(test_state_queues_max),
		S(test_state_push_pop_errors),
		S(test_state_pop_emsgsize_keeps_item),
		S(test_state_unpop),
		S(test_state_deleted_id),
		S(test_state_default_capacity),
		S(test_state_total_bytes_enospc),
		S(test_state_restore_records),
		S(test_state_concurrent_producers_consumers),
		S(test_state_push_items_stay_together),
#undef S
#define J(t) cmocka_unit_test_setup_teardown(t, setup_store, teardown_store)
		J(test_journal_restores_queues),
		J(test_compaction_keeps_queues),
		J(test_refused_journal_changes_nothing),
		J(test_failed_sync_pop_keeps_item),
		J(test_failed_sync_push_enters_nothing),
#undef J
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
