/* test_store.c - the journal and snapshot: framing, CRC, replay, torn and
 * damaged files, recovery, compaction, the sync policy and injected
 * failures of the system calls. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"
#include "state.h"
#include "store.h"

/* --- fixtures ------------------------------------------------------------ */

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(scratch_dir(f->dir, sizeof(f->dir), "rwfs-store"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char *path_in(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static long file_size(struct fixture *f, const char *name)
{
	struct stat st;

	if (stat(path_in(f, name), &st) != 0)
		return -1;
	return (long)st.st_size;
}

/* Records replayed by store_open, joined with '|'. */
struct replayed {
	char text[4096];
	int count;
	int fail_at; /* 1-based record whose apply fails; 0: none */
};

static int collect(void *arg, const char *text, size_t len)
{
	struct replayed *r = arg;

	r->count++;
	if (r->count == r->fail_at)
		return -EINVAL;
	strncat(r->text, text, len);
	strcat(r->text, "|");
	return 0;
}

static struct store_options options(struct fixture *f, enum store_sync sync)
{
	return (struct store_options){ .dir = f->dir, .sync = sync, .io = NULL };
}

static struct store *open_ok(struct store_options *o, struct replayed *r)
{
	struct store *s = NULL;
	char msg[256] = "";

	assert_int_equal(store_open(o, collect, r, &s, msg, sizeof(msg)), 0);
	assert_non_null(s);
	return s;
}

static void append_ok(struct store *s, const char *text)
{
	uint64_t ticket;

	assert_int_equal(store_append(s, text, strlen(text), &ticket), 0);
	assert_int_equal(store_commit(s, ticket), 0);
}

/* Overwrites one byte of a file. */
static void poke(struct fixture *f, const char *name, long off, unsigned char byte)
{
	int fd = open(path_in(f, name), O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &byte, 1, off), 1);
	close(fd);
}

static void cut(struct fixture *f, const char *name, long size)
{
	assert_int_equal(truncate(path_in(f, name), size), 0);
}

/* --- injectable system calls ----------------------------------------------- */

static int fail_pwrite_errno;  /* 0: pwrite works */
static int fail_pwrite_short;  /* write only this many bytes, then fail */
static int fdatasyncs;

static ssize_t fake_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (fail_pwrite_short && n > (size_t)fail_pwrite_short) {
		ssize_t done = pwrite(fd, buf, (size_t)fail_pwrite_short, off);

		fail_pwrite_short = 0;
		return done;
	}
	if (fail_pwrite_errno) {
		errno = fail_pwrite_errno;
		return -1;
	}
	return pwrite(fd, buf, n, off);
}

static int fail_fdatasync;

static int fake_fdatasync(int fd)
{
	/* The everysec syncer calls this from its own thread. */
	__atomic_fetch_add(&fdatasyncs, 1, __ATOMIC_SEQ_CST);
	if (fail_fdatasync) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int fail_openat_errno;

static int fake_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (fail_openat_errno) {
		errno = fail_openat_errno;
		return -1;
	}
	return openat(dirfd, path, flags, mode);
}

static const struct store_io fake_io = {
	.openat = fake_openat,
	.pwrite = fake_pwrite,
	.fdatasync = fake_fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
};

static void reset_fakes(void)
{
	fail_pwrite_errno = 0;
	fail_pwrite_short = 0;
	fdatasyncs = 0;
	fail_fdatasync = 0;
	fail_openat_errno = 0;
}

/* --- tests ------------------------------------------------------------------ */

static void test_crc32_known_values(void **state)
{
	(void)state;
	assert_int_equal(store_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(store_crc32("", 0), 0);
	assert_int_equal(store_crc32("a", 1), 0xe8b7be43u);
}

static void test_framing_on_disk(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	unsigned char buf[64];
	int fd;

	append_ok(s, "SET A 5\n");
	store_close(s);
	/* 16-byte header, then length, CRC, payload. */
	assert_int_equal(file_size(f, "journal"), 16 + 8 + 8);
	fd = open(path_in(f, "journal"), O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 32);
	close(fd);
	assert_memory_equal(buf, "rwfsjnl1", 8);
	assert_int_equal(buf[16], 8);
	assert_int_equal(buf[17] | buf[18] | buf[19], 0);
	uint32_t crc = (uint32_t)buf[20] | (uint32_t)buf[21] << 8 |
		       (uint32_t)buf[22] << 16 | (uint32_t)buf[23] << 24;
	assert_int_equal(crc, store_crc32("SET A 5\n", 8));
	assert_memory_equal(buf + 24, "SET A 5\n", 8);
}

static void test_replay_in_order(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_EVERYSEC);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);

	assert_int_equal(r.count, 0);
	assert_int_equal(store_start(s), 0);
	append_ok(s, "SET A 1\n");
	append_ok(s, "ADD A 2\nSUB B 1\n");
	append_ok(s, "MOV A C\n");
	store_close(s);

	s = open_ok(&o, &r);
	assert_int_equal(r.count, 3);
	assert_string_equal(r.text, "SET A 1\n|ADD A 2\nSUB B 1\n|MOV A C\n|");
	store_close(s);
}

