/* test_state_tickets.c - unit tests of the tickets as the state keeps them
 * (state_ticket_*): locks and waits become records, grants reach the
 * ticket observer, a close of an owner with nothing makes no record, an
 * ended session's tickets go, and a snapshot and a replay keep them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state.h"

#include "begun.h"

#define FILE_A 2

struct seen {
	struct state_ticket_event events[16];
	unsigned count;
};

static void observe(void *arg, const struct state_ticket_event *e)
{
	struct seen *s = arg;

	if (s->count < 16)
		s->events[s->count++] = *e;
}

static struct state_ticket flock_of(uint64_t owner, bool exclusive)
{
	return (struct state_ticket){ .file = FILE_A, .exclusive = exclusive, .owner = owner,
				      .pid = 100 + (uint32_t)owner };
}

static void test_a_wait_ends_in_a_grant_the_observer_tells(void **state)
{
	struct state *st = begun(1, NULL);
	struct state_ticket a = flock_of(1, true), b = flock_of(2, false), holder;
	struct seen seen = { .count = 0 };
	uint64_t ta, tb;

	(void)state;
	state_observe_tickets(st, observe, &seen);
	assert_int_equal(state_ticket_lock(st, &a, true, &ta), 0);
	assert_int_equal(state_ticket_lock(st, &b, false, &tb), -EAGAIN);
	assert_true(state_ticket_conflict(st, &b, &holder));
	assert_int_equal(holder.pid, 101);
	assert_true(holder.exclusive);
	assert_int_equal(state_ticket_lock(st, &b, true, &tb), 1);
	assert_true(state_ticket_waiting(st, tb));
	assert_int_equal(seen.count, 0);
	assert_int_equal(state_ticket_unlock(st, &a), 0);
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.events[0].ticket, tb);
	assert_true(seen.events[0].granted);
	assert_false(state_ticket_waiting(st, tb));
	assert_true(state_ticket_conflict(st, &a, &holder));
	assert_int_equal(holder.owner, 2);
	assert_false(holder.exclusive);
	state_free(st);
}

static void test_cancel_after_the_grant_is_enoent(void **state)
{
	struct state *st = begun(1, NULL);
	struct state_ticket a = flock_of(1, true), b = flock_of(2, true);
	uint64_t ta, tb;

	(void)state;
	assert_int_equal(state_ticket_lock(st, &a, true, &ta), 0);
	assert_int_equal(state_ticket_lock(st, &b, true, &tb), 1);
	assert_int_equal(state_ticket_cancel(st, tb), 0);
	assert_false(state_ticket_waiting(st, tb));
	assert_int_equal(state_ticket_lock(st, &b, true, &tb), 1);
	assert_int_equal(state_ticket_release(st, FILE_A, false, 1, 101), 1);
	assert_int_equal(state_ticket_cancel(st, tb), -ENOENT);
	state_free(st);
}

static void test_a_close_with_nothing_makes_no_record(void **state)
{
	struct state *st = begun(1, NULL);
	struct state_ticket a = flock_of(1, false);
	size_t before = records(st);
	uint64_t ta;

	(void)state;
	assert_int_equal(state_ticket_release(st, FILE_A, false, 1, 101), 0);
	assert_int_equal(state_ticket_release(st, FILE_A, true, 1, 101), 0);
	assert_int_equal(state_ticket_unlock(st, &a), 0);
	assert_int_equal(records(st), before);
	assert_int_equal(state_ticket_lock(st, &a, false, &ta), 0);
	assert_int_equal(state_ticket_release(st, FILE_A, true, 1, 101), 0);
	assert_int_equal(records(st), before + 1);
	assert_int_equal(state_ticket_release(st, FILE_A, false, 1, 101), 1);
	assert_int_equal(records(st), before + 2);
	state_free(st);
}

/* A restart on the same log: the old session's tickets are gone, so its
 * holder blocks nobody, and the digest of a replay and of a snapshot of
 * the same state agree. */
static void test_a_new_session_finds_the_old_tickets_released(void **state)
{
	struct state *st = begun(1, NULL), *again, *loaded;
	struct state_ticket a = flock_of(1, true), b = flock_of(2, true);
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1], msg[160];
	uint64_t t, at;

	(void)state;
	assert_int_equal(state_ticket_lock(st, &a, false, &t), 0);
	assert_int_equal(state_ticket_lock(st, &b, true, &t), 1);
	assert_int_equal(state_digest(st, &at, want), 0);
	loaded = state_new(NULL);
	assert_non_null(loaded);
	assert_int_equal(state_compact(st), 0);
	assert_int_equal(state_attach_log(loaded, log_memory_copy(state_log(st)), msg,
					  sizeof(msg)), 0);
	assert_int_equal(state_digest(loaded, &at, got), 0);
	assert_string_equal(got, want);
	state_free(loaded);

	again = begun(2, log_memory_copy(state_log(st)));
	assert_int_equal(state_ticket_lock(again, &b, false, &t), 0);
	state_free(again);
	state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_wait_ends_in_a_grant_the_observer_tells),
		cmocka_unit_test(test_cancel_after_the_grant_is_enoent),
		cmocka_unit_test(test_a_close_with_nothing_makes_no_record),
		cmocka_unit_test(test_a_new_session_finds_the_old_tickets_released),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
