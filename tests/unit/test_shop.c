/* test_shop.c - unit tests of the shop's state (fs/engine/shop.h): the
 * apply of each record kind, its refusals, the readers and the dump.
 *
 * Every refusal is checked to leave the shop unchanged by comparing its
 * dump before and after.  Names are heap copies of exactly their length,
 * without a NUL, so that AddressSanitizer catches a reader past len.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"
#include "shop.h"

#define DEMO_INVENTORY "1001 apple 10\n1002 banana 20\n1003 cherry 5\n"

/* ---- helpers ---------------------------------------------------------- */

static char *exact_copy(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, text, len);
	return copy;
}

static int product(struct shop *shop, int64_t upc, int64_t count, const char *name)
{
	char *copy = exact_copy(name, strlen(name));
	int ret = shop_apply_product(shop, upc, count, copy, strlen(name));

	free(copy);
	return ret;
}

static int login(struct shop *shop, const char *user, const uint8_t *hash)
{
	char *copy = exact_copy(user, strlen(user));
	int ret = shop_apply_login(shop, copy, strlen(user), hash);

	free(copy);
	return ret;
}

/* A distinct hash for each n, its first bytes spread (buckets, order). */
static void hash_of(unsigned n, uint8_t hash[SHOP_HASH_BYTES])
{
	for (int i = 0; i < SHOP_HASH_BYTES; i++)
		hash[i] = (uint8_t)((n * 2654435761u) >> (8 * (i % 4))) ^ (uint8_t)(i * 17);
	hash[30] = (uint8_t)(n >> 8);
	hash[31] = (uint8_t)n;
}

/* The dump as text, one line per record, checking what every record of
 * a dump must hold. */
struct dump_text {
	char *buf;
	size_t len, cap;
};

static int dump_line(void *arg, const struct record *r)
{
	struct dump_text *t = arg;
	char line[512];
	int n = 0;

	assert_int_equal(r->session, 0);
	assert_int_equal(r->seq, 0);
	assert_int_equal(r->time_ns, 0);
	assert_int_equal(r->pid, 0);
	assert_int_equal(r->data.len, 0);
	assert_int_equal(r->u, 0);
	assert_int_equal(r->v, 0);
	if (r->kind == RECORD_PRODUCT) {
		n = snprintf(line, sizeof(line), "PRODUCT %lld %lld %.*s\n", (long long)r->i,
			     (long long)r->j, (int)r->name.len, (const char *)r->name.data);
	} else {
		assert_int_equal(r->kind, RECORD_LOGIN);
		assert_int_equal(r->i, 0);
		assert_int_equal(r->j, 0);
		n = snprintf(line, sizeof(line), "LOGIN %.*s ", (int)r->name.len,
			     (const char *)r->name.data);
		for (int i = 0; i < SHOP_HASH_BYTES; i++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", r->hash[i]);
		n += snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	}
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = 2 * (t->len + (size_t)n + 1);
		t->buf = realloc(t->buf, t->cap);
		assert_non_null(t->buf);
	}
	memcpy(t->buf + t->len, line, (size_t)n + 1);
	t->len += (size_t)n;
	return 0;
}

static char *dump(const struct shop *shop)
{
	struct dump_text t = { calloc(1, 1), 0, 1 };

	assert_non_null(t.buf);
	assert_int_equal(shop_dump(shop, dump_line, &t), 0);
	return t.buf;
}

/* Applies a dumped record to another shop. */
static int apply_record(void *arg, const struct record *r)
{
	struct shop *shop = arg;

	if (r->kind == RECORD_PRODUCT)
		return shop_apply_product(shop, r->i, r->j, r->name.data, r->name.len);
	return shop_apply_login(shop, r->name.data, r->name.len, r->hash);
}

static char *inventory(const struct shop *shop)
{
	int n = shop_format_inventory(shop, NULL, 0);
	char *buf = malloc((size_t)n + 1);

	assert_non_null(buf);
	assert_int_equal(shop_format_inventory(shop, buf, (size_t)n + 1), n);
	return buf;
}

