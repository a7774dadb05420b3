/* test_tickets.c - unit tests of the ticket table (fs/engine/tickets.h):
 * fairness both ways, -EAGAIN for a conflict and for a jump of the queue,
 * POSIX ranges (split, merge, upgrade, downgrade, disjoint requests passing
 * each other), owners and sessions, flock conversion, flock and POSIX
 * apart, releases, cancel, F_GETLK, the waits the observer is told, stats,
 * a dump restored into a new table, and the bounds.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tickets.h"

#define S TICKET_SHARED
#define X TICKET_EXCLUSIVE
#define END TICKETS_TO_END
#define FILE1 1  /* the file most tests use */

/* ---- helpers: requests ----------------------------------------------- */

static int64_t clock_ns; /* the time of the requests the helpers make */

static struct ticket_req posix(uint64_t id, uint64_t owner, enum ticket_mode mode,
			       uint64_t start, uint64_t end)
{
	return (struct ticket_req){ .id = id, .file = FILE1, .kind = TICKET_POSIX,
				    .mode = mode, .session = 1, .owner = owner,
				    .pid = (uint32_t)(1000 + owner), .start = start,
				    .end = end, .time_ns = clock_ns };
}

static struct ticket_req flock_req(uint64_t id, uint64_t owner, enum ticket_mode mode)
{
	struct ticket_req r = posix(id, owner, mode, 0, END);

	r.kind = TICKET_FLOCK;
	return r;
}

static struct ticket_req on_file(struct ticket_req r, uint64_t file)
{
	r.file = file;
	return r;
}

static struct ticket_req in_session(struct ticket_req r, uint64_t session)
{
	r.session = session;
	return r;
}

static int try_lock(struct tickets *t, struct ticket_req r)
{
	return tickets_lock(t, &r, false);
}

static int wait_lock(struct tickets *t, struct ticket_req r)
{
	return tickets_lock(t, &r, true);
}

static int unlock(struct tickets *t, struct ticket_req r)
{
	return tickets_unlock(t, &r);
}

static bool conflicts(const struct tickets *t, struct ticket_req r, struct ticket_req *holder)
{
	return tickets_conflict(t, &r, holder);
}

/* ---- helpers: what the observer was told ------------------------------ */

struct seen {
	char text[4096]; /* "+3:250 -4": 3 granted after 250 ns, 4 removed */
	size_t len;
};

static struct seen seen;

static void observe(void *arg, const struct ticket_req *req, bool granted, int64_t waited_ns)
{
	struct seen *s = arg;
	int n;

	if (granted)
		n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s+%" PRIu64 ":%" PRId64,
			     s->len ? " " : "", req->id, waited_ns);
	else
		n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s-%" PRIu64,
			     s->len ? " " : "", req->id);
	assert_true(n > 0 && (size_t)n < sizeof(s->text) - s->len);
	s->len += (size_t)n;
}

/* What the observer was told since the last call, then forgets it. */
static const char *told(void)
{
	static char copy[sizeof(seen.text)];

	memcpy(copy, seen.text, sizeof(copy));
	memset(&seen, 0, sizeof(seen));
	return copy;
}

static struct tickets *new_table(struct seen *s)
{
	struct tickets *t = tickets_new();

	assert_non_null(t);
	memset(s, 0, sizeof(*s));
	tickets_observe(t, observe, s);
	return t;
}

/* ---- helpers: the table as text -------------------------------------- */

/* One entry a dump gave: "o1S0-9" a granted POSIX lock (E: to the end),
 * "Fo2X" a flock, "?3" the queued request 3; "f2:" and "s2:" in front when
 * the file or the session is not 1. */
static int describe_one(void *arg, const struct ticket_req *r, bool granted)
{
	char *text = arg;
	size_t len = strlen(text);
	char where[48] = "", range[48] = "";

	if (r->file != FILE1)
		snprintf(where, sizeof(where), "f%" PRIu64 ":", r->file);
	if (r->session != 1)
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
			 "s%" PRIu64 ":", r->session);
	if (r->kind == TICKET_POSIX && r->end == END)
		snprintf(range, sizeof(range), "%" PRIu64 "-E", r->start);
	else if (r->kind == TICKET_POSIX)
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, r->start, r->end);
	if (granted)
		snprintf(text + len, 4096 - len, "%s%s%so%" PRIu64 "%c%s", len ? " " : "", where,
			 r->kind == TICKET_FLOCK ? "F" : "", r->owner,
			 r->mode == TICKET_EXCLUSIVE ? 'X' : 'S', range);
	else
		snprintf(text + len, 4096 - len, "%s%s?%" PRIu64, len ? " " : "", where, r->id);
	return 0;
}

