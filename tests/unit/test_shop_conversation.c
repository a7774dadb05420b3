/* test_shop_conversation.c - whole conversations of mnt/shop, through the
 * users (shop_users.h), the requests (shop_request.h) and the state
 * (shop.h) the way the engine runs them: the verdicts first, then the
 * apply, then the reply.
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
#include "shop_users.h"

#define REPLY_SIZE SHOP_MAX_REPLY

/* ---- helpers ---------------------------------------------------------- */

static struct shop_request request(const char *line)
{
	struct shop_request req;
	char reply[REPLY_SIZE];

	if (shop_parse_request(line, strlen(line), &req, reply, sizeof(reply)))
		fail_msg("'%s' does not parse: %s", line, reply);
	return req;
}

/* The users and the state, as the engine holds them. */
struct fixture {
	struct shop_users *users;
	struct shop *shop;
};

static int setup_demo(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->users = shop_users_new(NULL, NULL);
	fx->shop = shop_new();
	assert_non_null(fx->users);
	assert_non_null(fx->shop);
	assert_int_equal(shop_users_add_demo(fx->users), 0);
	assert_int_equal(shop_apply_product(fx->shop, 1001, 10, "apple", 5), 0);
	assert_int_equal(shop_apply_product(fx->shop, 1002, 20, "banana", 6), 0);
	assert_int_equal(shop_apply_product(fx->shop, 1003, 5, "cherry", 6), 0);
	*state = fx;
	return 0;
}

static int teardown_demo(void **state)
{
	struct fixture *fx = *state;

	shop_free(fx->shop);
	shop_users_free(fx->users);
	free(fx);
	return 0;
}

/* One request through the users and the shop, as the engine runs it: the
 * verdicts first, then the apply, then the reply.  A session whose user is
 * no longer configured counts as none. */
static int converse(struct fixture *fx, const char *line, char *reply)
{
	struct shop_request req = request(line);
	char token[SHOP_TOKEN_HEX + 1];
	uint8_t hash[SHOP_HASH_BYTES];
	struct shop_receipt receipt;
	const char *user;
	int ret;

	memset(reply, 0, REPLY_SIZE);
	if (req.verb == SHOP_LOGIN) {
		ret = shop_users_check(fx->users, req.user, req.password, reply, REPLY_SIZE);
		shop_request_wipe(&req);
		if (ret)
			return ret;
		ret = shop_token_new(token, hash);
		if (!ret)
			ret = shop_apply_login(fx->shop, req.user, strlen(req.user), hash);
		return shop_reply_login(ret, token, reply, REPLY_SIZE);
	}
	ret = shop_token_hash(req.token, hash);
	user = ret ? NULL : shop_session_user(fx->shop, hash);
	if (!ret && !(user && shop_users_exists(fx->users, user)))
		ret = -EACCES;
	switch (req.verb) {
	case SHOP_BUY:
		if (!ret)
			ret = shop_apply_buy(fx->shop, hash, req.upc, req.qty, &receipt);
		else
			receipt = (struct shop_receipt){ .upc = req.upc, .qty = req.qty };
		return shop_reply_buy(ret, &receipt, reply, REPLY_SIZE);
	case SHOP_LOGOUT:
		if (!ret)
			ret = shop_apply_logout(fx->shop, hash);
		return shop_reply_logout(ret, reply, REPLY_SIZE);
	case SHOP_WHOAMI:
		return shop_reply_whoami(ret, user, reply, REPLY_SIZE);
	default:
		fail_msg("converse: unexpected request '%s'", line);
		return -1;
	}
}

/* Logs user in; returns the token. */
static void login(struct fixture *fx, const char *user, const char *password,
		  char token[SHOP_TOKEN_HEX + 1])
{
	char line[REPLY_SIZE], reply[REPLY_SIZE];

	snprintf(line, sizeof(line), "login %s %s", user, password);
	assert_int_equal(converse(fx, line, reply), 0);
	assert_int_equal(strncmp(reply, "ok ", 3), 0);
	assert_int_equal(strlen(reply), 3 + SHOP_TOKEN_HEX + 1);
	memcpy(token, reply + 3, SHOP_TOKEN_HEX);
	token[SHOP_TOKEN_HEX] = '\0';
	assert_int_equal(strlen(token), SHOP_TOKEN_HEX);
	assert_int_equal(strspn(token, "0123456789abcdef"), SHOP_TOKEN_HEX);
}

/* Runs "fmt" with the token put in ("buy %s 1001 2", ...). */
static int with_token(struct fixture *fx, const char *fmt, const char *token, char *reply)
{
	char line[REPLY_SIZE];

	snprintf(line, sizeof(line), fmt, token);
	return converse(fx, line, reply);
}

/* ---- conversations ------------------------------------------------------- */