static void assert_inventory(const struct shop *shop, const char *want)
{
	char *got = inventory(shop);

	assert_string_equal(got, want);
	free(got);
}

/* Fails unless the shop dumps as before. */
static void assert_unchanged(const struct shop *shop, const char *before, const char *what)
{
	char *after = dump(shop);

	if (strcmp(after, before) != 0)
		fail_msg("%s changed the shop:\n%s---\n%s", what, before, after);
	free(after);
}

/* A shop with the demo products and sessions of alice (hash_of(1)) and bob
 * (hash_of(2)). */
static int setup_demo(void **state)
{
	struct shop *shop = shop_new();
	uint8_t hash[SHOP_HASH_BYTES];

	assert_non_null(shop);
	assert_int_equal(product(shop, 1001, 10, "apple"), 0);
	assert_int_equal(product(shop, 1002, 20, "banana"), 0);
	assert_int_equal(product(shop, 1003, 5, "cherry"), 0);
	hash_of(1, hash);
	assert_int_equal(login(shop, "alice", hash), 0);
	hash_of(2, hash);
	assert_int_equal(login(shop, "bob", hash), 0);
	*state = shop;
	return 0;
}

static int teardown_demo(void **state)
{
	shop_free(*state);
	return 0;
}

/* ---- products ------------------------------------------------------------ */

static void test_apply_product(void **state)
{
	struct shop *shop = *state;

	/* An existing upc keeps its stock: a second seed cannot undo sales. */
	assert_int_equal(product(shop, 1002, 7, "yellow banana"), 0);
	assert_int_equal(product(shop, 5, 1, "first"), 0);
	assert_int_equal(product(shop, 2000, 0, "sold out"), 0);
	assert_int_equal(product(shop, INT64_MAX, INT64_MAX, "caf\xc3\xa9"), 0);
	assert_inventory(shop, "5 first 1\n1001 apple 10\n1002 banana 20\n"
			       "1003 cherry 5\n2000 sold out 0\n"
			       "9223372036854775807 caf\xc3\xa9 9223372036854775807\n");
	assert_int_equal(shop_product_count(shop), 6);
}

static void test_apply_product_refused(void **state)
{
	static const struct {
		int64_t upc, count;
		const char *name;
	} cases[] = {
		{ 0, 1, "x" }, { -1, 1, "x" }, { INT64_MIN, 1, "x" },
		{ 1001, -1, "apple" }, { 1001, INT64_MIN, "apple" },
		{ 1001, 1, "" }, { 1001, 1, " apple" }, { 1001, 1, "apple " },
		{ 1001, 1, "\tapple" }, { 1001, 1, "a\tb" },
		{ 1001, 1, "a\nb" }, { 1001, 1, "a\x7f" },
		{ 1001, 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		{ 9999, 1, "" },
	};
	struct shop *shop = *state;
	char *before = dump(shop);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = product(shop, cases[i].upc, cases[i].count, cases[i].name);

		if (ret != -EINVAL)
			fail_msg("case %zu: %d, want -EINVAL", i, ret);
		assert_unchanged(shop, before, "a refused product");
	}
	/* A name with a NUL inside is not the name it claims to be. */
	assert_int_equal(shop_apply_product(shop, 7, 1, "ab\0c", 4), -EINVAL);
	assert_unchanged(shop, before, "a name with a NUL");
	free(before);
}

static void test_product_limit(void **state)
{
	struct shop *shop = shop_new();
	char name[32], *before;

	(void)state;
	assert_false(shop_has_products(shop));
	for (int i = 1; i <= SHOP_MAX_PRODUCTS; i++) {
		snprintf(name, sizeof(name), "item %d", i);
		assert_int_equal(product(shop, 2 * i, i, name), 0);
	}
	assert_true(shop_has_products(shop));
	before = dump(shop);
	assert_int_equal(product(shop, 99999, 1, "one too many"), -ENOSPC);
	assert_int_equal(product(shop, 3, 1, "one too many"), -ENOSPC);
	assert_unchanged(shop, before, "a product beyond the limit");
	/* An existing upc still takes new stock. */
	assert_int_equal(product(shop, 5000, 1, "still updates"), 0);
	assert_int_equal(shop_product_count(shop), SHOP_MAX_PRODUCTS);
	free(before);
	shop_free(shop);
}