static const char *describe(const struct tickets *t)
{
	static char text[4096];

	text[0] = '\0';
	assert_int_equal(tickets_dump(t, describe_one, text), 0);
	return text;
}

static struct ticket_stats stats(const struct tickets *t)
{
	struct ticket_stats s;

	memset(&s, 0xa5, sizeof(s));
	tickets_stats(t, &s);
	return s;
}

/* ---- fairness --------------------------------------------------------- */

static void test_shared_granted_together(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(try_lock(t, flock_req(2, 2, S)), 0);
	assert_int_equal(try_lock(t, flock_req(3, 3, S)), 0);
	assert_string_equal(describe(t), "Fo1S Fo2S Fo3S");
	assert_int_equal(stats(t).held, 3);
	assert_int_equal(stats(t).waiting, 0);
	tickets_free(t);
}

static void test_exclusive_waits_for_every_shared_holder(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(try_lock(t, flock_req(2, 2, S)), 0);
	assert_int_equal(wait_lock(t, flock_req(3, 3, X)), 1);
	assert_string_equal(describe(t), "Fo1S Fo2S ?3");
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 1, 0), 1);
	assert_string_equal(told(), "");
	assert_true(tickets_is_queued(t, 3));
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 2, 0), 1);
	assert_string_equal(told(), "+3:0");
	assert_false(tickets_is_queued(t, 3));
	assert_string_equal(describe(t), "Fo3X");
	tickets_free(t);
}

static void test_shared_stream_waits_behind_exclusive(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(wait_lock(t, flock_req(2, 2, X)), 1);
	assert_int_equal(wait_lock(t, flock_req(3, 3, S)), 1);
	assert_int_equal(try_lock(t, flock_req(4, 4, S)), -EAGAIN);
	assert_int_equal(wait_lock(t, flock_req(5, 5, S)), 1);
	assert_string_equal(describe(t), "Fo1S ?2 ?3 ?5");
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 1, 0);
	assert_string_equal(told(), "+2:0");
	assert_string_equal(describe(t), "Fo2X ?3 ?5");
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 2, 0);
	assert_string_equal(told(), "+3:0 +5:0");
	assert_string_equal(describe(t), "Fo3S Fo5S");
	tickets_free(t);
}

static void test_nonblocking_conflict_changes_nothing(void **state)
{
	struct tickets *t = new_table(&seen);
	char before[4096];

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 9)), 0);
	assert_int_equal(try_lock(t, flock_req(2, 1, X)), 0);
	strcpy(before, describe(t));
	assert_int_equal(try_lock(t, posix(3, 2, S, 5, 5)), -EAGAIN);
	assert_int_equal(try_lock(t, flock_req(4, 2, S)), -EAGAIN);
	assert_string_equal(describe(t), before);
	assert_int_equal(stats(t).waiting, 0);
	assert_string_equal(told(), "");
	tickets_free(t);
}

static void test_nonblocking_may_not_jump_the_queue(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(wait_lock(t, flock_req(2, 2, X)), 1);
	/* No lock conflicts with it, but the exclusive request is ahead. */
	assert_false(conflicts(t, flock_req(3, 3, S), NULL));
	assert_int_equal(try_lock(t, flock_req(3, 3, S)), -EAGAIN);
	assert_string_equal(describe(t), "Fo1S ?2");
	tickets_free(t);
}

/* ---- ranges ------------------------------------------------------------ */

static void test_unlock_splits(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 99)), 0);
	assert_int_equal(unlock(t, posix(0, 1, X, 40, 59)), 0);
	assert_string_equal(describe(t), "o1X0-39 o1X60-99");
	assert_int_equal(try_lock(t, posix(2, 2, X, 40, 59)), 0);
	assert_int_equal(try_lock(t, posix(3, 2, X, 39, 39)), -EAGAIN);
	assert_int_equal(unlock(t, posix(0, 3, X, 0, END)), 0);
	assert_int_equal(unlock(t, posix(0, 1, X, 0, 49)), 0);
	assert_string_equal(describe(t), "o1X60-99 o2X40-59");
	tickets_free(t);
}

