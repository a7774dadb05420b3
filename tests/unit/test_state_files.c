/* test_state_files.c - unit tests of the shared files as the state keeps
 * them (state_file_*): each change is one record, a refusal seen early
 * makes none and one decided by apply changes nothing, a pinned file
 * outlives its unlink, and a replay and a snapshot rebuild the same tree.
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

/* The content of id as a NUL-terminated string in buf. */
static const char *content(struct state *st, uint64_t id, char *buf, size_t size)
{
	ssize_t n = state_file_read(st, id, 0, buf, size - 1);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static uint64_t make(struct state *st, uint64_t parent, const char *name, bool dir)
{
	uint64_t id;

	assert_int_equal(state_file_create(st, parent, name, strlen(name), dir, 0644, 0, 0, 7, &id),
			 0);
	return id;
}

static void test_each_change_is_one_record(void **state)
{
	struct state *st = begun(1, NULL);
	uint64_t dir, f, off, found;
	size_t before = records(st);
	struct files_attr a;
	char buf[64];

	(void)state;
	dir = make(st, FILES_ROOT, "docs", true);
	f = make(st, dir, "a b ü.txt", false);
	assert_int_equal(records(st), before + 2);
	assert_int_equal(state_file_write(st, f, 0, "hello", 5, 7), 0);
	assert_int_equal(state_file_append(st, f, " world\n", 7, 7, &off), 0);
	assert_int_equal(off, 5);
	assert_string_equal(content(st, f, buf, sizeof(buf)), "hello world\n");
	assert_int_equal(state_file_replace(st, f, "new\n", 4, 7), 0);
	assert_string_equal(content(st, f, buf, sizeof(buf)), "new\n");
	assert_int_equal(state_file_truncate(st, f, 2, 7), 0);
	assert_int_equal(state_file_setattr(st, f, FILES_SET_MODE, 0600, 0, 0, 0, 7), 0);
	assert_int_equal(state_file_attr(st, f, &a), 0);
	assert_int_equal(a.size, 2);
	assert_int_equal(a.mode, 0600);
	assert_int_equal(state_file_rename(st, dir, "a b ü.txt", strlen("a b ü.txt"),
					   FILES_ROOT, "top", 3, 0, 7), 0);
	assert_int_equal(state_file_lookup(st, FILES_ROOT, "top", 3, &found, NULL), 0);
	assert_int_equal(found, f);
	assert_int_equal(state_file_unlink(st, FILES_ROOT, "top", 3, false, 7), 0);
	assert_int_equal(state_file_unlink(st, FILES_ROOT, "docs", 4, true, 7), 0);
	assert_int_equal(records(st), before + 10);
	state_free(st);
}

static void test_refusals_make_no_record_or_change_nothing(void **state)
{
	struct state *st = begun(1, NULL);
	uint64_t f = make(st, FILES_ROOT, "f", false), d = make(st, FILES_ROOT, "d", true), id;
	struct files_attr want[3], got[3];
	uint64_t ids[3] = { FILES_ROOT, f, d };
	size_t before = records(st);

	(void)state;
	for (int k = 0; k < 3; k++)
		assert_int_equal(state_file_attr(st, ids[k], &want[k]), 0);
	/* seen before any record */
	assert_int_equal(state_file_create(st, FILES_ROOT, "a\001b", 3, false, 0644, 0, 0, 7, &id),
			 -EINVAL);
	assert_int_equal(state_file_create(st, FILES_ROOT, "..", 2, false, 0644, 0, 0, 7, &id),
			 -EINVAL);
	assert_int_equal(state_file_write(st, f, FILES_MAX_FILE_SIZE, "x", 1, 7), -EFBIG);
	assert_int_equal(state_file_write(st, 999999, 0, "x", 1, 7), -ENOENT);
	assert_int_equal(state_file_write(st, d, 0, "x", 1, 7), -EISDIR);
	assert_int_equal(state_file_unlink(st, FILES_ROOT, "nothing", 7, false, 7), -ENOENT);
	assert_int_equal(records(st), before);
	/* decided by apply: a record each, and no change */
	assert_int_equal(state_file_create(st, FILES_ROOT, "f", 1, true, 0755, 0, 0, 7, &id), -EEXIST);
	assert_int_equal(state_file_unlink(st, FILES_ROOT, "d", 1, false, 7), -EISDIR);
	assert_int_equal(state_file_rename(st, FILES_ROOT, "d", 1, FILES_ROOT, "f", 1,
					   FILES_RENAME_NOREPLACE, 7), -EEXIST);
	assert_int_equal(state_file_rename(st, FILES_ROOT, "f", 1, FILES_ROOT, "d", 1, 0, 7),
			 -EISDIR);
	assert_int_equal(records(st), before + 4);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(state_file_attr(st, ids[k], &got[k]), 0);
		assert_int_equal(got[k].size, want[k].size);
		assert_int_equal(got[k].type, want[k].type);
		assert_int_equal(got[k].nlink, want[k].nlink);
		assert_int_equal(got[k].mtime_ns, want[k].mtime_ns);
		assert_int_equal(got[k].ctime_ns, want[k].ctime_ns);
	}
	assert_int_equal(state_file_lookup(st, FILES_ROOT, "f", 1, &id, NULL), 0);
	assert_int_equal(id, f);
	state_free(st);
}