/* ---- sessions ------------------------------------------------------------ */

static void test_login_logout(void **state)
{
	struct shop *shop = *state;
	uint8_t hash[SHOP_HASH_BYTES], other[SHOP_HASH_BYTES];

	hash_of(1, hash);
	assert_string_equal(shop_session_user(shop, hash), "alice");
	hash_of(3, other);
	assert_null(shop_session_user(shop, other));
	/* Another session of the same user. */
	assert_int_equal(login(shop, "alice", other), 0);
	assert_string_equal(shop_session_user(shop, other), "alice");
	assert_int_equal(shop_apply_logout(shop, other), 0);
	assert_null(shop_session_user(shop, other));
	assert_string_equal(shop_session_user(shop, hash), "alice");
	/* Only the whole hash finds the session. */
	for (int i = 0; i < SHOP_HASH_BYTES; i++) {
		memcpy(other, hash, sizeof(other));
		other[i] ^= 1;
		assert_null(shop_session_user(shop, other));
	}
}

static void test_login_refused(void **state)
{
	static const char *const bad_names[] = {
		"", "a b", "a/b", "a:b", "\xc3\xa4", "a\n", "alice\t",
		"01234567890123456789012345678901234567890123456789012345678901234",
	};
	struct shop *shop = *state;
	uint8_t hash[SHOP_HASH_BYTES];
	char *before = dump(shop);

	hash_of(7, hash);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		if (login(shop, bad_names[i], hash) != -EINVAL)
			fail_msg("user '%s' accepted", bad_names[i]);
		assert_unchanged(shop, before, "a bad user name");
	}
	/* A session exists once, whoever asks. */
	hash_of(1, hash);
	assert_int_equal(login(shop, "alice", hash), -EEXIST);
	assert_int_equal(login(shop, "bob", hash), -EEXIST);
	assert_unchanged(shop, before, "a second login of a session");
	hash_of(7, hash);
	assert_int_equal(shop_apply_logout(shop, hash), -EACCES);
	assert_unchanged(shop, before, "a logout of no session");
	hash_of(1, hash);
	assert_int_equal(shop_apply_logout(shop, hash), 0);
	assert_int_equal(shop_apply_logout(shop, hash), -EACCES);
	free(before);
}

static void test_session_limit(void **state)
{
	struct shop *shop = shop_new();
	uint8_t hash[SHOP_HASH_BYTES];
	char *before;

	(void)state;
	for (unsigned i = 0; i < SHOP_MAX_SESSIONS; i++) {
		hash_of(i, hash);
		assert_int_equal(login(shop, "bob", hash), 0);
	}
	before = dump(shop);
	hash_of(SHOP_MAX_SESSIONS, hash);
	assert_int_equal(login(shop, "bob", hash), -ENOSPC);
	assert_unchanged(shop, before, "a session beyond the limit");
	/* An existing one is still an existing one. */
	hash_of(5, hash);
	assert_int_equal(login(shop, "bob", hash), -EEXIST);
	/* A logout makes room. */
	assert_int_equal(shop_apply_logout(shop, hash), 0);
	hash_of(SHOP_MAX_SESSIONS, hash);
	assert_int_equal(login(shop, "bob", hash), 0);
	free(before);
	shop_free(shop);
}

/* ---- purchases ----------------------------------------------------------- */

