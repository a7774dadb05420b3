/* test_shop_request.c - unit tests of the conversation of mnt/shop
 * (fs/engine/shop_request.h): request parsing, tokens and their hashes,
 * and the replies of each verb.
 *
 * Request lines are heap copies of exactly their length, without a NUL, so
 * that AddressSanitizer catches a parser that reads past len.
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

#include "shop.h"
#include "shop_request.h"

#define REPLY_SIZE SHOP_MAX_REPLY
#define DEMO_INVENTORY "1001 apple 10\n1002 banana 20\n1003 cherry 5\n"

/* ---- helpers ---------------------------------------------------------- */

static int parse(const char *line, struct shop_request *req, char *reply)
{
	size_t len = strlen(line);
	char *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, line, len);
	memset(reply, 0, REPLY_SIZE);
	ret = shop_parse_request(copy, len, req, reply, REPLY_SIZE);
	free(copy);
	return ret;
}

static struct shop_request request(const char *line)
{
	struct shop_request req;
	char reply[REPLY_SIZE];

	if (parse(line, &req, reply))
		fail_msg("'%s' does not parse: %s", line, reply);
	return req;
}

/* A shop with the demo stock. */
static int setup_demo(void **state)
{
	struct shop *shop = shop_new();

	assert_non_null(shop);
	assert_int_equal(shop_apply_product(shop, 1001, 10, "apple", 5), 0);
	assert_int_equal(shop_apply_product(shop, 1002, 20, "banana", 6), 0);
	assert_int_equal(shop_apply_product(shop, 1003, 5, "cherry", 6), 0);
	*state = shop;
	return 0;
}