static void test_same_mode_merges(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, S, 0, 9)), 0);
	assert_int_equal(try_lock(t, posix(2, 1, S, 10, 19)), 0);
	assert_string_equal(describe(t), "o1S0-19");
	assert_int_equal(try_lock(t, posix(3, 1, S, 30, 39)), 0);
	assert_string_equal(describe(t), "o1S0-19 o1S30-39");
	assert_int_equal(try_lock(t, posix(4, 1, S, 20, 29)), 0);
	assert_string_equal(describe(t), "o1S0-39");
	assert_int_equal(try_lock(t, posix(5, 1, S, 35, 50)), 0);
	assert_string_equal(describe(t), "o1S0-50");
	assert_int_equal(try_lock(t, posix(6, 1, S, 51, END)), 0);
	assert_string_equal(describe(t), "o1S0-E");
	/* Another mode touching is not merged. */
	assert_int_equal(try_lock(t, posix(7, 2, S, 0, 9)), 0);
	assert_int_equal(unlock(t, posix(0, 1, S, 0, END)), 0);
	assert_int_equal(try_lock(t, posix(8, 2, X, 10, 19)), 0);
	assert_string_equal(describe(t), "o2S0-9 o2X10-19");
	assert_int_equal(unlock(t, posix(0, 2, S, 0, END)), 0);
	assert_int_equal(stats(t).files, 0);
	tickets_free(t);
}

static void test_upgrade_and_downgrade_in_place(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, S, 0, 99)), 0);
	assert_int_equal(try_lock(t, posix(2, 1, X, 20, 29)), 0);
	assert_string_equal(describe(t), "o1S0-19 o1S30-99 o1X20-29");
	assert_int_equal(try_lock(t, posix(3, 2, S, 25, 25)), -EAGAIN);
	assert_int_equal(try_lock(t, posix(4, 2, S, 30, 30)), 0);
	assert_int_equal(try_lock(t, posix(5, 1, S, 20, 29)), 0);
	assert_string_equal(describe(t), "o2S30-30 o1S0-99");
	tickets_free(t);
}

static void test_downgrade_and_unlock_let_waiters_through(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 99)), 0);
	assert_int_equal(wait_lock(t, posix(2, 2, S, 0, 9)), 1);
	assert_int_equal(wait_lock(t, posix(3, 3, X, 50, 59)), 1);
	assert_int_equal(try_lock(t, posix(4, 1, S, 0, 99)), 0);
	assert_string_equal(told(), "+2:0");
	assert_string_equal(describe(t), "o1S0-99 o2S0-9 ?3");
	assert_int_equal(unlock(t, posix(0, 1, S, 50, 59)), 0);
	assert_string_equal(told(), "+3:0");
	assert_string_equal(describe(t), "o1S0-49 o2S0-9 o1S60-99 o3X50-59");
	tickets_free(t);
}

static void test_upgrade_that_waits_keeps_its_lock(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, S, 0, 9)), 0);
	assert_int_equal(try_lock(t, posix(2, 2, S, 0, 9)), 0);
	assert_int_equal(wait_lock(t, posix(3, 1, X, 0, 9)), 1);
	assert_string_equal(describe(t), "o1S0-9 o2S0-9 ?3");
	assert_int_equal(wait_lock(t, posix(4, 3, S, 0, 9)), 1);
	tickets_release_owner(t, FILE1, TICKET_POSIX, 1, 2, 0);
	assert_string_equal(told(), "+3:0");
	assert_string_equal(describe(t), "o1X0-9 ?4");
	tickets_free(t);
}

/* The requests queued wait for the holder: a holder behind them would
 * deadlock. */
static void test_holder_passes_the_queue(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, S, 0, 9)), 0);
	assert_int_equal(wait_lock(t, posix(2, 2, X, 0, 19)), 1);
	assert_int_equal(try_lock(t, posix(3, 3, S, 10, 19)), -EAGAIN);
	assert_int_equal(try_lock(t, posix(4, 1, X, 10, 19)), 0);
	assert_string_equal(describe(t), "o1S0-9 o1X10-19 ?2");
	assert_int_equal(try_lock(t, posix(5, 1, S, 10, 19)), 0);
	assert_string_equal(describe(t), "o1S0-19 ?2");
	assert_int_equal(try_lock(t, posix(6, 1, X, 0, 19)), 0);
	assert_int_equal(try_lock(t, posix(7, 1, S, 0, 19)), 0);
	assert_string_equal(describe(t), "o1S0-19 ?2");
	tickets_free(t);
}