static void test_buy(void **state)
{
	struct shop *shop = *state;
	uint8_t alice[SHOP_HASH_BYTES];
	struct shop_receipt r;

	hash_of(1, alice);
	assert_int_equal(shop_apply_buy(shop, alice, 1001, 3, &r), 0);
	assert_int_equal(r.upc, 1001);
	assert_int_equal(r.qty, 3);
	assert_int_equal(r.left, 7);
	assert_string_equal(r.name, "apple");
	assert_inventory(shop, "1001 apple 7\n1002 banana 20\n1003 cherry 5\n");

	/* The whole stock may go; the product stays, with 0. */
	assert_int_equal(shop_apply_buy(shop, alice, 1003, 5, &r), 0);
	assert_int_equal(r.left, 0);
	assert_int_equal(shop_apply_buy(shop, alice, 1002, 20, NULL), 0);
	assert_inventory(shop, "1001 apple 7\n1002 banana 0\n1003 cherry 0\n");
	assert_int_equal(shop_apply_buy(shop, alice, 1003, 1, &r), -ENOSPC);
	assert_int_equal(r.left, 0);
}

static void test_buy_refused(void **state)
{
	static const struct {
		unsigned session; /* hash_of(session); 1 is alice's, 9 no session */
		int64_t upc, qty;
		int ret;
		int64_t left;
		const char *name;
	} cases[] = {
		{ 1, 1001, 11, -ENOSPC, 10, "apple" },
		{ 1, 1001, SHOP_MAX_QTY, -ENOSPC, 10, "apple" },
		{ 1, 9999, 1, -ENOENT, 0, "" },
		{ 1, -1, 1, -ENOENT, 0, "" },
		{ 1, 0, 1, -ENOENT, 0, "" },
		{ 1, 1001, 0, -EINVAL, 0, "" },
		{ 1, 1001, -2, -EINVAL, 0, "" },
		{ 1, 1001, INT64_MIN, -EINVAL, 0, "" },
		{ 1, 1001, SHOP_MAX_QTY + 1, -EINVAL, 0, "" },
		{ 1, 9999, 0, -EINVAL, 0, "" },
		{ 9, 1001, 1, -EACCES, 0, "" },
		{ 9, 1001, 0, -EACCES, 0, "" },
		{ 9, 9999, 1, -EACCES, 0, "" },
	};
	struct shop *shop = *state;
	char *before = dump(shop);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t hash[SHOP_HASH_BYTES];
		struct shop_receipt r;
		int ret;

		hash_of(cases[i].session, hash);
		memset(&r, 0x55, sizeof(r));
		ret = shop_apply_buy(shop, hash, cases[i].upc, cases[i].qty, &r);
		if (ret != cases[i].ret)
			fail_msg("case %zu: %d, want %d", i, ret, cases[i].ret);
		assert_int_equal(r.upc, cases[i].upc);
		assert_int_equal(r.qty, cases[i].qty);
		assert_int_equal(r.left, cases[i].left);
		assert_string_equal(r.name, cases[i].name);
		assert_unchanged(shop, before, "a refused purchase");
	}
	free(before);
	assert_inventory(shop, DEMO_INVENTORY);
}

/* ---- readers and the dump ------------------------------------------------- */

