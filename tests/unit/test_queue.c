/* test_queue.c - unit tests of one bounded FIFO (fs/engine/queue.h): names,
 * splitting a write into items, the capacity and its errors (EFBIG, EAGAIN,
 * EMSGSIZE, EPIPE) with nothing changed on any of them, order, all-or-nothing
 * pushes, peek, held items (pop, ack, return, the end of a session, loading
 * them), the seal and end of file, and the stats counters.
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

#include "queue.h"

/* ---- helpers ---------------------------------------------------------- */

static struct queue *new_ok(const char *name, size_t capacity)
{
	struct queue *q = queue_new(name, capacity);

	assert_non_null(q);
	return q;
}

static int push(struct queue *q, const char *text)
{
	return queue_push(q, text, strlen(text));
}

static void push_ok(struct queue *q, const char *text)
{
	int rc = push(q, text);

	if (rc != 0)
		fail_msg("push \"%s\": rc %d", text, rc);
}

static struct queue_stats stats(const struct queue *q)
{
	struct queue_stats st;

	memset(&st, 0xa5, sizeof(st));
	queue_get_stats(q, &st);
	return st;
}

static void expect_stats(const struct queue *q, uint64_t depth, uint64_t bytes,
			 uint64_t capacity, uint64_t in, uint64_t out, bool sealed)
{
	struct queue_stats st = stats(q);

	assert_int_equal(st.depth, depth);
	assert_int_equal(st.bytes, bytes);
	assert_int_equal(st.capacity, capacity);
	assert_int_equal(st.total_in, in);
	assert_int_equal(st.total_out, out);
	assert_int_equal(st.sealed, sealed);
}

static void expect_held(const struct queue *q, uint64_t held, uint64_t held_bytes)
{
	struct queue_stats st = stats(q);

	assert_int_equal(st.held, held);
	assert_int_equal(st.held_bytes, held_bytes);
}

/* Pops the head item for (session, reader), which must be want (len bytes),
 * and leaves it held. */
static void hold_expect_n(struct queue *q, uint64_t session, uint64_t reader,
			  const char *want, size_t want_len)
{
	const char *item = NULL;
	size_t len = 99999;
	int rc = queue_pop(q, session, reader, UINT64_MAX, &item, &len);

	if (rc != 0)
		fail_msg("pop for \"%.*s\": rc %d", (int)want_len, want, rc);
	assert_int_equal(len, want_len);
	assert_memory_equal(item, want, want_len);
}

static void hold_expect(struct queue *q, uint64_t session, uint64_t reader, const char *want)
{
	hold_expect_n(q, session, reader, want, strlen(want));
}

/* Takes the head item, which must be want (len bytes): popped and received. */
static void pop_expect_n(struct queue *q, const char *want, size_t want_len)
{
	hold_expect_n(q, 1, 1, want, want_len);
	assert_int_equal(queue_ack(q, 1, 1), 0);
}

static void pop_expect(struct queue *q, const char *want)
{
	pop_expect_n(q, want, strlen(want));
}

static void expect_empty(struct queue *q)
{
	const char *item;
	size_t len;

	assert_int_equal(queue_peek(q, &item, &len), -EAGAIN);
}

/* Collects the items of queue_for_each as "item|item|". */
struct collected {
	char text[8192];
	size_t len;
	unsigned count;
};

static int collect(void *arg, const char *item, size_t len)
{
	struct collected *c = arg;

	assert_true(c->len + len + 1 < sizeof(c->text));
	memcpy(c->text + c->len, item, len);
	c->len += len;
	c->text[c->len++] = '|';
	c->text[c->len] = '\0';
	c->count++;
	return 0;
}

/* Collects the held items as "session/reader:item|". */
static int collect_held(void *arg, uint64_t session, uint64_t reader, const char *item,
			size_t len)
{
	struct collected *c = arg;
	int n = snprintf(c->text + c->len, sizeof(c->text) - c->len, "%llu/%llu:%.*s|",
			 (unsigned long long)session, (unsigned long long)reader, (int)len, item);

	assert_true(n > 0 && c->len + (size_t)n < sizeof(c->text));
	c->len += (size_t)n;
	c->count++;
	return 0;
}

