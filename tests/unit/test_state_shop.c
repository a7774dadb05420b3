/* test_state_shop.c - unit tests of the shop's requests as the state
 * answers them (state_shop_request): which requests become records, and
 * that a refusal settled before the record (a wrong password, a token of
 * no session) leaves the log as it was.
 *
 * The demo users (alice/wonderland, bob/builder) and the demo stock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fs/log/memory.h"
#include "state.h"

static int setup(void **state)
{
	struct state *st = state_new(NULL);
	char msg[160];

	if (!st || state_begin(st, 1, 16, msg, sizeof(msg)) ||
	    state_shop_users(st, NULL, msg, sizeof(msg)) ||
	    state_shop_seed(st, NULL, msg, sizeof(msg))) {
		state_free(st);
		return -1;
	}
	*state = st;
	return 0;
}

static int teardown(void **state)
{
	state_free(*state);
	return 0;
}

/* Sends line; returns the reply's first line in buf. */
static const char *ask(struct state *st, const char *line, char *buf, size_t size)
{
	char summary[160], *reply = NULL;
	size_t len = 0;

	assert_int_equal(state_shop_request(st, line, strlen(line), 42, &reply, &len, summary,
					    sizeof(summary)),
			 0);
	assert_non_null(reply);
	snprintf(buf, size, "%.*s", (int)strcspn(reply, "\n"), reply);
	free(reply);
	return buf;
}

static size_t records(struct state *st)
{
	return log_memory_count(state_log(st));
}

static void test_refusals_settled_before_the_record_make_none(void **state)
{
	struct state *st = *state;
	size_t before = records(st);
	char buf[128];

	assert_string_equal(ask(st, "login alice wrong", buf, sizeof(buf)),
			    "error wrong user or password");
	assert_string_equal(ask(st, "logout 0123456789abcdef0123456789abcdef", buf, sizeof(buf)),
			    "error not logged in");
	assert_string_equal(ask(st, "logout NOT-A-TOKEN", buf, sizeof(buf)), "error not logged in");
	assert_string_equal(ask(st, "buy 0123456789abcdef0123456789abcdef 1001 1", buf, sizeof(buf)),
			    "error not logged in");
	assert_int_equal(records(st), before);
}

static void test_a_session_logs_in_buys_and_logs_out(void **state)
{
	struct state *st = *state;
	size_t before = records(st);
	char buf[128], line[96], token[33];

	ask(st, "login alice wonderland", buf, sizeof(buf));
	assert_int_equal(sscanf(buf, "ok %32s", token), 1);
	snprintf(line, sizeof(line), "buy %s 1001 2", token);
	assert_memory_equal(ask(st, line, buf, sizeof(buf)), "ok bought 2 ", 12);
	snprintf(line, sizeof(line), "logout %s", token);
	assert_string_equal(ask(st, line, buf, sizeof(buf)), "ok logged out");
	assert_int_equal(records(st), before + 3);
	assert_string_equal(ask(st, line, buf, sizeof(buf)), "error not logged in");
	assert_int_equal(records(st), before + 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refusals_settled_before_the_record_make_none,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_session_logs_in_buys_and_logs_out, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