static void test_empty(void **state)
{
	struct shop *shop = shop_new();
	char buf[8] = "xxxxxxx", *text;

	(void)state;
	assert_non_null(shop);
	text = dump(shop);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(shop_format_inventory(shop, NULL, 0), 0);
	assert_int_equal(shop_format_inventory(shop, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_false(shop_has_products(shop));
	assert_int_equal(shop_product_count(shop), 0);
	shop_free(shop);
	shop_free(NULL);
}

static void test_format_inventory(void **state)
{
	struct shop *shop = *state;
	char small[10];

	/* Like snprintf: a short buffer gets what fits, NUL-terminated. */
	assert_int_equal(shop_format_inventory(shop, small, sizeof(small)),
			 strlen(DEMO_INVENTORY));
	assert_string_equal(small, "1001 appl");
	assert_inventory(shop, DEMO_INVENTORY);
}

static void test_dump_order(void **state)
{
	static const char products[] = "PRODUCT 1 2 one more\nPRODUCT 1001 10 apple\n"
				       "PRODUCT 1002 20 banana\nPRODUCT 1003 5 cherry\nLOGIN ";
	struct shop *shop = *state;
	uint8_t hash[SHOP_HASH_BYTES];
	const char *prev = NULL;
	char *text;

	assert_int_equal(product(shop, 1, 2, "one more"), 0);
	for (unsigned i = 10; i < 300; i++) {
		hash_of(i * 7919, hash);
		assert_int_equal(login(shop, i % 2 ? "alice" : "bob", hash), 0);
	}
	text = dump(shop);
	assert_int_equal(strncmp(text, products, strlen(products)), 0);
	/* The sessions come in hash order: their hex is sorted too. */
	for (char *line = strstr(text, "LOGIN "); line; line = strstr(line + 1, "LOGIN ")) {
		const char *hex = strchr(line + 6, ' ') + 1;

		if (prev)
			assert_true(strncmp(prev, hex, 2 * SHOP_HASH_BYTES) < 0);
		prev = hex;
	}
	free(text);
}

static int count_and_stop(void *arg, const struct record *r)
{
	(void)r;
	++*(int *)arg;
	return -EIO;
}

/* What emit returns ends the dump. */
static void test_dump_stops(void **state)
{
	struct shop *shop = *state;
	int calls = 0;

	assert_int_equal(shop_dump(shop, count_and_stop, &calls), -EIO);
	assert_int_equal(calls, 1);
}

/* Applying the dump to an empty shop rebuilds it exactly. */
static void test_dump_round_trip(void **state)
{
	struct shop *shop = *state, *copy = shop_new();
	uint8_t hash[SHOP_HASH_BYTES];
	char *text, *again;

	hash_of(2, hash);
	assert_int_equal(shop_apply_buy(shop, hash, 1002, 4, NULL), 0);
	assert_int_equal(product(shop, 77, 0, "a name with spaces"), 0);
	for (unsigned i = 100; i < 140; i++) {
		hash_of(i, hash);
		assert_int_equal(login(shop, "carol", hash), 0);
	}
	hash_of(1, hash);
	assert_int_equal(shop_apply_logout(shop, hash), 0);

	assert_int_equal(shop_dump(shop, apply_record, copy), 0);
	text = dump(shop);
	again = dump(copy);
	assert_string_equal(again, text);
	hash_of(2, hash);
	assert_string_equal(shop_session_user(copy, hash), "bob");
	hash_of(1, hash);
	assert_null(shop_session_user(copy, hash));
	free(again);
	free(text);
	shop_free(copy);
}

/* Apply reads no clock and nothing but its arguments: the same changes in
 * any order give equal shops, and equal shops equal dumps. */
static void test_deterministic(void **state)
{
	struct shop *a = shop_new(), *b = shop_new();
	uint8_t hash[SHOP_HASH_BYTES];
	char *da, *db;

	(void)state;
	for (unsigned i = 0; i < 500; i++) {
		hash_of(i, hash);
		assert_int_equal(login(a, "alice", hash), 0);
		hash_of(499 - i, hash);
		assert_int_equal(login(b, "alice", hash), 0);
		assert_int_equal(product(a, 1 + i, i, "thing"), 0);
		assert_int_equal(product(b, 500 - i, 499 - i, "thing"), 0);
	}
	for (unsigned i = 0; i < 500; i += 3) {
		hash_of(i, hash);
		assert_int_equal(shop_apply_logout(a, hash), 0);
		assert_int_equal(shop_apply_buy(a, hash, 1 + i, 1, NULL), -EACCES);
		assert_int_equal(shop_apply_logout(b, hash), 0);
	}
	da = dump(a);
	db = dump(b);
	assert_string_equal(da, db);
	free(da);
	free(db);
	shop_free(a);
	shop_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_product, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_apply_product_refused, setup_demo,
						teardown_demo),
		cmocka_unit_test(test_product_limit),
		cmocka_unit_test_setup_teardown(test_login_logout, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_login_refused, setup_demo, teardown_demo),
		cmocka_unit_test(test_session_limit),
		cmocka_unit_test_setup_teardown(test_buy, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_buy_refused, setup_demo, teardown_demo),
		cmocka_unit_test(test_empty),
		cmocka_unit_test_setup_teardown(test_format_inventory, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_dump_order, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_dump_stops, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_dump_round_trip, setup_demo, teardown_demo),
		cmocka_unit_test(test_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