static void expect_held_items(const struct queue *q, const char *want)
{
	struct collected c = { .len = 0 };

	c.text[0] = '\0';
	assert_int_equal(queue_for_each_held(q, collect_held, &c), 0);
	if (strcmp(c.text, want) != 0)
		fail_msg("held \"%s\", want \"%s\"", c.text, want);
}

static struct collected contents(const struct queue *q)
{
	struct collected c = { .len = 0 };

	c.text[0] = '\0';
	assert_int_equal(queue_for_each(q, collect, &c), 0);
	return c;
}

static void expect_contents(const struct queue *q, const char *want)
{
	struct collected c = contents(q);

	if (strcmp(c.text, want) != 0)
		fail_msg("contents \"%s\", want \"%s\"", c.text, want);
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

/* ---- names ------------------------------------------------------------ */

static void test_name_valid_table(void **state)
{
	static const struct {
		const char *name;
		size_t len; /* 0: strlen */
		bool valid;
	} cases[] = {
		{ "a", 0, true },
		{ "jobs", 0, true },
		{ "A-Z_a-z.0-9", 0, true },
		{ "...", 0, true },
		{ ".hidden", 0, true },
		{ "a.", 0, true },
		{ "-", 0, true },
		{ "_", 0, true },
		{ "0", 0, true },
		{ "", 0, false },
		{ ".", 0, false },
		{ "..", 0, false },
		{ "a b", 0, false },
		{ "a/b", 0, false },
		{ "/", 0, false },
		{ "a\nb", 0, false },
		{ "a\tb", 0, false },
		{ "a:b", 0, false },
		{ "a*", 0, false },
		{ "caf\xc3\xa9", 0, false },
		{ "a+b", 0, false },
		{ "a\0b", 3, false },
	};
	char *n64 = repeat('x', 64), *n65 = repeat('y', 65), *n1000 = repeat('z', 1000);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].name);

		if (queue_name_valid(cases[i].name, len) != cases[i].valid)
			fail_msg("queue_name_valid(\"%s\", %zu) is %d", cases[i].name, len,
				 !cases[i].valid);
	}
	assert_true(queue_name_valid(n64, 64));
	assert_false(queue_name_valid(n65, 65));
	assert_false(queue_name_valid(n1000, 1000));
	/* Only len bytes count: a prefix of a bad name may be good. */
	assert_true(queue_name_valid("ab cd", 2));
	assert_false(queue_name_valid("..x", 2));
	assert_true(queue_name_valid("..x", 3));
	free(n64);
	free(n65);
	free(n1000);
}

static void test_new_refuses_bad_names(void **state)
{
	char *n64 = repeat('q', 64), *n65 = repeat('q', 65);
	struct queue *q;

	(void)state;
	assert_null(queue_new("", 10));
	assert_null(queue_new(".", 10));
	assert_null(queue_new("..", 10));
	assert_null(queue_new("a b", 10));
	assert_null(queue_new(n65, 10));
	q = new_ok(n64, 10);
	assert_string_equal(queue_name(q), n64);
	queue_free(q);
	q = new_ok("jobs", 10);
	assert_string_equal(queue_name(q), "jobs");
	expect_stats(q, 0, 0, 10, 0, 0, false);
	queue_free(q);
	queue_free(NULL);
	free(n64);
	free(n65);
}

static void test_capacity_zero_means_one(void **state)
{
	struct queue *q = new_ok("q", 0);

	(void)state;
	assert_int_equal(stats(q).capacity, 1);
	push_ok(q, "a");
	assert_int_equal(push(q, "b"), -EAGAIN);
	queue_set_capacity(q, 0);
	assert_int_equal(stats(q).capacity, 1);
	queue_free(q);
}

/* ---- splitting a write into items ------------------------------------- */