static void test_torn_tail_is_dropped(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	long good;

	append_ok(s, "SET A 1\n");
	append_ok(s, "SET B 2\n");
	store_close(s);
	good = file_size(f, "journal");
	/* A crash in the middle of the second record. */
	cut(f, "journal", good - 3);

	s = open_ok(&o, &r);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.text, "SET A 1\n|");
	assert_int_equal(file_size(f, "journal"), good - 16);
	append_ok(s, "SET C 3\n");
	store_close(s);

	memset(&r, 0, sizeof(r));
	s = open_ok(&o, &r);
	assert_string_equal(r.text, "SET A 1\n|SET C 3\n|");
	store_close(s);
}

static void test_torn_header_of_record(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	long good;

	append_ok(s, "SET A 1\n");
	store_close(s);
	good = file_size(f, "journal");
	int fd = open(path_in(f, "journal"), O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\x10\x00", 2), 2);
	close(fd);

	s = open_ok(&o, &r);
	assert_int_equal(r.count, 1);
	assert_int_equal(file_size(f, "journal"), good);
	store_close(s);
}

static void test_damaged_middle_is_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	char msg[256] = "";
	long size;

	append_ok(s, "SET A 1\n");
	append_ok(s, "SET B 2\n");
	append_ok(s, "SET C 3\n");
	store_close(s);
	size = file_size(f, "journal");
	/* Flip a payload byte of the second record (16 + 16 + 8 + 2). */
	poke(f, "journal", 42, 'X');

	assert_int_equal(store_open(&o, collect, &r, &s, msg, sizeof(msg)), -EBADMSG);
	assert_null(s);
	assert_non_null(strstr(msg, "journal"));
	assert_non_null(strstr(msg, "offset 32"));
	assert_non_null(strstr(msg, "CRC"));
	/* Nothing was overwritten. */
	assert_int_equal(file_size(f, "journal"), size);
}