static void test_disjoint_requests_pass_each_other(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 19)), 0);
	assert_int_equal(wait_lock(t, posix(2, 2, X, 0, 9)), 1);
	assert_int_equal(wait_lock(t, posix(3, 3, X, 10, 19)), 1);
	assert_int_equal(try_lock(t, posix(4, 4, X, 30, 39)), 0);
	assert_int_equal(wait_lock(t, posix(5, 5, X, 5, 14)), 1);
	assert_int_equal(unlock(t, posix(0, 1, X, 0, 19)), 0);
	assert_string_equal(told(), "+2:0 +3:0");
	assert_string_equal(describe(t), "o4X30-39 o2X0-9 o3X10-19 ?5");
	tickets_free(t);
}

/* ---- owners, kinds, sessions ------------------------------------------ */

static void test_same_owner_never_conflicts(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 9)), 0);
	assert_int_equal(try_lock(t, posix(2, 1, X, 5, 15)), 0);
	assert_string_equal(describe(t), "o1X0-15");
	assert_int_equal(try_lock(t, posix(3, 1, S, 0, END)), 0);
	assert_false(conflicts(t, posix(9, 1, X, 0, 9), NULL));
	assert_int_equal(try_lock(t, flock_req(4, 1, X)), 0);
	assert_int_equal(try_lock(t, flock_req(5, 1, X)), 0);
	assert_string_equal(describe(t), "o1S0-E Fo1X");
	tickets_free(t);
}

static void test_flock_conversion(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(try_lock(t, flock_req(2, 2, S)), 0);
	/* Refused without waiting: the old lock stays. */
	assert_int_equal(try_lock(t, flock_req(3, 1, X)), -EAGAIN);
	assert_string_equal(describe(t), "Fo1S Fo2S");
	/* Waiting: the old lock goes first, so the other holder can convert. */
	assert_int_equal(wait_lock(t, flock_req(4, 1, X)), 1);
	assert_string_equal(describe(t), "Fo2S ?4");
	assert_int_equal(wait_lock(t, flock_req(5, 2, X)), 0);
	assert_string_equal(describe(t), "Fo2X ?4");
	assert_int_equal(try_lock(t, flock_req(6, 2, S)), 0);
	assert_string_equal(describe(t), "Fo2S ?4");
	assert_int_equal(unlock(t, flock_req(0, 2, S)), 0);
	assert_string_equal(told(), "+4:0");
	assert_int_equal(try_lock(t, flock_req(7, 1, S)), 0);
	assert_string_equal(describe(t), "Fo1S");
	tickets_free(t);
}

static void test_flock_and_posix_are_independent(void **state)
{
	struct tickets *t = new_table(&seen);
	struct ticket_req h;

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, X)), 0);
	assert_int_equal(try_lock(t, posix(2, 2, X, 0, END)), 0);
	assert_true(conflicts(t, flock_req(3, 2, S), &h));
	assert_int_equal(h.owner, 1);
	assert_int_equal(h.kind, TICKET_FLOCK);
	assert_true(conflicts(t, posix(4, 1, S, 7, 7), &h));
	assert_int_equal(h.owner, 2);
	assert_int_equal(h.kind, TICKET_POSIX);
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 2, 0), 0);
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_POSIX, 1, 1, 0), 0);
	assert_string_equal(describe(t), "Fo1X o2X0-E");
	tickets_free(t);
}

static void test_release_owner(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, S, 0, 9)), 0);
	assert_int_equal(try_lock(t, posix(2, 1, S, 20, 29)), 0);
	assert_int_equal(try_lock(t, posix(3, 2, X, 40, 49)), 0);
	assert_int_equal(wait_lock(t, posix(4, 1, X, 40, 49)), 1);
	assert_int_equal(wait_lock(t, posix(5, 3, X, 0, 9)), 1);
	assert_int_equal(try_lock(t, flock_req(6, 1, X)), 0);
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_POSIX, 1, 1, 0), 3);
	assert_string_equal(told(), "-4 +5:0");
	assert_string_equal(describe(t), "o2X40-49 Fo1X o3X0-9");
	assert_int_equal(tickets_release_owner(t, 99, TICKET_POSIX, 1, 1, 0), 0);
	tickets_free(t);
}