static void test_count_items_table(void **state)
{
	static const struct {
		const char *text;
		long want;
	} cases[] = {
		{ "a", 1 },
		{ "a\n", 1 },
		{ "a\nb", 2 },
		{ "a\nb\n", 2 },
		{ "\n", 1 },
		{ "\n\n", 2 },
		{ "\n\n\n", 3 },
		{ "a\n\nb\n", 3 },
		{ "a\n\n", 2 },
		{ "hello world\n", 1 },
		{ " \n", 1 },
		{ "x\r\ny\r\n", 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long n = queue_count_items(cases[i].text, strlen(cases[i].text));

		if (n != cases[i].want)
			fail_msg("queue_count_items(\"%s\") = %ld, want %ld", cases[i].text, n,
				 cases[i].want);
	}
	assert_int_equal(queue_count_items("", 0), -EINVAL);
	/* Only len bytes count; a NUL is an ordinary byte. */
	assert_int_equal(queue_count_items("a\nb\nc", 3), 2);
	assert_int_equal(queue_count_items("a\0b\nc", 5), 2);
}

static void test_count_items_max_size(void **state)
{
	char *max = repeat('m', QUEUE_MAX_ITEM), *over = repeat('o', QUEUE_MAX_ITEM + 1);
	char *two = malloc(2 * QUEUE_MAX_ITEM + 3);

	(void)state;
	assert_int_equal(queue_count_items(max, QUEUE_MAX_ITEM), 1);
	assert_int_equal(queue_count_items(over, QUEUE_MAX_ITEM + 1), -EMSGSIZE);
	/* The newline is not part of the item. */
	max = realloc(max, QUEUE_MAX_ITEM + 2);
	assert_non_null(max);
	max[QUEUE_MAX_ITEM] = '\n';
	assert_int_equal(queue_count_items(max, QUEUE_MAX_ITEM + 1), 1);
	/* A good item then an oversized one. */
	assert_non_null(two);
	memcpy(two, "ok\n", 3);
	memset(two + 3, 'z', QUEUE_MAX_ITEM + 1);
	assert_int_equal(queue_count_items(two, 3 + QUEUE_MAX_ITEM + 1), -EMSGSIZE);
	/* What a damaged journal may carry: a 20,000-byte item. */
	{
		char *huge = repeat('h', 20000);

		assert_int_equal(queue_count_items(huge, 20000), -EMSGSIZE);
		free(huge);
	}
	free(max);
	free(over);
	free(two);
}

/* ---- push and pop ----------------------------------------------------- */

static void test_fifo_order_and_items(void **state)
{
	struct queue *q = new_ok("q", 100);

	(void)state;
	push_ok(q, "one\ntwo\nthree");
	push_ok(q, "four\n");
	push_ok(q, "\n");          /* an empty item */
	push_ok(q, "five\n\nsix\n"); /* an empty item between two */
	expect_contents(q, "one|two|three|four||five||six|");
	expect_stats(q, 8, 4 + 4 + 6 + 5 + 1 + 5 + 1 + 4, 100, 8, 0, false);
	pop_expect(q, "one");
	pop_expect(q, "two");
	pop_expect(q, "three");
	pop_expect(q, "four");
	pop_expect(q, "");
	pop_expect(q, "five");
	pop_expect(q, "");
	pop_expect(q, "six");
	expect_empty(q);
	expect_stats(q, 0, 0, 100, 8, 8, false);
	/* The list works again after it was emptied. */
	push_ok(q, "again");
	pop_expect(q, "again");
	expect_empty(q);
	queue_free(q);
}

static void test_items_keep_every_byte(void **state)
{
	static const char text[] = "tab\there\r\n  spaces  \nnul\0inside\n\xff\xfe";
	struct queue *q = new_ok("bytes", 10);

	(void)state;
	assert_int_equal(queue_push(q, text, sizeof(text) - 1), 0);
	assert_int_equal(stats(q).depth, 4);
	pop_expect(q, "tab\there\r");
	pop_expect(q, "  spaces  ");
	pop_expect_n(q, "nul\0inside", 10);
	pop_expect_n(q, "\xff\xfe", 2);
	queue_free(q);
}

static void test_largest_item(void **state)
{
	char *max = repeat('m', QUEUE_MAX_ITEM), *over = repeat('o', QUEUE_MAX_ITEM + 1);
	struct queue *q = new_ok("big", 3);

	(void)state;
	assert_int_equal(push(q, over), -EMSGSIZE);
	expect_stats(q, 0, 0, 3, 0, 0, false);
	push_ok(q, max);
	expect_stats(q, 1, QUEUE_MAX_ITEM + 1, 3, 1, 0, false);
	pop_expect(q, max);
	free(max);
	free(over);
	queue_free(q);
}

static void test_capacity_bounds(void **state)
{
	struct queue *q = new_ok("cap", 3);

	(void)state;
	assert_true(queue_has_room(q, 3));
	assert_false(queue_has_room(q, 4));
	/* More items than the capacity can never fit: EFBIG, even when empty. */
	assert_int_equal(push(q, "1\n2\n3\n4\n"), -EFBIG);
	assert_int_equal(push(q, "1\n2\n3\n4"), -EFBIG);
	expect_stats(q, 0, 0, 3, 0, 0, false);
	push_ok(q, "a\nb");
	assert_true(queue_has_room(q, 1));
	assert_false(queue_has_room(q, 2));
	/* Not enough room now: EAGAIN, and nothing of the push enters. */
	assert_int_equal(push(q, "c\nd\n"), -EAGAIN);
	expect_stats(q, 2, 4, 3, 2, 0, false);
	expect_contents(q, "a|b|");
	push_ok(q, "c");
	assert_false(queue_has_room(q, 1));
	assert_true(queue_has_room(q, 0));
	assert_int_equal(push(q, "d"), -EAGAIN);
	assert_int_equal(push(q, "\n"), -EAGAIN);
	/* Still EFBIG when full: the size error wins over "wait". */
	assert_int_equal(push(q, "1\n2\n3\n4\n"), -EFBIG);
	expect_stats(q, 3, 6, 3, 3, 0, false);
	expect_contents(q, "a|b|c|");
	/* Room for exactly the items of a push. */
	pop_expect(q, "a");
	pop_expect(q, "b");
	assert_int_equal(push(q, "x\ny\nz\n"), -EAGAIN);
	push_ok(q, "x\ny\n");
	expect_contents(q, "c|x|y|");
	expect_stats(q, 3, 6, 3, 5, 2, false);
	queue_free(q);
}

static void test_push_is_all_or_nothing(void **state)
{
	char *text = malloc(3 * QUEUE_MAX_ITEM);
	struct queue *q = new_ok("aon", 10);
	size_t len;

	(void)state;
	assert_non_null(text);
	push_ok(q, "keep");
	/* Two good items, then one too long: none enters. */
	len = (size_t)sprintf(text, "good1\ngood2\n");
	memset(text + len, 'L', QUEUE_MAX_ITEM + 1);
	len += QUEUE_MAX_ITEM + 1;
	memcpy(text + len, "\ngood3\n", 7);
	len += 7;
	assert_int_equal(queue_push(q, text, len), -EMSGSIZE);
	expect_contents(q, "keep|");
	expect_stats(q, 1, 5, 10, 1, 0, false);
	/* An empty write is no push at all. */
	assert_int_equal(queue_push(q, "", 0), -EINVAL);
	expect_stats(q, 1, 5, 10, 1, 0, false);
	free(text);
	queue_free(q);
}

static void test_empty_items(void **state)
{
	struct queue *q = new_ok("empty", 5);

	(void)state;
	push_ok(q, "\n\n");
	expect_stats(q, 2, 2, 5, 2, 0, false);
	pop_expect(q, "");
	pop_expect(q, "");
	expect_stats(q, 0, 0, 5, 2, 2, false);
	queue_free(q);
}

static void test_peek_does_not_take(void **state)
{
	struct queue *q = new_ok("peek", 5);
	const char *item;
	size_t len;

	(void)state;
	expect_empty(q);
	push_ok(q, "head\ntail");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(queue_peek(q, &item, &len), 0);
		assert_int_equal(len, 4);
		assert_memory_equal(item, "head", 4);
	}
	expect_stats(q, 2, 10, 5, 2, 0, false);
	pop_expect(q, "head");
	assert_int_equal(queue_peek(q, &item, &len), 0);
	assert_memory_equal(item, "tail", 4);
	expect_stats(q, 1, 5, 5, 2, 1, false);
	queue_free(q);
}