static void test_recover_keeps_a_copy(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	char notices[512] = "";
	FILE *out = fmemopen(notices, sizeof(notices), "w");
	long size;

	append_ok(s, "SET A 1\n");
	append_ok(s, "SET B 2\n");
	append_ok(s, "SET C 3\n");
	store_close(s);
	size = file_size(f, "journal");
	poke(f, "journal", 42, 'X');

	o.recover = true;
	o.notices = out;
	memset(&r, 0, sizeof(r));
	s = open_ok(&o, &r);
	fclose(out);
	assert_string_equal(r.text, "SET A 1\n|");
	assert_non_null(strstr(notices, "offset 32"));
	assert_non_null(strstr(notices, "1 record after it"));
	assert_int_equal(file_size(f, "journal"), 32);
	store_close(s);

	/* The damaged journal is kept whole beside it. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test $(cat %s/journal.damaged-* | wc -c) -eq %ld", f->dir,
		 size);
	assert_int_equal(system(cmd), 0);
}

static void test_bad_header_is_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	char msg[256] = "";

	store_close(s);
	poke(f, "journal", 0, 'X');
	assert_int_equal(store_open(&o, collect, &r, &s, msg, sizeof(msg)), -EBADMSG);
	assert_non_null(strstr(msg, "bad header"));
}

static void test_record_that_does_not_apply_is_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	char msg[256] = "";

	append_ok(s, "SET A 1\n");
	append_ok(s, "SET B 2\n");
	store_close(s);
	r = (struct replayed){ .fail_at = 2 };
	assert_true(store_open(&o, collect, &r, &s, msg, sizeof(msg)) < 0);
	assert_non_null(strstr(msg, "offset 32"));
}

static void test_compaction_bounds_the_journal(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s;

	o.compact_bytes = 100;
	s = open_ok(&o, &r);
	append_ok(s, "ADD A 1\n");
	assert_false(store_wants_compaction(s));
	for (int i = 0; i < 10; i++)
		append_ok(s, "ADD A 1\n");
	assert_true(store_wants_compaction(s));
	assert_int_equal(store_compact(s, "SET A 11\n", 9), 0);
	assert_false(store_wants_compaction(s));
	assert_int_equal(store_journal_bytes(s), 16);
	append_ok(s, "ADD A 1\n");
	store_close(s);

	s = open_ok(&o, &r);
	assert_string_equal(r.text, "SET A 11\n|ADD A 1\n|");
	store_close(s);
}

static void test_crash_between_snapshot_and_new_journal(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	char cmd[256];

	append_ok(s, "ADD A 1\n");
	append_ok(s, "ADD A 1\n");
	store_close(s);
	snprintf(cmd, sizeof(cmd), "cp %s/journal %s/journal.old", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	s = open_ok(&o, &r);
	assert_int_equal(store_compact(s, "SET A 2\n", 8), 0);
	store_close(s);
	/* Put the old journal back, as if the crash came before its
	 * replacement: its records are in the snapshot and must not run twice. */
	snprintf(cmd, sizeof(cmd), "mv %s/journal.old %s/journal", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);

	memset(&r, 0, sizeof(r));
	s = open_ok(&o, &r);
	assert_string_equal(r.text, "SET A 2\n|");
	store_close(s);
}

static void test_full_disk_leaves_journal_unchanged(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_ALWAYS);
	struct replayed r = { 0 };
	struct store *s;
	uint64_t ticket;
	long size;

	reset_fakes();
	o.io = &fake_io;
	s = open_ok(&o, &r);
	append_ok(s, "SET A 1\n");
	size = file_size(f, "journal");

	fail_pwrite_errno = ENOSPC;
	assert_int_equal(store_append(s, "SET B 2\n", 8, &ticket), -ENOSPC);
	assert_int_equal(file_size(f, "journal"), size);
	fail_pwrite_errno = EIO;
	assert_int_equal(store_append(s, "SET B 2\n", 8, &ticket), -EIO);
	/* A short write is cut back, too. */
	fail_pwrite_errno = ENOSPC;
	fail_pwrite_short = 5;
	assert_int_equal(store_append(s, "SET B 2\n", 8, &ticket), -ENOSPC);
	assert_int_equal(file_size(f, "journal"), size);

	/* Space is back: writes work again. */
	reset_fakes();
	append_ok(s, "SET C 3\n");
	store_close(s);
	s = open_ok(&o, &r);
	assert_string_equal(r.text, "SET A 1\n|SET C 3\n|");
	store_close(s);
	reset_fakes();
}