static void test_cancel(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(wait_lock(t, flock_req(2, 2, X)), 1);
	assert_int_equal(wait_lock(t, flock_req(3, 3, S)), 1);
	assert_int_equal(tickets_cancel(t, 2, 0), 0);
	assert_string_equal(told(), "-2 +3:0");
	assert_false(tickets_is_queued(t, 2));
	assert_string_equal(describe(t), "Fo1S Fo3S");
	assert_int_equal(tickets_cancel(t, 2, 0), -ENOENT);
	assert_int_equal(tickets_cancel(t, 1, 0), -ENOENT);
	assert_int_equal(tickets_cancel(t, 99, 0), -ENOENT);
	/* The last request of a file leaves nothing behind. */
	assert_int_equal(try_lock(t, on_file(posix(4, 4, X, 0, 0), 2)), 0);
	assert_int_equal(wait_lock(t, on_file(posix(5, 5, X, 0, 0), 2)), 1);
	assert_int_equal(stats(t).files, 2);
	tickets_release_owner(t, 2, TICKET_POSIX, 1, 4, 0);
	assert_string_equal(told(), "+5:0");
	tickets_release_owner(t, 2, TICKET_POSIX, 1, 5, 0);
	assert_int_equal(stats(t).files, 1);
	tickets_free(t);
}

static void test_release_session(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 99)), 0);
	assert_int_equal(try_lock(t, on_file(flock_req(2, 2, X), 2)), 0);
	/* The same owner number in another session is another owner. */
	assert_int_equal(wait_lock(t, in_session(posix(3, 1, S, 0, 9), 2)), 1);
	assert_int_equal(wait_lock(t, in_session(on_file(flock_req(4, 5, S), 2), 2)), 1);
	assert_int_equal(wait_lock(t, posix(5, 3, X, 0, 9)), 1);
	assert_int_equal(tickets_release_session(t, 1, 0), 3);
	assert_string_equal(told(), "-5 +3:0 +4:0");
	assert_string_equal(describe(t), "s2:o1S0-9 f2:s2:Fo5S");
	assert_int_equal(tickets_release_session(t, 1, 0), 0);
	assert_int_equal(tickets_release_session(t, 2, 0), 2);
	assert_int_equal(stats(t).files, 0);
	tickets_free(t);
}

static void test_conflict_reports_the_holder(void **state)
{
	struct tickets *t = new_table(&seen);
	struct ticket_req h;

	(void)state;
	clock_ns = 777;
	assert_int_equal(try_lock(t, posix(1, 1, X, 10, 19)), 0);
	clock_ns = 0;
	memset(&h, 0, sizeof(h));
	assert_true(conflicts(t, posix(9, 2, S, 15, 30), &h));
	assert_int_equal(h.id, 1);
	assert_int_equal(h.pid, 1001);
	assert_int_equal(h.owner, 1);
	assert_int_equal(h.mode, TICKET_EXCLUSIVE);
	assert_int_equal(h.start, 10);
	assert_int_equal(h.end, 19);
	assert_int_equal(h.time_ns, 777);
	assert_false(conflicts(t, posix(9, 2, S, 20, 30), NULL));
	assert_false(conflicts(t, posix(9, 1, X, 10, 19), NULL));
	assert_false(conflicts(t, on_file(posix(9, 2, X, 10, 19), 2), NULL));
	assert_false(conflicts(t, posix(9, 2, X, 19, 10), NULL));
	assert_int_equal(unlock(t, posix(0, 1, X, 10, 19)), 0);
	assert_int_equal(try_lock(t, posix(2, 1, S, 0, 9)), 0);
	assert_false(conflicts(t, posix(9, 2, S, 0, 9), NULL));
	tickets_free(t);
}

/* ---- waits and stats -------------------------------------------------- */

static void test_grants_report_their_waits(void **state)
{
	struct tickets *t = new_table(&seen);
	struct ticket_req h;

	(void)state;
	clock_ns = 1000;
	assert_int_equal(try_lock(t, flock_req(1, 1, X)), 0);
	clock_ns = 1500;
	assert_int_equal(wait_lock(t, flock_req(2, 2, S)), 1);
	clock_ns = 1700;
	assert_int_equal(wait_lock(t, flock_req(3, 3, S)), 1);
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 1, 4000);
	assert_string_equal(told(), "+2:2500 +3:2300");
	assert_int_equal(stats(t).longest_wait_ns, 2500);
	assert_true(conflicts(t, flock_req(9, 9, X), &h));
	assert_int_equal(h.time_ns, 4000);
	clock_ns = 5000;
	assert_int_equal(wait_lock(t, flock_req(4, 4, X)), 1);
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 2, 5100);
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 3, 5200);
	assert_string_equal(told(), "+4:200");
	assert_int_equal(stats(t).longest_wait_ns, 2500);
	/* A clock that went back is no wait. */
	clock_ns = 9000;
	assert_int_equal(wait_lock(t, flock_req(5, 5, X)), 1);
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 4, 8000);
	assert_string_equal(told(), "+5:0");
	clock_ns = 0;
	tickets_free(t);
}