/* ---- held items: pop, ack, return, end of session --------------------- */

static void test_pop_holds_until_ack(void **state)
{
	struct queue *q = new_ok("hold", 5);

	(void)state;
	push_ok(q, "a\nbb\nc");
	hold_expect(q, 7, 1, "a");
	/* Held: no longer waiting, not yet out. */
	expect_stats(q, 2, 5, 5, 3, 0, false);
	expect_held(q, 1, 2);
	expect_held_items(q, "7/1:a|");
	/* The same reader of another session, another reader: both may hold. */
	hold_expect(q, 8, 1, "bb");
	hold_expect(q, 7, 2, "c");
	expect_held(q, 3, 2 + 3 + 2);
	expect_held_items(q, "7/1:a|8/1:bb|7/2:c|");
	expect_empty(q);
	/* A held item makes room: it no longer counts against the capacity. */
	assert_true(queue_has_room(q, 5));
	assert_int_equal(queue_ack(q, 8, 1), 0);
	expect_held_items(q, "7/1:a|7/2:c|");
	expect_stats(q, 0, 0, 5, 3, 1, false);
	/* Acknowledged once: nothing held for them any more. */
	assert_int_equal(queue_ack(q, 8, 1), -ENOENT);
	assert_int_equal(queue_return(q, 8, 1), -ENOENT);
	assert_int_equal(queue_ack(q, 1, 7), -ENOENT);
	assert_int_equal(queue_ack(q, 7, 1), 0);
	assert_int_equal(queue_ack(q, 7, 2), 0);
	expect_held(q, 0, 0);
	expect_stats(q, 0, 0, 5, 3, 3, false);
	/* The held list works again after it was emptied. */
	push_ok(q, "d");
	hold_expect(q, 1, 1, "d");
	expect_held_items(q, "1/1:d|");
	assert_int_equal(queue_ack(q, 1, 1), 0);
	queue_free(q);
}