static void test_sync_policy(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_ALWAYS);
	struct replayed r = { 0 };
	struct store *s;
	uint64_t t1, t2;

	reset_fakes();
	o.io = &fake_io;
	s = open_ok(&o, &r);
	fdatasyncs = 0;
	append_ok(s, "SET A 1\n");
	assert_int_equal(fdatasyncs, 1);
	/* Two appends waiting together share one fdatasync. */
	assert_int_equal(store_append(s, "SET A 2\n", 8, &t1), 0);
	assert_int_equal(store_append(s, "SET A 3\n", 8, &t2), 0);
	assert_int_equal(store_commit(s, t2), 0);
	assert_int_equal(store_commit(s, t1), 0);
	assert_int_equal(fdatasyncs, 2);
	store_close(s);

	o.sync = STORE_SYNC_NO;
	s = open_ok(&o, &r);
	fdatasyncs = 0;
	append_ok(s, "SET A 4\n");
	assert_int_equal(fdatasyncs, 0);
	store_close(s);

	o.sync = STORE_SYNC_EVERYSEC;
	s = open_ok(&o, &r);
	assert_int_equal(store_start(s), 0);
	__atomic_store_n(&fdatasyncs, 0, __ATOMIC_SEQ_CST);
	/* Not one per write: twenty writes in a row share the next tick (two,
	 * should a tick fall in between). */
	for (int i = 0; i < 20; i++)
		append_ok(s, "SET A 5\n");
	assert_true(__atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) <= 2);
	for (int i = 0; i < 40 && __atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(100000);
	assert_true(__atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) >= 1);
	store_close(s);
	reset_fakes();
}

static void test_failed_fdatasync_stops_the_store(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_ALWAYS);
	struct replayed r = { 0 };
	struct store *s;
	uint64_t ticket;

	reset_fakes();
	o.io = &fake_io;
	s = open_ok(&o, &r);
	assert_int_equal(store_append(s, "SET A 1\n", 8, &ticket), 0);
	fail_fdatasync = 1;
	/* The change stands (a retry would do it twice)... */
	assert_int_equal(store_commit(s, ticket), 0);
	fail_fdatasync = 0;
	/* ...but nothing more is taken until a restart. */
	assert_int_equal(store_append(s, "SET A 2\n", 8, &ticket), -EIO);
	store_close(s);
	reset_fakes();
	s = open_ok(&o, &r);
	assert_int_equal(store_append(s, "SET A 2\n", 8, &ticket), 0);
	store_close(s);
}

static void test_missing_directory(void **state)
{
	struct store_options o = { .dir = "/nonexistent/rwfs-state" };
	struct replayed r = { 0 };
	struct store *s = NULL;
	char msg[256] = "";

	(void)state;
	assert_int_equal(store_open(&o, collect, &r, &s, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "/nonexistent/rwfs-state"));
	assert_non_null(strstr(msg, "does not exist"));
}

static void test_read_only_directory(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = NULL;
	char msg[256] = "";

	reset_fakes();
	o.io = &fake_io;
	fail_openat_errno = EROFS;
	assert_int_equal(store_open(&o, collect, &r, &s, msg, sizeof(msg)), -EROFS);
	assert_non_null(strstr(msg, "read-only"));
	reset_fakes();
}

static void test_second_store_on_same_dir_is_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r), *t = NULL;
	char msg[256] = "";
	char pid[32];

	assert_int_equal(store_open(&o, collect, &r, &t, msg, sizeof(msg)), -EBUSY);
	assert_null(t);
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	assert_non_null(strstr(msg, pid));
	store_close(s);
	t = open_ok(&o, &r);
	store_close(t);
}