static void test_stats(void **state)
{
	struct tickets *t = new_table(&seen);
	struct ticket_stats s = stats(t);

	(void)state;
	assert_int_equal(s.held, 0);
	assert_int_equal(s.waiting, 0);
	assert_int_equal(s.files, 0);
	assert_int_equal(s.longest_wait_ns, 0);
	assert_int_equal(s.oldest_request_ns, 0);
	clock_ns = 10;
	assert_int_equal(try_lock(t, flock_req(1, 1, S)), 0);
	assert_int_equal(try_lock(t, on_file(posix(2, 1, X, 0, 99), 2)), 0);
	assert_int_equal(unlock(t, on_file(posix(0, 1, X, 10, 19), 2)), 0);
	clock_ns = 30;
	assert_int_equal(wait_lock(t, flock_req(3, 2, X)), 1);
	clock_ns = 20;
	assert_int_equal(wait_lock(t, on_file(posix(4, 2, S, 0, 0), 2)), 1);
	clock_ns = 0;
	s = stats(t);
	assert_int_equal(s.held, 3);
	assert_int_equal(s.waiting, 2);
	assert_int_equal(s.files, 2);
	assert_int_equal(s.oldest_request_ns, 20);
	tickets_free(t);
}

/* ---- dump and restore -------------------------------------------------- */

struct entries {
	struct ticket_req req[64];
	bool granted[64];
	size_t count;
};

static int collect(void *arg, const struct ticket_req *req, bool granted)
{
	struct entries *e = arg;

	assert_true(e->count < 64);
	e->req[e->count] = *req;
	e->granted[e->count++] = granted;
	return 0;
}

static void assert_same_req(const struct ticket_req *a, const struct ticket_req *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->file, b->file);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->session, b->session);
	assert_int_equal(a->owner, b->owner);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->start, b->start);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->time_ns, b->time_ns);
}

static void assert_same_dump(const struct tickets *a, const struct tickets *b)
{
	struct entries ea = { .count = 0 }, eb = { .count = 0 };

	assert_int_equal(tickets_dump(a, collect, &ea), 0);
	assert_int_equal(tickets_dump(b, collect, &eb), 0);
	assert_int_equal(ea.count, eb.count);
	for (size_t i = 0; i < ea.count; i++) {
		assert_same_req(&ea.req[i], &eb.req[i]);
		assert_int_equal(ea.granted[i], eb.granted[i]);
	}
}

/* A table with a bit of everything: files, kinds, sessions, split locks,
 * waits both held back and blocked, a longest wait. */
static void populate(struct tickets *t)
{
	clock_ns = 100;
	assert_int_equal(try_lock(t, posix(1, 1, X, 0, 99)), 0);
	assert_int_equal(wait_lock(t, posix(2, 2, S, 0, 9)), 1);
	clock_ns = 200;
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_POSIX, 1, 1, 900), 1);
	assert_int_equal(try_lock(t, posix(3, 3, S, 0, 99)), 0);
	assert_int_equal(unlock(t, posix(0, 3, S, 40, 59)), 0);
	assert_int_equal(wait_lock(t, posix(4, 4, X, 0, 9)), 1);
	assert_int_equal(wait_lock(t, posix(5, 5, S, 5, 5)), 1);
	assert_int_equal(wait_lock(t, posix(6, 6, X, 90, END)), 1);
	assert_int_equal(try_lock(t, flock_req(7, 1, S)), 0);
	assert_int_equal(wait_lock(t, in_session(flock_req(8, 1, X), 2)), 1);
	assert_int_equal(try_lock(t, on_file(flock_req(9, 9, X), 5)), 0);
	assert_int_equal(wait_lock(t, in_session(on_file(flock_req(10, 3, S), 5), 3)), 1);
	clock_ns = 0;
}