static int teardown_demo(void **state)
{
	shop_free(*state);
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static void test_parse_requests(void **state)
{
	static const struct {
		const char *line;
		enum shop_verb verb;
		const char *user, *password, *token;
		int64_t upc, qty;
	} cases[] = {
		{ "login alice wonderland", SHOP_LOGIN, "alice", "wonderland", "", 0, 0 },
		{ "LOGIN bob builder\n", SHOP_LOGIN, "bob", "builder", "", 0, 0 },
		{ "Login a.b_c-9 p@ss:word!\r\n", SHOP_LOGIN, "a.b_c-9", "p@ss:word!", "", 0, 0 },
		{ "  login\talice   x  ", SHOP_LOGIN, "alice", "x", "", 0, 0 },
		{ "list 0123456789abcdef0123456789abcdef", SHOP_LIST, "", "",
		  "0123456789abcdef0123456789abcdef", 0, 0 },
		{ "LIST tok\n", SHOP_LIST, "", "", "tok", 0, 0 },
		{ "buy tok 1001 2", SHOP_BUY, "", "", "tok", 1001, 2 },
		{ "BuY tok +1001 -3\n", SHOP_BUY, "", "", "tok", 1001, -3 },
		{ "buy tok 1001 0", SHOP_BUY, "", "", "tok", 1001, 0 },
		{ "buy tok 7 9223372036854775807", SHOP_BUY, "", "", "tok", 7, INT64_MAX },
		{ "logout tok", SHOP_LOGOUT, "", "", "tok", 0, 0 },
		{ "WHOAMI tok\r\n", SHOP_WHOAMI, "", "", "tok", 0, 0 },
		/* Too long to be a token: kept empty, so "not logged in" later. */
		{ "whoami 0123456789abcdef0123456789abcdef0", SHOP_WHOAMI, "", "", "", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shop_request req;
		char reply[REPLY_SIZE];
		int ret = parse(cases[i].line, &req, reply);

		if (ret)
			fail_msg("'%s': %d (%s)", cases[i].line, ret, reply);
		assert_int_equal(req.verb, cases[i].verb);
		assert_string_equal(req.user, cases[i].user);
		assert_string_equal(req.password, cases[i].password);
		assert_string_equal(req.token, cases[i].token);
		assert_int_equal(req.upc, cases[i].upc);
		assert_int_equal(req.qty, cases[i].qty);
	}
}

static void test_parse_request_errors(void **state)
{
	static const struct {
		const char *line;
		const char *reply;
	} cases[] = {
		{ "", "error unknown request '' (login, list, buy, logout, whoami)\n" },
		{ "\n", "error unknown request '' (login, list, buy, logout, whoami)\n" },
		{ "   ", "error unknown request '' (login, list, buy, logout, whoami)\n" },
		{ "foo bar", "error unknown request 'foo' (login, list, buy, logout, whoami)\n" },
		{ "logins alice x",
		  "error unknown request 'logins' (login, list, buy, logout, whoami)\n" },
		{ "l\x1b[2Jst tok",
		  "error unknown request 'l?[2Jst' (login, list, buy, logout, whoami)\n" },
		{ "abcdefghijabcdefghijabcdefghijabcdefghij",
		  "error unknown request 'abcdefghijabcdefghijabcdefghijab' "
		  "(login, list, buy, logout, whoami)\n" },
		{ "login", "error usage: login USER PASSWORD\n" },
		{ "login alice", "error usage: login USER PASSWORD\n" },
		{ "login alice pass word", "error usage: login USER PASSWORD\n" },
		{ "login ali/ce x", "error usage: login USER PASSWORD\n" },
		{ "login 01234567890123456789012345678901234567890123456789012345678901234 x",
		  "error usage: login USER PASSWORD\n" },
		{ "login alice pass\x01word", "error usage: login USER PASSWORD\n" },
		{ "login alice x\n\n", "error usage: login USER PASSWORD\n" },
		{ "login alice x\r", "error usage: login USER PASSWORD\n" },
		{ "list", "error usage: list TOKEN\n" },
		{ "list a b", "error usage: list TOKEN\n" },
		{ "buy tok 1001", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 2 3", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok apple 2", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 1.5", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 0x10", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 -", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 99999999999999999999", "error usage: buy TOKEN UPC QTY\n" },
		{ "logout", "error usage: logout TOKEN\n" },
		{ "whoami a b", "error usage: whoami TOKEN\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shop_request req;
		char reply[REPLY_SIZE];
		int ret = parse(cases[i].line, &req, reply);

		if (ret != -EINVAL)
			fail_msg("'%s': %d, want -EINVAL", cases[i].line, ret);
		assert_string_equal(reply, cases[i].reply);
		assert_string_equal(req.user, "");
		assert_string_equal(req.password, "");
		assert_string_equal(req.token, "");
	}
}

static void test_parse_request_length(void **state)
{
	char line[SHOP_MAX_REQUEST + 2], reply[REPLY_SIZE];
	struct shop_request req;
	size_t prefix = strlen("login alice ");

	(void)state;
	/* Exactly SHOP_MAX_REQUEST bytes, the newline included: accepted. */
	memcpy(line, "login alice ", prefix);
	memset(line + prefix, 'p', SHOP_MAX_REQUEST - prefix - 1);
	line[SHOP_MAX_REQUEST - 1] = '\n';
	line[SHOP_MAX_REQUEST] = '\0';
	assert_int_equal(parse(line, &req, reply), 0);
	assert_int_equal(strlen(req.password), SHOP_MAX_REQUEST - prefix - 1);
	shop_request_wipe(&req);

	/* One more byte: refused, whatever it holds. */
	line[SHOP_MAX_REQUEST] = '\n';
	line[SHOP_MAX_REQUEST + 1] = '\0';
	assert_int_equal(parse(line, &req, reply), -EMSGSIZE);
	assert_string_equal(reply, "error request too long (at most 1024 bytes)\n");
	assert_string_equal(req.password, "");
}

static void test_request_wipe(void **state)
{
	struct shop_request req = request("login alice wonderland");
	static const char zeros[sizeof(req.password)];

	(void)state;
	assert_string_equal(req.password, "wonderland");
	shop_request_wipe(&req);
	assert_memory_equal(req.password, zeros, sizeof(zeros));
	assert_string_equal(req.user, "alice");

	req = request("whoami 0123456789abcdef0123456789abcdef");
	shop_request_wipe(&req);
	assert_memory_equal(req.token, zeros, sizeof(req.token));
}

/* ---- the event log ------------------------------------------------------ */

/* What the log shows of each request: never a word that may be a secret. */
static void test_summary(void **state)
{
	static const struct {
		const char *line;
		bool known_user;
		const char *reply;
		const char *summary;
	} cases[] = {
		{ "login alice wonderland", true, "ok 0123456789abcdef0123456789abcdef\n",
		  "login alice -> ok" },
		{ "login alice x", true, "error wrong user or password\n",
		  "login alice -> error wrong user or password" },
		{ "login alice x", true, "error too many failed logins for alice, try again in 2 s\n",
		  "login alice -> error too many failed logins for alice, try again in 2 s" },
		{ "login s3cret x", false, "error wrong user or password\n",
		  "login ? -> error wrong user or password" },
		{ "login s3cret x", false,
		  "error too many failed logins for s3cret, try again in 2 s\n",
		  "login ? -> error too many failed logins" },
		{ "buy t 1001 2", false, "ok bought 2 apple (1001), 8 left\n",
		  "buy 1001 2 -> ok bought 2 apple (1001), 8 left" },
		{ "list t", false, "ok 3 products\n1001 apple 10\n", "list -> ok" },
		{ "list t", false, "error not logged in\n", "list -> error not logged in" },
		{ "logout t", false, "ok logged out\n", "logout -> ok logged out" },
		{ "whoami t", false, "ok alice\n", "whoami -> ok alice" },
		{ "s3cret", false, NULL, "request -> error unknown request" },
		{ "s3cret s3cret", false, NULL, "request -> error unknown request" },
		{ "login s3cret", false, NULL, "request -> error usage: login USER PASSWORD" },
		{ "buy s3cret 1", false, NULL, "request -> error usage: buy TOKEN UPC QTY" },
	};
	char reply[REPLY_SIZE], summary[256];
	struct shop_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = parse(cases[i].line, &req, reply);

		shop_request_summary(ret ? NULL : &req, cases[i].known_user,
				     cases[i].reply ? cases[i].reply : reply, summary,
				     sizeof(summary));
		if (strcmp(summary, cases[i].summary) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, summary, cases[i].summary);
		assert_null(strstr(summary, "s3cret"));
	}
}

/* ---- tokens ------------------------------------------------------------- */

static void test_token_hash(void **state)
{
	/* sha256("0123456789abcdef0123456789abcdef"), by another implementation. */
	static const uint8_t want[SHOP_HASH_BYTES] = {
		0x3e, 0xb1, 0xbd, 0x43, 0x99, 0x47, 0xeb, 0x76, 0x29, 0x98, 0xe5,
		0x66, 0xcc, 0xc2, 0xe0, 0x99, 0xc7, 0x91, 0x11, 0x8b, 0x2f, 0x40,
		0x57, 0x9c, 0xc4, 0xf7, 0xda, 0x2b, 0x50, 0x61, 0xb7, 0xf9,
	};
	static const char *const not_tokens[] = {
		"", "tok", "0123456789abcdef0123456789abcde",
		"0123456789abcdef0123456789abcdef0", "0123456789ABCDEF0123456789abcdef",
		"0123456789abcdef0123456789abcdeg", "0123456789abcdef 123456789abcdef",
	};
	static const uint8_t zeros[SHOP_HASH_BYTES];
	uint8_t hash[SHOP_HASH_BYTES];

	(void)state;
	assert_int_equal(shop_token_hash("0123456789abcdef0123456789abcdef", hash), 0);
	assert_memory_equal(hash, want, sizeof(want));
	for (size_t i = 0; i < sizeof(not_tokens) / sizeof(not_tokens[0]); i++) {
		memset(hash, 0xaa, sizeof(hash));
		if (shop_token_hash(not_tokens[i], hash) != -EACCES)
			fail_msg("'%s' taken for a token", not_tokens[i]);
		assert_memory_equal(hash, zeros, sizeof(zeros));
	}
}

static void test_token_new(void **state)
{
	char token[SHOP_TOKEN_HEX + 1], other[SHOP_TOKEN_HEX + 1];
	uint8_t hash[SHOP_HASH_BYTES], again[SHOP_HASH_BYTES], hash2[SHOP_HASH_BYTES];

	(void)state;
	assert_int_equal(shop_token_new(token, hash), 0);
	assert_int_equal(strlen(token), SHOP_TOKEN_HEX);
	assert_int_equal(strspn(token, "0123456789abcdef"), SHOP_TOKEN_HEX);
	assert_int_equal(shop_token_hash(token, again), 0);
	assert_memory_equal(hash, again, sizeof(hash));
	assert_int_equal(shop_token_new(other, hash2), 0);
	assert_string_not_equal(token, other);
	assert_memory_not_equal(hash, hash2, sizeof(hash));
}

/* ---- replies ------------------------------------------------------------ */

static void test_replies(void **state)
{
	static const struct shop_receipt bought = { 1001, 3, 7, "apple" };
	static const struct shop_receipt short_stock = { 1003, 9, 5, "cherry" };
	static const struct shop_receipt unknown = { -1, 1, 0, "" };
	char reply[REPLY_SIZE];
	static const struct {
		int err;
		int verb; /* 0 login, 1 buy, 2 logout, 3 whoami */
		const struct shop_receipt *receipt;
		const char *want;
	} cases[] = {
		{ 0, 0, NULL, "ok 0123456789abcdef0123456789abcdef\n" },
		{ -EACCES, 0, NULL, "error wrong user or password\n" },
		{ -ENOSPC, 0, NULL, "error too many sessions\n" },
		{ -ENOMEM, 0, NULL, "error out of memory\n" },
		{ -EEXIST, 0, NULL, "error cannot make a token: File exists\n" },
		{ -EAGAIN, 0, NULL, "error cannot make a token: Resource temporarily unavailable\n" },
		{ 0, 1, &bought, "ok bought 3 apple (1001), 7 left\n" },
		{ -EACCES, 1, &bought, "error not logged in\n" },
		{ -EINVAL, 1, &bought, "error quantity must be 1..1000000\n" },
		{ -ENOENT, 1, &unknown, "error unknown upc -1\n" },
		{ -ENOSPC, 1, &short_stock, "error insufficient stock: 1003 has 5\n" },
		{ -EIO, 1, &bought, "error Input/output error\n" },
		{ 0, 2, NULL, "ok logged out\n" },
		{ -EACCES, 2, NULL, "error not logged in\n" },
		{ -ENOMEM, 2, NULL, "error out of memory\n" },
		{ 0, 3, NULL, "ok alice\n" },
		{ -EACCES, 3, NULL, "error not logged in\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = cases[i].err, ret = 1;

		memset(reply, 'x', sizeof(reply));
		if (cases[i].verb == 0)
			ret = shop_reply_login(err, "0123456789abcdef0123456789abcdef", reply,
					       sizeof(reply));
		else if (cases[i].verb == 1)
			ret = shop_reply_buy(err, cases[i].receipt, reply, sizeof(reply));
		else if (cases[i].verb == 2)
			ret = shop_reply_logout(err, reply, sizeof(reply));
		else
			ret = shop_reply_whoami(err, "alice", reply, sizeof(reply));
		assert_int_equal(ret, err);
		if (strcmp(reply, cases[i].want) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, reply, cases[i].want);
	}
	/* The longest buy reply fits. */
	{
		struct shop_receipt r = { INT64_MAX, SHOP_MAX_QTY, INT64_MAX, "" };

		memset(r.name, 'n', SHOP_MAX_NAME);
		assert_int_equal(shop_reply_buy(0, &r, reply, sizeof(reply)), 0);
		assert_true(strlen(reply) < sizeof(reply) - 1);
	}
}

static void test_reply_list(void **state)
{
	struct shop *shop = *state, *empty = shop_new();
	char *reply;
	size_t len;

	assert_int_equal(shop_reply_list(0, shop, &reply, &len), 0);
	assert_string_equal(reply, "ok 3 products\n" DEMO_INVENTORY);
	assert_int_equal(len, strlen(reply));
	free(reply);

	assert_int_equal(shop_reply_list(-EACCES, shop, &reply, &len), -EACCES);
	assert_string_equal(reply, "error not logged in\n");
	assert_int_equal(len, strlen(reply));
	free(reply);

	assert_int_equal(shop_reply_list(0, empty, &reply, &len), 0);
	assert_string_equal(reply, "ok 0 products\n");
	free(reply);
	shop_free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_requests),
		cmocka_unit_test(test_parse_request_errors),
		cmocka_unit_test(test_parse_request_length),
		cmocka_unit_test(test_request_wipe),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_token_hash),
		cmocka_unit_test(test_token_new),
		cmocka_unit_test(test_replies),
		cmocka_unit_test_setup_teardown(test_reply_list, setup_demo, teardown_demo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