static void test_dump_prints_records(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct replayed r = { 0 };
	struct store *s = open_ok(&o, &r);
	char out[1024] = "";
	FILE *fp = fmemopen(out, sizeof(out), "w");

	append_ok(s, "SET A 1\n");
	append_ok(s, "SUB A 3\nADD B 3\n");
	store_close(s);
	assert_int_equal(store_dump(f->dir, fp), 0);
	fclose(fp);
	assert_non_null(strstr(out, "journal @16: SET A 1\n"));
	assert_non_null(strstr(out, "journal @32: SUB A 3\n    ADD B 3\n"));
	assert_non_null(strstr(out, "2 good records"));
}

/* The state funnels every change through the store. */
static void test_state_journals_and_restores(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_ALWAYS);
	struct state *st = state_new(16, NULL);
	struct store *s = NULL;
	char msg[256] = "", *reply = NULL;
	size_t len;

	reset_fakes();
	o.io = &fake_io;
	assert_int_equal(store_open(&o, state_restore, st, &s, msg, sizeof(msg)), 0);
	state_attach_store(st, s);
	assert_int_equal(state_execute(st, "SET A 5\nWRITE 9 3", 17, NULL, NULL, NULL), 0);
	assert_int_equal(state_execute(st, "ADD 27 N", 8, NULL, NULL, NULL), 0);

	/* A full disk: the batch fails, nothing changes, reads go on. */
	fail_pwrite_errno = ENOSPC;
	assert_int_equal(state_execute(st, "SET A 6\nSET B 1", 15, &reply, &len, NULL), -ENOSPC);
	assert_non_null(strstr(reply, "No space left on device"));
	free(reply);
	assert_int_equal(state_read_register(st, 0), 5);
	assert_int_equal(state_read_register(st, 1), 0);
	reset_fakes();
	state_free(st);

	st = state_new(16, NULL);
	assert_int_equal(store_open(&o, state_restore, st, &s, msg, sizeof(msg)), 0);
	state_attach_store(st, s);
	int64_t v;
	assert_int_equal(state_read_register(st, 0), 5);
	assert_int_equal(state_read_register(st, 'N' - 'A'), 27);
	assert_int_equal(state_read_cell(st, 3, &v), 0);
	assert_int_equal(v, 9);
	state_free(st);
}

static void test_state_compacts(void **state)
{
	struct fixture *f = *state;
	struct store_options o = options(f, STORE_SYNC_NO);
	struct state *st = state_new(16, NULL);
	struct store *s = NULL;
	char msg[256] = "";
	int64_t v;

	o.compact_bytes = 200;
	assert_int_equal(store_open(&o, state_restore, st, &s, msg, sizeof(msg)), 0);
	state_attach_store(st, s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(state_execute(st, "ADD A 1\nWRITE A 7", 17, NULL, NULL, NULL), 0);
	assert_true(file_size(f, "journal") < 250);
	assert_true(file_size(f, "snapshot") > 16);
	state_free(st);

	st = state_new(16, NULL);
	assert_int_equal(store_open(&o, state_restore, st, &s, msg, sizeof(msg)), 0);
	state_attach_store(st, s);
	assert_int_equal(state_read_register(st, 0), 100);
	assert_int_equal(state_read_cell(st, 7, &v), 0);
	assert_int_equal(v, 100);
	state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_known_values),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_framing_on_disk),
		T(test_replay_in_order),
		T(test_torn_tail_is_dropped),
		T(test_torn_header_of_record),
		T(test_damaged_middle_is_refused),
		T(test_recover_keeps_a_copy),
		T(test_bad_header_is_refused),
		T(test_record_that_does_not_apply_is_refused),
		T(test_compaction_bounds_the_journal),
		T(test_crash_between_snapshot_and_new_journal),
		T(test_full_disk_leaves_journal_unchanged),
		T(test_sync_policy),
		T(test_failed_fdatasync_stops_the_store),
		cmocka_unit_test(test_missing_directory),
		T(test_read_only_directory),
		T(test_second_store_on_same_dir_is_refused),
		T(test_dump_prints_records),
		T(test_state_journals_and_restores),
		T(test_state_compacts),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