/* The same calls on both tables; they must stay equal. */
static void follow_up(struct tickets *t)
{
	assert_int_equal(tickets_cancel(t, 4, 1000), 0);
	assert_int_equal(tickets_release_owner(t, FILE1, TICKET_POSIX, 1, 3, 1100), 2);
	assert_int_equal(tickets_release_session(t, 1, 1200), 5);
	assert_int_equal(try_lock(t, flock_req(11, 7, S)), -EAGAIN);
	assert_int_equal(wait_lock(t, flock_req(12, 7, S)), 1);
}

static void test_dump_round_trip(void **state)
{
	struct tickets *a = new_table(&seen);
	struct tickets *b;
	struct seen seen_b;
	struct entries e = { .count = 0 };
	char text_a[4096];

	(void)state;
	populate(a);
	told();
	assert_string_equal(describe(a),
			    "o2S0-9 o3S0-39 o3S60-99 Fo1S ?4 ?5 ?6 s2:?8 f5:Fo9X f5:s3:?10");
	assert_int_equal(stats(a).longest_wait_ns, 800);
	assert_int_equal(tickets_dump(a, collect, &e), 0);

	b = new_table(&seen_b);
	for (size_t i = 0; i < e.count; i++)
		assert_int_equal(tickets_restore(b, &e.req[i], e.granted[i]), 0);
	tickets_restore_longest_wait(b, stats(a).longest_wait_ns);
	assert_same_dump(a, b);
	assert_int_equal(stats(b).held, stats(a).held);
	assert_int_equal(stats(b).waiting, stats(a).waiting);
	assert_int_equal(stats(b).files, stats(a).files);
	assert_int_equal(stats(b).longest_wait_ns, 800);
	assert_int_equal(stats(b).oldest_request_ns, stats(a).oldest_request_ns);

	follow_up(a);
	follow_up(b);
	assert_string_equal(seen_b.text, seen.text);
	assert_string_equal(seen.text, "-4 +5:800 +6:900 +8:1000 +10:1000");
	strcpy(text_a, describe(a));
	assert_string_equal(describe(b), text_a);
	assert_same_dump(a, b);
	assert_int_equal(stats(b).longest_wait_ns, stats(a).longest_wait_ns);
	tickets_free(b);
	tickets_free(a);
}

static void test_restore_refuses_what_no_table_holds(void **state)
{
	struct tickets *t = new_table(&seen);
	struct ticket_req r = posix(1, 1, X, 0, 9);
	struct ticket_req bad = posix(2, 1, X, 9, 0);

	(void)state;
	assert_int_equal(tickets_restore(t, &r, true), 0);
	r = posix(2, 2, S, 5, 5);
	assert_int_equal(tickets_restore(t, &r, true), -EINVAL);
	r = posix(3, 1, S, 9, 20);
	assert_int_equal(tickets_restore(t, &r, true), -EINVAL);
	assert_int_equal(tickets_restore(t, &bad, false), -EINVAL);
	r = posix(4, 2, S, 0, 0);
	assert_int_equal(tickets_restore(t, &r, false), 0);
	assert_int_equal(tickets_restore(t, &r, false), -EEXIST);
	assert_string_equal(describe(t), "o1X0-9 ?4");
	assert_string_equal(told(), "");
	tickets_free(t);
}

/* ---- bounds ------------------------------------------------------------ */

static void test_invalid_requests(void **state)
{
	struct tickets *t = new_table(&seen);
	struct ticket_req r = posix(1, 1, X, 10, 9);

	(void)state;
	assert_int_equal(tickets_lock(t, &r, true), -EINVAL);
	assert_int_equal(tickets_unlock(t, &r), -EINVAL);
	r = posix(1, 1, X, 0, 9);
	r.kind = (enum ticket_kind)7;
	assert_int_equal(tickets_lock(t, &r, false), -EINVAL);
	r = posix(1, 1, X, 0, 9);
	r.mode = (enum ticket_mode)9;
	assert_int_equal(tickets_lock(t, &r, false), -EINVAL);
	/* A flock's range is not looked at. */
	r = flock_req(1, 1, X);
	r.start = 10;
	r.end = 9;
	assert_int_equal(tickets_lock(t, &r, false), 0);
	assert_string_equal(describe(t), "Fo1X");
	assert_int_equal(wait_lock(t, flock_req(2, 2, X)), 1);
	assert_int_equal(wait_lock(t, posix(2, 3, X, 0, 0)), -EEXIST);
	assert_int_equal(stats(t).waiting, 1);
	tickets_free(t);
}