/* A pop that is refused changes nothing: EEXIST, EMSGSIZE, EAGAIN, EOF. */
static void test_pop_refusals(void **state)
{
	static const struct {
		uint64_t session, reader, room;
		int rc;
	} cases[] = {
		{ 1, 1, UINT64_MAX, -EEXIST }, /* (1, 1) holds "held" */
		{ 2, 1, 0, -EMSGSIZE },
		{ 2, 1, 1, -EMSGSIZE },
		{ 2, 1, 5, -EMSGSIZE },       /* "hello\n" needs 6 */
	};
	struct queue *q = new_ok("refuse", 5);
	const char *item;
	size_t len;

	(void)state;
	push_ok(q, "held\nhello\n\n");
	hold_expect(q, 1, 1, "held");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = queue_pop(q, cases[i].session, cases[i].reader, cases[i].room, &item,
				   &len);

		if (rc != cases[i].rc)
			fail_msg("case %zu: pop rc %d, want %d", i, rc, cases[i].rc);
		if (cases[i].rc != -EEXIST)
			assert_int_equal(queue_check_pop(q, cases[i].room), cases[i].rc);
		expect_contents(q, "hello||");
		expect_held_items(q, "1/1:held|");
	}
	assert_int_equal(queue_check_pop(q, 6), 0);
	assert_int_equal(queue_pop(q, 2, 1, 6, &item, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(item, "hello", 5);
	/* An empty item needs one byte: its newline. */
	assert_int_equal(queue_check_pop(q, 0), -EMSGSIZE);
	assert_int_equal(queue_pop(q, 3, 1, 0, &item, &len), -EMSGSIZE);
	assert_int_equal(queue_pop(q, 3, 1, 1, &item, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(queue_check_pop(q, 100), -EAGAIN);
	assert_int_equal(queue_pop(q, 4, 1, 100, &item, &len), -EAGAIN);
	expect_held_items(q, "1/1:held|2/1:hello|3/1:|");
	queue_free(q);
}

static void test_return_requeues_at_head(void **state)
{
	struct queue *q = new_ok("back", 3);

	(void)state;
	push_ok(q, "a\nb\nc");
	hold_expect(q, 1, 1, "a");
	expect_stats(q, 2, 4, 3, 3, 0, false);
	push_ok(q, "d"); /* the reader's place is taken: full again */
	/* The reader did not get it: the item goes back first, over the capacity. */
	assert_int_equal(queue_return(q, 1, 1), 0);
	assert_int_equal(queue_return(q, 1, 1), -ENOENT);
	expect_stats(q, 4, 8, 3, 4, 0, false);
	expect_held(q, 0, 0);
	expect_contents(q, "a|b|c|d|");
	assert_false(queue_has_room(q, 1));
	assert_int_equal(push(q, "e"), -EAGAIN);
	pop_expect(q, "a");
	assert_int_equal(push(q, "e"), -EAGAIN); /* still 3 of 3 */
	pop_expect(q, "b");
	push_ok(q, "e");
	expect_contents(q, "c|d|e|");
	queue_free(q);
}

static void test_return_on_empty_and_sealed_queue(void **state)
{
	struct queue *q = new_ok("back0", 3);

	(void)state;
	push_ok(q, "only");
	hold_expect(q, 1, 1, "only");
	expect_empty(q);
	assert_int_equal(queue_return(q, 1, 1), 0);
	/* The tail follows: a push lands after the returned item. */
	push_ok(q, "next");
	expect_contents(q, "only|next|");
	pop_expect(q, "only");
	pop_expect(q, "next");
	/* An empty item goes back too, and into a sealed queue. */
	push_ok(q, "\n");
	hold_expect(q, 1, 2, "");
	queue_seal(q, true);
	assert_int_equal(queue_return(q, 1, 2), 0);
	expect_stats(q, 1, 1, 3, 3, 2, true);
	pop_expect(q, "");
	queue_free(q);
}

/* Two pops held, returned in the order a kernel may report them: each goes
 * to the head, so the one returned last is read first. */
static void test_returns_each_go_to_head(void **state)
{
	struct queue *q = new_ok("order", 10);

	(void)state;
	push_ok(q, "1\n2\n3");
	hold_expect(q, 1, 1, "1");
	hold_expect(q, 1, 2, "2");
	assert_int_equal(queue_return(q, 1, 1), 0);
	expect_contents(q, "1|3|");
	assert_int_equal(queue_return(q, 1, 2), 0);
	expect_contents(q, "2|1|3|");
	queue_free(q);
}

static void test_end_session_returns_in_pop_order(void **state)
{
	struct queue *q = new_ok("session", 10);

	(void)state;
	push_ok(q, "a\nb\nc\nd\ne\nf");
	hold_expect(q, 1, 1, "a");
	hold_expect(q, 2, 1, "b");
	hold_expect(q, 1, 2, "c");
	hold_expect(q, 1, 3, "d");
	assert_int_equal(queue_ack(q, 1, 2), 0); /* "c" was received */
	expect_held_items(q, "1/1:a|2/1:b|1/3:d|");
	/* Session 1 is gone: "a" and "d" come back at the head, "a" first. */
	assert_int_equal(queue_end_session(q, 1), 2);
	expect_contents(q, "a|d|e|f|");
	expect_held_items(q, "2/1:b|");
	expect_stats(q, 4, 8, 10, 6, 1, false);
	assert_int_equal(queue_end_session(q, 1), 0);
	assert_int_equal(queue_end_session(q, 99), 0);
	expect_contents(q, "a|d|e|f|");
	/* Into an empty queue: the tail follows. */
	pop_expect(q, "a");
	pop_expect(q, "d");
	pop_expect(q, "e");
	pop_expect(q, "f");
	assert_int_equal(queue_end_session(q, 2), 1);
	expect_held(q, 0, 0);
	push_ok(q, "g");
	expect_contents(q, "b|g|");
	queue_free(q);
}

static void test_add_held_bounds(void **state)
{
	char *max = repeat('m', QUEUE_MAX_ITEM), *huge = repeat('h', 20000);
	struct queue *q = new_ok("load", 1);

	(void)state;
	assert_int_equal(queue_add_held(q, 1, 1, huge, 20000), -EMSGSIZE);
	assert_int_equal(queue_add_held(q, 1, 1, max, QUEUE_MAX_ITEM + 1), -EMSGSIZE);
	/* Only what a push makes: a newline would make two items of one. */
	assert_int_equal(queue_add_held(q, 1, 1, "a\nb", 3), -EINVAL);
	assert_int_equal(queue_add_held(q, 1, 1, "\n", 1), -EINVAL);
	expect_held(q, 0, 0);
	assert_int_equal(queue_add_held(q, 1, 1, max, QUEUE_MAX_ITEM), 0);
	assert_int_equal(queue_add_held(q, 1, 1, "x", 1), -EEXIST);
	/* Held items take no room: the capacity of 1 is no bound here. */
	assert_int_equal(queue_add_held(q, 2, 1, "", 0), 0);
	assert_int_equal(queue_add_held(q, 1, 2, "b", 1), 0);
	expect_held(q, 3, QUEUE_MAX_ITEM + 1 + 1 + 2);
	expect_stats(q, 0, 0, 1, 0, 0, false);
	/* They come after each other, as if popped in that order. */
	assert_int_equal(queue_end_session(q, 1), 2);
	pop_expect(q, max);
	pop_expect(q, "b");
	/* And a held one answers to ack. */
	assert_int_equal(queue_ack(q, 2, 1), 0);
	expect_held(q, 0, 0);
	free(max);
	free(huge);
	queue_free(q);
}

/* A sealed queue whose last item is held is not at its end: the item may
 * come back. */
static void test_eof_waits_for_held_items(void **state)
{
	struct queue *q = new_ok("eof", 5);
	const char *item;
	size_t len;

	(void)state;
	push_ok(q, "last");
	queue_seal(q, true);
	hold_expect(q, 1, 1, "last");
	assert_int_equal(queue_peek(q, &item, &len), -EAGAIN);
	assert_int_equal(queue_check_pop(q, 100), -EAGAIN);
	assert_int_equal(queue_return(q, 1, 1), 0);
	hold_expect(q, 1, 2, "last");
	assert_int_equal(queue_ack(q, 1, 2), 0);
	assert_int_equal(queue_peek(q, &item, &len), 1);
	assert_int_equal(queue_check_pop(q, 0), 1);
	assert_int_equal(queue_pop(q, 1, 3, 100, &item, &len), 1);
	expect_held(q, 0, 0);
	queue_free(q);
}

/* queue_check_push answers what queue_push would, and changes nothing. */
static void test_check_push_matches_push(void **state)
{
	static const struct {
		const char *text;
		bool sealed;
		long check;
	} cases[] = {
		{ "x", false, 1 },
		{ "x\ny\n", false, 2 },
		{ "x\ny\nz", false, -EAGAIN },
		{ "1\n2\n3\n4\n5\n6", false, -EFBIG },
		{ "", false, -EINVAL },
		{ "x", true, -EPIPE },
		{ "", true, -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct queue *q = new_ok("check", 5);
		size_t len = strlen(cases[i].text);
		long n;

		push_ok(q, "a\nb\nc");
		queue_seal(q, cases[i].sealed);
		n = queue_check_push(q, cases[i].text, len);
		if (n != cases[i].check)
			fail_msg("check_push \"%s\": %ld, want %ld", cases[i].text, n,
				 cases[i].check);
		expect_contents(q, "a|b|c|");
		assert_int_equal(queue_push(q, cases[i].text, len), n < 0 ? n : 0);
		if (n < 0)
			expect_contents(q, "a|b|c|");
		queue_free(q);
	}
}

/* ---- seal ------------------------------------------------------------- */

static void test_seal(void **state)
{
	struct queue *q = new_ok("seal", 5);
	const char *item;
	size_t len;

	(void)state;
	push_ok(q, "x\ny");
	queue_seal(q, true);
	expect_stats(q, 2, 4, 5, 2, 0, true);
	/* No more items; the errors of a bad write stay what they are. */
	assert_int_equal(push(q, "z"), -EPIPE);
	assert_int_equal(push(q, "\n"), -EPIPE);
	assert_int_equal(queue_push(q, "", 0), -EINVAL);
	expect_stats(q, 2, 4, 5, 2, 0, true);
	/* Readers drain what is left, then get end of file (1). */
	pop_expect(q, "x");
	pop_expect(q, "y");
	assert_int_equal(queue_peek(q, &item, &len), 1);
	assert_int_equal(queue_peek(q, &item, &len), 1);
	/* A sealed, full queue: EPIPE, not EAGAIN. */
	queue_seal(q, false);
	push_ok(q, "1\n2\n3\n4\n5");
	queue_seal(q, true);
	assert_int_equal(push(q, "6"), -EPIPE);
	assert_int_equal(queue_peek(q, &item, &len), 0);
	/* Unsealed: pushes work, an empty queue waits again. */
	queue_seal(q, false);
	assert_int_equal(push(q, "6"), -EAGAIN);
	for (int i = 1; i <= 5; i++) {
		char want[2] = { (char)('0' + i), '\0' };

		pop_expect(q, want);
	}
	expect_empty(q);
	push_ok(q, "6");
	pop_expect(q, "6");
	expect_stats(q, 0, 0, 5, 8, 8, false);
	queue_free(q);
}

/* ---- capacity changes and counters ------------------------------------- */

static void test_set_capacity(void **state)
{
	struct queue *q = new_ok("setcap", 5);

	(void)state;
	push_ok(q, "1\n2\n3\n4");
	/* Lowered below the depth: the items stay, no room until drained. */
	queue_set_capacity(q, 2);
	expect_stats(q, 4, 8, 2, 4, 0, false);
	assert_false(queue_has_room(q, 1));
	assert_int_equal(push(q, "5"), -EAGAIN);
	assert_int_equal(push(q, "5\n6\n7"), -EFBIG);
	pop_expect(q, "1");
	pop_expect(q, "2");
	pop_expect(q, "3");
	push_ok(q, "5");
	assert_int_equal(push(q, "6"), -EAGAIN);
	/* Raised: room at once. */
	queue_set_capacity(q, 4);
	push_ok(q, "6\n7");
	expect_contents(q, "4|5|6|7|");
	queue_free(q);
}

static void test_stats_counters_over_many_items(void **state)
{
	struct queue *q = new_ok("many", 1000);
	char line[32];
	uint64_t in = 0, out = 0, bytes = 0;

	(void)state;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 30; i++) {
			int n = snprintf(line, sizeof(line), "r%d-i%d", round, i);

			assert_int_equal(queue_push(q, line, (size_t)n), 0);
			in++;
			bytes += (uint64_t)n + 1;
		}
		for (int i = 0; i < 20; i++) {
			const char *item;
			size_t len;

			assert_int_equal(queue_pop(q, 1, 1, UINT64_MAX, &item, &len), 0);
			bytes -= len + 1;
			assert_int_equal(queue_ack(q, 1, 1), 0);
			out++;
		}
		expect_stats(q, in - out, bytes, 1000, in, out, false);
	}
	/* Order held all along: the next head is item 1000 of 1500. */
	pop_expect(q, "r33-i10");
	queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid_table),
		cmocka_unit_test(test_new_refuses_bad_names),
		cmocka_unit_test(test_capacity_zero_means_one),
		cmocka_unit_test(test_count_items_table),
		cmocka_unit_test(test_count_items_max_size),
		cmocka_unit_test(test_fifo_order_and_items),
		cmocka_unit_test(test_items_keep_every_byte),
		cmocka_unit_test(test_largest_item),
		cmocka_unit_test(test_capacity_bounds),
		cmocka_unit_test(test_push_is_all_or_nothing),
		cmocka_unit_test(test_empty_items),
		cmocka_unit_test(test_peek_does_not_take),
		cmocka_unit_test(test_pop_holds_until_ack),
		cmocka_unit_test(test_pop_refusals),
		cmocka_unit_test(test_return_requeues_at_head),
		cmocka_unit_test(test_return_on_empty_and_sealed_queue),
		cmocka_unit_test(test_returns_each_go_to_head),
		cmocka_unit_test(test_end_session_returns_in_pop_order),
		cmocka_unit_test(test_add_held_bounds),
		cmocka_unit_test(test_eof_waits_for_held_items),
		cmocka_unit_test(test_check_push_matches_push),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_set_capacity),
		cmocka_unit_test(test_stats_counters_over_many_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