static void test_login_conversation(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], token2[SHOP_TOKEN_HEX + 1], reply[REPLY_SIZE];

	login(fx, "alice", "wonderland", token);
	assert_int_equal(with_token(fx, "whoami %s", token, reply), 0);
	assert_string_equal(reply, "ok alice\n");
	/* Another login, another token; both work. */
	login(fx, "alice", "wonderland", token2);
	assert_string_not_equal(token, token2);
	assert_int_equal(with_token(fx, "WHOAMI %s", token2, reply), 0);
	assert_int_equal(with_token(fx, "whoami %s", token, reply), 0);
	login(fx, "bob", "builder", token2);
	assert_int_equal(with_token(fx, "whoami %s", token2, reply), 0);
	assert_string_equal(reply, "ok bob\n");

	assert_int_equal(converse(fx, "login alice Wonderland", reply), -EACCES);
	assert_string_equal(reply, "error wrong user or password\n");
	assert_int_equal(converse(fx, "login mallory x", reply), -EACCES);
	assert_string_equal(reply, "error wrong user or password\n");
}

/* Only the exact token opens the session: the hashes are compared whole. */
static void test_token_check(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], other[SHOP_TOKEN_HEX + 2], reply[REPLY_SIZE];
	static const size_t positions[] = { 0, 1, 15, 16, 30, 31 };

	login(fx, "alice", "wonderland", token);
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		strcpy(other, token);
		other[positions[i]] = other[positions[i]] == '0' ? '1' : '0';
		assert_int_equal(with_token(fx, "whoami %s", other, reply), -EACCES);
		assert_string_equal(reply, "error not logged in\n");
	}
	/* Upper case is another token; so are a prefix and an extension. */
	strcpy(other, token);
	for (char *c = other; *c; c++)
		*c = (char)(*c >= 'a' ? *c - 'a' + 'A' : *c);
	if (strcmp(other, token) != 0)
		assert_int_equal(with_token(fx, "whoami %s", other, reply), -EACCES);
	snprintf(other, sizeof(other), "%.31s", token);
	assert_int_equal(with_token(fx, "whoami %s", other, reply), -EACCES);
	snprintf(other, sizeof(other), "%s0", token);
	assert_int_equal(with_token(fx, "whoami %s", other, reply), -EACCES);
	assert_int_equal(with_token(fx, "whoami %s", token, reply), 0);
}

static void test_buy_conversation(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], reply[REPLY_SIZE], *inv;
	static const struct {
		const char *fmt;
		int ret;
		const char *reply;
	} cases[] = {
		{ "buy %s 1001 3", 0, "ok bought 3 apple (1001), 7 left\n" },
		{ "buy %s 1001 8", -ENOSPC, "error insufficient stock: 1001 has 7\n" },
		{ "buy %s 1003 5", 0, "ok bought 5 cherry (1003), 0 left\n" },
		{ "buy %s 1003 1", -ENOSPC, "error insufficient stock: 1003 has 0\n" },
		{ "buy %s 9999 1", -ENOENT, "error unknown upc 9999\n" },
		{ "buy %s 1001 0", -EINVAL, "error quantity must be 1..1000000\n" },
		{ "buy %s 9999 1000001", -EINVAL, "error quantity must be 1..1000000\n" },
		{ "buy nottoken 1001 1", -EACCES, "error not logged in\n" },
		{ "buy nottoken 1001 0", -EACCES, "error not logged in\n" },
	};

	login(fx, "bob", "builder", token);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(with_token(fx, cases[i].fmt, token, reply), cases[i].ret);
		assert_string_equal(reply, cases[i].reply);
	}
	inv = malloc(256);
	assert_non_null(inv);
	shop_format_inventory(fx->shop, inv, 256);
	assert_string_equal(inv, "1001 apple 7\n1002 banana 20\n1003 cherry 0\n");
	free(inv);
}

static void test_logout_conversation(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], token2[SHOP_TOKEN_HEX + 1], reply[REPLY_SIZE];

	login(fx, "alice", "wonderland", token);
	login(fx, "alice", "wonderland", token2);
	assert_int_equal(with_token(fx, "logout %s", token, reply), 0);
	assert_string_equal(reply, "ok logged out\n");
	assert_int_equal(with_token(fx, "whoami %s", token, reply), -EACCES);
	assert_int_equal(with_token(fx, "buy %s 1001 1", token, reply), -EACCES);
	assert_int_equal(with_token(fx, "logout %s", token, reply), -EACCES);
	assert_string_equal(reply, "error not logged in\n");
	/* The other session of the same user stays. */
	assert_int_equal(with_token(fx, "whoami %s", token2, reply), 0);
}

/* A session whose user left the configuration logs nobody in, and works
 * again when the user comes back. */
static void test_user_no_longer_configured(void **state)
{
	struct fixture *fx = *state;
	struct shop_users *demo = fx->users;
	char token[SHOP_TOKEN_HEX + 1], reply[REPLY_SIZE];

	login(fx, "bob", "builder", token);
	fx->users = shop_users_new(NULL, NULL);
	assert_non_null(fx->users);
	assert_int_equal(with_token(fx, "whoami %s", token, reply), -EACCES);
	assert_int_equal(with_token(fx, "buy %s 1001 1", token, reply), -EACCES);
	shop_users_free(fx->users);
	fx->users = demo;
	assert_int_equal(with_token(fx, "whoami %s", token, reply), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_conversation, setup_demo,
						teardown_demo),
		cmocka_unit_test_setup_teardown(test_token_check, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_buy_conversation, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_logout_conversation, setup_demo,
						teardown_demo),
		cmocka_unit_test_setup_teardown(test_user_no_longer_configured, setup_demo,
						teardown_demo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