static void test_file_bound(void **state)
{
	struct tickets *t = new_table(&seen);
	char before[4096];
	int queued = 0;

	(void)state;
	assert_int_equal(try_lock(t, posix(1, 1, S, 0, 10)), 0);
	for (uint64_t i = 2; i <= TICKETS_FILE_MAX; i++)
		assert_int_equal(try_lock(t, posix(i, i, S, 100 + i, 100 + i)), 0);
	assert_int_equal(try_lock(t, posix(5000, 5000, S, 0, 0)), -ENOLCK);
	assert_int_equal(try_lock(t, on_file(posix(5000, 5000, S, 0, 0), 2)), 0);
	/* An unlock that splits a lock needs room for one more. */
	strcpy(before, describe(t));
	assert_int_equal(unlock(t, posix(0, 1, S, 5, 5)), -ENOLCK);
	assert_string_equal(describe(t), before);
	assert_int_equal(unlock(t, posix(0, 1, S, 0, 10)), 0);
	assert_int_equal(try_lock(t, posix(5001, 5001, S, 0, 0)), 0);
	assert_int_equal(try_lock(t, posix(5002, 5002, S, 1, 1)), -ENOLCK);
	tickets_free(t);

	/* A waiting request counts as TICKETS_REQUEST_WEIGHT locks. */
	t = new_table(&seen);
	assert_int_equal(try_lock(t, flock_req(1, 1, X)), 0);
	while (wait_lock(t, flock_req(2 + (uint64_t)queued, 2 + (uint64_t)queued, S)) == 1)
		queued++;
	assert_int_equal(queued, (TICKETS_FILE_MAX - 1) / TICKETS_REQUEST_WEIGHT);
	strcpy(before, describe(t));
	assert_int_equal(wait_lock(t, flock_req(9999, 9999, S)), -ENOLCK);
	assert_string_equal(describe(t), before);
	tickets_release_owner(t, FILE1, TICKET_FLOCK, 1, 1, 0);
	assert_int_equal(stats(t).held, (uint64_t)queued);
	assert_int_equal(stats(t).waiting, 0);
	tickets_free(t);
}

static void test_table_bound(void **state)
{
	struct tickets *t = new_table(&seen);

	(void)state;
	for (uint64_t f = 1; f <= TICKETS_MAX; f++)
		assert_int_equal(try_lock(t, on_file(flock_req(f, 1, X), f)), 0);
	assert_int_equal(stats(t).files, TICKETS_MAX);
	assert_int_equal(try_lock(t, on_file(flock_req(0, 1, X), 0)), -ENOLCK);
	assert_int_equal(try_lock(t, on_file(flock_req(0, 2, X), 1)), -EAGAIN);
	assert_int_equal(tickets_release_session(t, 1, 0), TICKETS_MAX);
	assert_int_equal(stats(t).files, 0);
	tickets_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_granted_together),
		cmocka_unit_test(test_exclusive_waits_for_every_shared_holder),
		cmocka_unit_test(test_shared_stream_waits_behind_exclusive),
		cmocka_unit_test(test_nonblocking_conflict_changes_nothing),
		cmocka_unit_test(test_nonblocking_may_not_jump_the_queue),
		cmocka_unit_test(test_unlock_splits),
		cmocka_unit_test(test_same_mode_merges),
		cmocka_unit_test(test_upgrade_and_downgrade_in_place),
		cmocka_unit_test(test_downgrade_and_unlock_let_waiters_through),
		cmocka_unit_test(test_upgrade_that_waits_keeps_its_lock),
		cmocka_unit_test(test_holder_passes_the_queue),
		cmocka_unit_test(test_disjoint_requests_pass_each_other),
		cmocka_unit_test(test_same_owner_never_conflicts),
		cmocka_unit_test(test_flock_conversion),
		cmocka_unit_test(test_flock_and_posix_are_independent),
		cmocka_unit_test(test_release_owner),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_release_session),
		cmocka_unit_test(test_conflict_reports_the_holder),
		cmocka_unit_test(test_grants_report_their_waits),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_restore_refuses_what_no_table_holds),
		cmocka_unit_test(test_invalid_requests),
		cmocka_unit_test(test_file_bound),
		cmocka_unit_test(test_table_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