static void test_a_pinned_file_outlives_its_unlink(void **state)
{
	struct state *st = begun(1, NULL);
	uint64_t f = make(st, FILES_ROOT, "f", false);
	struct files_attr a;
	char buf[16];

	(void)state;
	assert_int_equal(state_file_write(st, f, 0, "kept", 4, 7), 0);
	assert_int_equal(state_file_pin(st, f), 0);
	assert_int_equal(state_file_unlink(st, FILES_ROOT, "f", 1, false, 7), 0);
	assert_int_equal(state_file_attr(st, f, &a), 0);
	assert_int_equal(a.nlink, 0);
	assert_string_equal(content(st, f, buf, sizeof(buf)), "kept");
	assert_int_equal(state_file_write(st, f, 0, "x", 1, 7), -ENOENT);
	assert_int_equal(state_file_unpin(st, f), 0);
	assert_int_equal(state_file_attr(st, f, &a), -ENOENT);
	state_free(st);
}

/* A tree with a rename that makes a directory newer than its content, and
 * content over one dump piece: a replay and a snapshot give its digest. */
static void test_replay_and_snapshot_rebuild_the_tree(void **state)
{
	struct state *st = begun(1, NULL), *replayed, *loaded;
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1], msg[160];
	size_t big_len = FILES_DUMP_PIECE + 100;
	char *big = malloc(big_len), buf[16];
	uint64_t a, b, f, g, at;

	(void)state;
	assert_non_null(big);
	memset(big, 'z', big_len);
	a = make(st, FILES_ROOT, "a", true);
	f = make(st, a, "f", false);
	assert_int_equal(state_file_write(st, f, 0, big, big_len, 7), 0);
	b = make(st, FILES_ROOT, "b", true);
	assert_int_equal(state_file_rename(st, FILES_ROOT, "a", 1, b, "a", 1, 0, 7), 0);
	g = make(st, b, "g", false);
	assert_int_equal(state_file_write(st, g, 0, "gee", 3, 7), 0);
	assert_int_equal(state_file_setattr(st, g, FILES_SET_MTIME, 0, 0, 0, 12345, 7), 0);
	assert_int_equal(state_digest(st, &at, want), 0);

	replayed = state_new(NULL);
	assert_non_null(replayed);
	assert_int_equal(state_attach_log(replayed, log_memory_copy(state_log(st)), msg,
					  sizeof(msg)), 0);
	assert_int_equal(state_digest(replayed, &at, got), 0);
	assert_string_equal(got, want);
	state_free(replayed);

	assert_int_equal(state_compact(st), 0);
	loaded = state_new(NULL);
	assert_non_null(loaded);
	assert_int_equal(state_attach_log(loaded, log_memory_copy(state_log(st)), msg,
					  sizeof(msg)), 0);
	assert_int_equal(state_digest(loaded, &at, got), 0);
	assert_string_equal(got, want);
	assert_string_equal(content(loaded, g, buf, sizeof(buf)), "gee");
	state_free(loaded);
	free(big);
	state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_change_is_one_record),
		cmocka_unit_test(test_refusals_make_no_record_or_change_nothing),
		cmocka_unit_test(test_a_pinned_file_outlives_its_unlink),
		cmocka_unit_test(test_replay_and_snapshot_rebuild_the_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
