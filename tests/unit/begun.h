/* begun.h - a state for the unit tests of the state's operations: its
 * session begun, following a memory log (or log, when given), and how many
 * records that log holds.  Include after cmocka.h and state.h.
 */
#ifndef RWFS_TEST_BEGUN_H
#define RWFS_TEST_BEGUN_H

#include "../../fs/log/memory.h"

static inline struct state *begun(uint64_t session, struct log *log)
{
	struct state *st = state_new(NULL);
	char msg[160];

	assert_non_null(st);
	if (log)
		assert_int_equal(state_attach_log(st, log, msg, sizeof(msg)), 0);
	assert_int_equal(state_begin(st, session, 16, msg, sizeof(msg)), 0);
	return st;
}

static inline size_t records(struct state *st)
{
	return log_memory_count(state_log(st));
}

#endif
