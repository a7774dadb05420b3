/* test_files.c - unit tests of the tree of shared files (fs/engine/files.h):
 * every apply function and every refusal (each leaves the dump and the
 * stats as they were), names, the bounds (file size, total bytes, node
 * count), rename in all its cases, ids across renames, readdir resumed
 * after a name while entries come and go, pinned unlinked nodes, and the
 * dump: applied into a fresh tree, the same dump again.
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

#include "textbuf.h"
#include <zlib.h>

#include "files.h"

/* ---- helpers: the dump as text ---------------------------------------- */

static int dump_line(void *arg, const struct files_step *s)
{
	struct buf *b = arg;

	switch (s->kind) {
	case FILES_STEP_CREATE:
		buf_printf(b, "create #%llu in #%llu ", (unsigned long long)s->id,
			   (unsigned long long)s->parent);
		buf_escaped(b, s->name, s->name_len);
		buf_printf(b, " %s %o t%lld\n", s->type == FILES_DIR ? "dir" : "file", s->mode,
			   (long long)s->time_ns);
		break;
	case FILES_STEP_WRITE:
		assert_true(s->len > 0 && s->len <= FILES_DUMP_PIECE);
		buf_printf(b, "write #%llu @%llu ", (unsigned long long)s->id,
			   (unsigned long long)s->offset);
		if (s->len <= 64)
			buf_escaped(b, s->data, s->len);
		else
			buf_printf(b, "%zu:%08lx", s->len, crc32(0, s->data, (uInt)s->len));
		buf_printf(b, " t%lld\n", (long long)s->time_ns);
		break;
	case FILES_STEP_SETATTR:
		buf_printf(b, "setattr #%llu %o m%lld c%lld\n", (unsigned long long)s->id, s->mode,
			   (long long)s->mtime_ns, (long long)s->time_ns);
		break;
	default:
		fail_msg("unknown step %d", s->kind);
	}
	return 0;
}

/* The dump and the stats as text (the caller frees). */
static char *dump_text(const struct files *f)
{
	struct buf b = { 0 };
	struct files_stats st;

	files_get_stats(f, &st);
	buf_printf(&b, "files %llu dirs %llu bytes %llu unlinked %llu/%llu\n",
		   (unsigned long long)st.files, (unsigned long long)st.dirs,
		   (unsigned long long)st.bytes, (unsigned long long)st.unlinked,
		   (unsigned long long)st.unlinked_bytes);
	assert_int_equal(files_dump(f, dump_line, &b), 0);
	return b.text;
}

/* expr answers err and leaves the tree as it was. */
#define assert_refused(f, expr, err)                                   \
	do {                                                           \
		char *before_ = dump_text(f);                          \
		assert_int_equal((expr), (err));                       \
		char *after_ = dump_text(f);                           \
		assert_string_equal(before_, after_);                  \
		free(before_);                                         \
		free(after_);                                          \
	} while (0)

#define S(s) s, strlen(s)

static void mk(struct files *f, uint64_t id, uint64_t parent, const char *name,
	       enum files_type type)
{
	assert_int_equal(files_apply_create(f, id, parent, S(name), type,
					    type == FILES_DIR ? 0755 : 0644, (int64_t)id * 1000),
			 0);
}

static uint64_t id_of(const struct files *f, uint64_t parent, const char *name)
{
	uint64_t id = 0;

	assert_int_equal(files_lookup(f, parent, S(name), &id), 0);
	return id;
}

static void assert_content(const struct files *f, uint64_t id, const void *want, size_t len)
{
	char buf[256];
	struct files_attr a;

	assert_true(len < sizeof(buf));
	assert_int_equal(files_attr(f, id, &a), 0);
	assert_int_equal(a.size, len);
	assert_int_equal(files_read(f, id, 0, buf, sizeof(buf)), (ssize_t)len);
	assert_memory_equal(buf, want, len);
}

static struct files *fresh(void)
{
	struct files *f = files_new();

	assert_non_null(f);
	return f;
}

/* ---- the tests -------------------------------------------------------- */

static void test_new(void **state)
{
	struct files *f = fresh();
	struct files_attr a;
	char *text;

	(void)state;
	assert_int_equal(files_attr(f, FILES_ROOT, &a), 0);
	assert_int_equal(a.type, FILES_DIR);
	assert_int_equal(a.mode, 0755);
	assert_int_equal(a.nlink, 2);
	text = dump_text(f);
	assert_string_equal(text, "files 0 dirs 0 bytes 0 unlinked 0/0\nsetattr #0 755 m0 c0\n");
	free(text);
	files_free(f);
	files_free(NULL);
}

static void test_names(void **state)
{
	static const struct {
		const char *name;
		size_t len;
		bool valid;
	} cases[] = {
		{ "a", 1, true },
		{ "with a space", 12, true },
		{ "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", 12, true },
		{ "...", 3, true },
		{ ".hidden", 7, true },
		{ "..x", 3, true },
		{ "", 0, false },
		{ ".", 1, false },
		{ "..", 2, false },
		{ "a/b", 3, false },
		{ "/", 1, false },
		{ "tab\there", 8, false },
		{ "nl\n", 3, false },
		{ "del\x7f", 4, false },
		{ "\x1f", 1, false },
		{ "nul\0in", 6, false },
	};
	struct files *f = fresh();
	char long_name[FILES_NAME_MAX + 2];
	uint64_t id = 10;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++, id++) {
		assert_int_equal(files_name_valid(cases[i].name, cases[i].len), cases[i].valid);
		if (cases[i].valid) {
			assert_int_equal(files_apply_create(f, id, FILES_ROOT, cases[i].name,
							    cases[i].len, FILES_FILE, 0644, 1), 0);
			assert_int_equal(id_of(f, FILES_ROOT, cases[i].name), id);
		} else {
			assert_refused(f, files_apply_create(f, id, FILES_ROOT, cases[i].name,
							     cases[i].len, FILES_FILE, 0644, 1),
				       -EINVAL);
		}
	}
	memset(long_name, 'x', sizeof(long_name));
	assert_int_equal(files_apply_create(f, id++, FILES_ROOT, long_name, FILES_NAME_MAX,
					    FILES_DIR, 0755, 1), 0);
	assert_refused(f, files_apply_create(f, id++, FILES_ROOT, long_name, FILES_NAME_MAX + 1,
					     FILES_DIR, 0755, 1), -EINVAL);
	files_free(f);
}

static void test_create(void **state)
{
	struct files *f = fresh();
	struct files_attr a;
	struct files_stats st;

	(void)state;
	mk(f, 10, FILES_ROOT, "d", FILES_DIR);
	mk(f, 11, 10, "f", FILES_FILE);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.mtime_ns, 11000);
	assert_int_equal(a.ctime_ns, 11000);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(files_attr(f, FILES_ROOT, &a), 0);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(a.mtime_ns, 10000);
	assert_int_equal(files_attr(f, 11, &a), 0);
	assert_int_equal(a.type, FILES_FILE);
	assert_int_equal(a.mode, 0644);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.size, 0);
	files_get_stats(f, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.dirs, 1);

	assert_refused(f, files_apply_create(f, 20, 99, S("x"), FILES_FILE, 0644, 1), -ENOENT);
	assert_refused(f, files_apply_create(f, 20, 11, S("x"), FILES_FILE, 0644, 1), -ENOTDIR);
	assert_refused(f, files_apply_create(f, 20, 10, S("f"), FILES_DIR, 0755, 1), -EEXIST);
	assert_refused(f, files_apply_create(f, 11, 10, S("g"), FILES_FILE, 0644, 1), -EINVAL);
	assert_refused(f, files_apply_create(f, FILES_ROOT, 10, S("g"), FILES_FILE, 0644, 1),
		       -EINVAL);
	assert_refused(f, files_apply_create(f, 20, 10, S("g"), (enum files_type)3, 0644, 1),
		       -EINVAL);
	assert_refused(f, files_apply_create(f, 20, 10, S("g"), FILES_FILE, 0100644, 1), -EINVAL);
	/* An id smaller than others is fine: a snapshot brings such. */
	mk(f, 5, 10, "older", FILES_FILE);
	files_free(f);
}

static void test_node_limit(void **state)
{
	struct files *f = fresh();
	char name[16];

	(void)state;
	for (uint64_t i = 1; i < FILES_MAX_NODES; i++) {
		snprintf(name, sizeof(name), "f%05llu", (unsigned long long)i);
		assert_int_equal(files_apply_create(f, i, FILES_ROOT, S(name), FILES_FILE, 0644, 1),
				 0);
	}
	assert_refused(f, files_apply_create(f, FILES_MAX_NODES, FILES_ROOT, S("last"),
					     FILES_DIR, 0755, 1), -ENOSPC);
	assert_int_equal(files_apply_unlink(f, FILES_ROOT, S("f00001"), 2), 0);
	assert_int_equal(files_apply_create(f, FILES_MAX_NODES, FILES_ROOT, S("last"), FILES_DIR,
					    0755, 1), 0);
	files_free(f);
}

static void test_write(void **state)
{
	struct files *f = fresh();
	struct files_attr a;
	char buf[16];

	(void)state;
	mk(f, 10, FILES_ROOT, "f", FILES_FILE);
	mk(f, 11, FILES_ROOT, "d", FILES_DIR);
	assert_int_equal(files_apply_write(f, 10, 0, "hello", 5, 50), 0);
	assert_content(f, 10, "hello", 5);
	assert_int_equal(files_apply_write(f, 10, 1, "EL", 2, 51), 0);
	assert_content(f, 10, "hELlo", 5);
	assert_int_equal(files_apply_write(f, 10, 8, "end", 3, 52), 0);
	assert_content(f, 10, "hELlo\0\0\0end", 11);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.mtime_ns, 52);
	assert_int_equal(a.ctime_ns, 52);
	assert_int_equal(files_read(f, 10, 9, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "nd", 2);
	assert_int_equal(files_read(f, 10, 11, buf, sizeof(buf)), 0);
	assert_int_equal(files_read(f, 10, 1000, buf, sizeof(buf)), 0);
	assert_int_equal(files_read(f, 10, 2, buf, 3), 3);
	assert_memory_equal(buf, "Llo", 3);

	assert_refused(f, files_apply_write(f, 10, 100, "", 0, 53), 0);
	assert_refused(f, files_apply_write(f, 11, 0, "x", 1, 53), -EISDIR);
	assert_refused(f, files_apply_write(f, 99, 0, "x", 1, 53), -ENOENT);
	assert_int_equal(files_read(f, 11, 0, buf, sizeof(buf)), -EISDIR);
	assert_int_equal(files_read(f, 99, 0, buf, sizeof(buf)), -ENOENT);
	files_free(f);
}

static void test_append(void **state)
{
	struct files *f = fresh();
	uint64_t offset = 99;

	(void)state;
	mk(f, 10, FILES_ROOT, "log", FILES_FILE);
	mk(f, 11, FILES_ROOT, "d", FILES_DIR);
	assert_int_equal(files_apply_append(f, 10, "one\n", 4, 1, &offset), 0);
	assert_int_equal(offset, 0);
	assert_int_equal(files_apply_append(f, 10, "two\n", 4, 2, &offset), 0);
	assert_int_equal(offset, 4);
	assert_int_equal(files_apply_append(f, 10, "3\n", 2, 3, &offset), 0);
	assert_int_equal(offset, 8);
	assert_content(f, 10, "one\ntwo\n3\n", 10);
	assert_refused(f, files_apply_append(f, 11, "x", 1, 4, &offset), -EISDIR);
	assert_refused(f, files_apply_append(f, 99, "x", 1, 4, &offset), -ENOENT);
	files_free(f);
}

static void test_replace_truncate(void **state)
{
	struct files *f = fresh();
	struct files_attr a;

	(void)state;
	mk(f, 10, FILES_ROOT, "f", FILES_FILE);
	mk(f, 11, FILES_ROOT, "d", FILES_DIR);
	assert_int_equal(files_apply_write(f, 10, 0, "old content", 11, 1), 0);
	assert_int_equal(files_apply_replace(f, 10, "new", 3, 2), 0);
	assert_content(f, 10, "new", 3);
	assert_int_equal(files_apply_replace(f, 10, "a longer one", 12, 3), 0);
	assert_content(f, 10, "a longer one", 12);
	assert_int_equal(files_apply_replace(f, 10, NULL, 0, 4), 0);
	assert_content(f, 10, "", 0);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.mtime_ns, 4);

	assert_int_equal(files_apply_write(f, 10, 0, "abcdef", 6, 5), 0);
	assert_int_equal(files_apply_truncate(f, 10, 3, 6), 0);
	assert_content(f, 10, "abc", 3);
	assert_int_equal(files_apply_truncate(f, 10, 6, 7), 0);
	assert_content(f, 10, "abc\0\0\0", 6);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.ctime_ns, 7);
	assert_int_equal(files_apply_truncate(f, 10, 0, 8), 0);
	assert_content(f, 10, "", 0);

	assert_refused(f, files_apply_replace(f, 11, "x", 1, 9), -EISDIR);
	assert_refused(f, files_apply_replace(f, 99, "x", 1, 9), -ENOENT);
	assert_refused(f, files_apply_truncate(f, 11, 1, 9), -EISDIR);
	assert_refused(f, files_apply_truncate(f, 99, 1, 9), -ENOENT);
	files_free(f);
}

static void test_file_size_bound(void **state)
{
	struct files *f = fresh();
	char *big = calloc(1, FILES_MAX_FILE_SIZE + 1);
	uint64_t offset;
	char last;

	(void)state;
	assert_non_null(big);
	mk(f, 10, FILES_ROOT, "f", FILES_FILE);
	assert_int_equal(files_apply_write(f, 10, FILES_MAX_FILE_SIZE - 1, "z", 1, 1), 0);
	assert_int_equal(files_read(f, 10, 0, big, FILES_MAX_FILE_SIZE + 1), FILES_MAX_FILE_SIZE);
	assert_int_equal(big[0], 0);
	assert_int_equal(big[FILES_MAX_FILE_SIZE - 1], 'z');
	assert_refused(f, files_apply_write(f, 10, FILES_MAX_FILE_SIZE, "y", 1, 2), -EFBIG);
	assert_refused(f, files_apply_write(f, 10, FILES_MAX_FILE_SIZE - 1, "yy", 2, 2), -EFBIG);
	assert_refused(f, files_apply_write(f, 10, UINT64_MAX, "y", 1, 2), -EFBIG);
	assert_refused(f, files_apply_append(f, 10, "y", 1, 2, &offset), -EFBIG);
	assert_refused(f, files_apply_truncate(f, 10, FILES_MAX_FILE_SIZE + 1ull, 2), -EFBIG);
	assert_refused(f, files_apply_replace(f, 10, big, FILES_MAX_FILE_SIZE + 1, 2), -EFBIG);
	assert_int_equal(files_apply_replace(f, 10, big, FILES_MAX_FILE_SIZE, 3), 0);
	assert_int_equal(files_read(f, 10, FILES_MAX_FILE_SIZE - 1, &last, 1), 1);
	assert_int_equal(last, 'z');
	/* Growing by doubling stops at the bound. */
	mk(f, 11, FILES_ROOT, "g", FILES_FILE);
	assert_int_equal(files_apply_write(f, 11, 0, big, FILES_MAX_FILE_SIZE / 2 + 1, 4), 0);
	assert_int_equal(files_apply_append(f, 11, "w", 1, 5, &offset), 0);
	assert_int_equal(offset, FILES_MAX_FILE_SIZE / 2 + 1);
	assert_int_equal(files_apply_write(f, 11, FILES_MAX_FILE_SIZE - 1, "q", 1, 6), 0);
	assert_int_equal(files_read(f, 11, FILES_MAX_FILE_SIZE / 2 + 1, &last, 1), 1);
	assert_int_equal(last, 'w');
	free(big);
	files_free(f);
}

static void test_total_bytes(void **state)
{
	struct files *f = fresh();
	const uint64_t files_full = FILES_MAX_BYTES / FILES_MAX_FILE_SIZE;
	char name[16];
	uint64_t offset;

	(void)state;
	for (uint64_t i = 0; i < files_full; i++) {
		snprintf(name, sizeof(name), "f%llu", (unsigned long long)i);
		mk(f, 10 + i, FILES_ROOT, name, FILES_FILE);
		assert_int_equal(files_apply_truncate(f, 10 + i, FILES_MAX_FILE_SIZE, 1), 0);
	}
	mk(f, 100, FILES_ROOT, "one more", FILES_FILE);
	assert_refused(f, files_apply_write(f, 100, 0, "x", 1, 2), -ENOSPC);
	assert_refused(f, files_apply_append(f, 100, "x", 1, 2, &offset), -ENOSPC);
	assert_refused(f, files_apply_replace(f, 100, "x", 1, 2), -ENOSPC);
	assert_refused(f, files_apply_truncate(f, 100, 1, 2), -ENOSPC);
	/* Rewriting within a file costs nothing more. */
	assert_int_equal(files_apply_write(f, 10, 0, "x", 1, 3), 0);
	assert_int_equal(files_apply_truncate(f, 10, FILES_MAX_FILE_SIZE - 1, 4), 0);
	assert_int_equal(files_apply_write(f, 100, 0, "x", 1, 5), 0);
	assert_refused(f, files_apply_write(f, 100, 1, "y", 1, 6), -ENOSPC);
	files_free(f);
}

static void test_rename(void **state)
{
	struct files *f = fresh();
	struct files_attr a;

	(void)state;
	/* / a(file) b(file) d/ d/e/ d/e/g(file) full/ full/x empty/ */
	mk(f, 10, FILES_ROOT, "a", FILES_FILE);
	mk(f, 11, FILES_ROOT, "b", FILES_FILE);
	mk(f, 12, FILES_ROOT, "d", FILES_DIR);
	mk(f, 13, 12, "e", FILES_DIR);
	mk(f, 14, 13, "g", FILES_FILE);
	mk(f, 15, FILES_ROOT, "full", FILES_DIR);
	mk(f, 16, 15, "x", FILES_FILE);
	mk(f, 17, FILES_ROOT, "empty", FILES_DIR);
	assert_int_equal(files_apply_write(f, 10, 0, "A", 1, 18), 0);

	/* Errors first, each changing nothing. */
	assert_refused(f, files_apply_rename(f, 99, S("a"), FILES_ROOT, S("z"), 0, 20), -ENOENT);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), 99, S("z"), 0, 20), -ENOENT);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("nope"), FILES_ROOT, S("z"), 0, 20),
		       -ENOENT);
	assert_refused(f, files_apply_rename(f, 10, S("a"), FILES_ROOT, S("z"), 0, 20), -ENOTDIR);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), 11, S("z"), 0, 20), -ENOTDIR);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("a/z"), 0, 20),
		       -EINVAL);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S(".."), 0, 20),
		       -EINVAL);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("z"), 2, 20),
		       -EINVAL);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("b"),
					     FILES_RENAME_NOREPLACE, 20), -EEXIST);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("a"),
					     FILES_RENAME_NOREPLACE, 20), -EEXIST);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("empty"), 0, 20),
		       -EISDIR);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("empty"), FILES_ROOT, S("a"), 0, 20),
		       -ENOTDIR);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("empty"), FILES_ROOT, S("full"), 0,
					     20), -ENOTEMPTY);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("d"), 12, S("d2"), 0, 20), -EINVAL);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("d"), 13, S("d2"), 0, 20), -EINVAL);
	/* A directory over its own ancestor: the ancestor is not empty. */
	assert_refused(f, files_apply_rename(f, 12, S("e"), FILES_ROOT, S("d"), 0, 20),
		       -ENOTEMPTY);
	/* Onto itself: nothing at all, times included. */
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("a"), 0, 20), 0);
	assert_refused(f, files_apply_rename(f, FILES_ROOT, S("d"), FILES_ROOT, S("d"), 0, 20), 0);

	/* Over a file: the target goes, the source keeps its id. */
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("a"), FILES_ROOT, S("b"), 0, 21), 0);
	assert_int_equal(id_of(f, FILES_ROOT, "b"), 10);
	assert_content(f, 10, "A", 1);
	assert_int_equal(files_attr(f, 11, &a), -ENOENT);
	assert_int_equal(files_lookup(f, FILES_ROOT, S("a"), &(uint64_t){ 0 }), -ENOENT);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.ctime_ns, 21);
	assert_int_equal(a.mtime_ns, 18);

	/* Into another directory, NOREPLACE with no target. */
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("b"), 13, S("moved"),
					    FILES_RENAME_NOREPLACE, 22), 0);
	assert_int_equal(id_of(f, 13, "moved"), 10);
	assert_int_equal(files_attr(f, 13, &a), 0);
	assert_int_equal(a.mtime_ns, 22);
	assert_int_equal(files_attr(f, FILES_ROOT, &a), 0);
	assert_int_equal(a.mtime_ns, 22);

	/* A directory over an empty one, then between parents: nlink follows. */
	assert_int_equal(files_attr(f, 12, &a), 0);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(files_apply_rename(f, 12, S("e"), FILES_ROOT, S("empty"), 0, 23), 0);
	assert_int_equal(id_of(f, FILES_ROOT, "empty"), 13);
	assert_int_equal(id_of(f, 13, "g"), 14);
	assert_int_equal(files_attr(f, 17, &a), -ENOENT);
	assert_int_equal(files_attr(f, 12, &a), 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("empty"), 15, S("e"), 0, 24), 0);
	assert_int_equal(files_attr(f, 15, &a), 0);
	assert_int_equal(a.nlink, 3);
	/* Within one directory, to a name before and after the others. */
	assert_int_equal(files_apply_rename(f, 15, S("x"), 15, S("0first"), 0, 25), 0);
	assert_int_equal(files_apply_rename(f, 15, S("0first"), 15, S("zlast"), 0, 26), 0);
	assert_int_equal(id_of(f, 15, "zlast"), 16);
	assert_int_equal(files_apply_rename(f, 15, S("zlast"), 15, S("e"), 0, 27), -EISDIR);
	files_free(f);
}

static void test_unlink_rmdir(void **state)
{
	struct files *f = fresh();
	struct files_stats st;
	struct files_attr a;

	(void)state;
	mk(f, 10, FILES_ROOT, "d", FILES_DIR);
	mk(f, 11, 10, "f", FILES_FILE);
	mk(f, 12, FILES_ROOT, "empty", FILES_DIR);
	assert_int_equal(files_apply_write(f, 11, 0, "abc", 3, 13), 0);
	assert_refused(f, files_apply_unlink(f, FILES_ROOT, S("d"), 20), -EISDIR);
	assert_refused(f, files_apply_unlink(f, FILES_ROOT, S("nope"), 20), -ENOENT);
	assert_refused(f, files_apply_unlink(f, 99, S("f"), 20), -ENOENT);
	assert_refused(f, files_apply_unlink(f, 11, S("f"), 20), -ENOTDIR);
	assert_refused(f, files_apply_unlink(f, 10, S("."), 20), -EINVAL);
	assert_refused(f, files_apply_rmdir(f, FILES_ROOT, S("d"), 20), -ENOTEMPTY);
	assert_refused(f, files_apply_rmdir(f, 10, S("f"), 20), -ENOTDIR);
	assert_refused(f, files_apply_rmdir(f, FILES_ROOT, S("nope"), 20), -ENOENT);
	assert_refused(f, files_apply_rmdir(f, FILES_ROOT, S(".."), 20), -EINVAL);

	assert_int_equal(files_apply_unlink(f, 10, S("f"), 21), 0);
	assert_int_equal(files_attr(f, 11, &a), -ENOENT);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.mtime_ns, 21);
	assert_int_equal(files_apply_rmdir(f, FILES_ROOT, S("d"), 22), 0);
	assert_int_equal(files_apply_rmdir(f, FILES_ROOT, S("empty"), 23), 0);
	files_get_stats(f, &st);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.dirs, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(files_attr(f, FILES_ROOT, &a), 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.ctime_ns, 23);
	files_free(f);
}

static void test_setattr(void **state)
{
	struct files *f = fresh();
	struct files_attr a;

	(void)state;
	mk(f, 10, FILES_ROOT, "f", FILES_FILE);
	assert_int_equal(files_apply_setattr(f, 10, FILES_SET_MODE, 04711, 0, 20), 0);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.mode, 04711);
	assert_int_equal(a.mtime_ns, 10000);
	assert_int_equal(a.ctime_ns, 20);
	assert_int_equal(files_apply_setattr(f, 10, FILES_SET_MTIME, 0, -5, 21), 0);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.mode, 04711);
	assert_int_equal(a.mtime_ns, -5);
	assert_int_equal(a.ctime_ns, 21);
	assert_int_equal(files_apply_setattr(f, FILES_ROOT, FILES_SET_MODE, 0700, 0, 22), 0);
	assert_int_equal(files_attr(f, FILES_ROOT, &a), 0);
	assert_int_equal(a.mode, 0700);
	assert_refused(f, files_apply_setattr(f, 99, FILES_SET_MODE, 0600, 0, 23), -ENOENT);
	assert_refused(f, files_apply_setattr(f, 10, 4, 0600, 0, 23), -EINVAL);
	assert_refused(f, files_apply_setattr(f, 10, FILES_SET_MODE, 010000, 0, 23), -EINVAL);
	files_free(f);
}

static void test_lookup(void **state)
{
	struct files *f = fresh();
	uint64_t id;

	(void)state;
	mk(f, 10, FILES_ROOT, "f", FILES_FILE);
	assert_int_equal(files_lookup(f, 10, S("x"), &id), -ENOTDIR);
	assert_int_equal(files_lookup(f, 99, S("x"), &id), -ENOENT);
	assert_int_equal(files_lookup(f, FILES_ROOT, S("x\x01"), &id), -ENOENT);
	assert_int_equal(files_lookup(f, FILES_ROOT, S("."), &id), -ENOENT);
	assert_int_equal(files_lookup(f, FILES_ROOT, S("F"), &id), -ENOENT);
	assert_int_equal(id_of(f, FILES_ROOT, "f"), 10);
	files_free(f);
}

/* ---- readdir ---------------------------------------------------------- */

struct listing {
	char names[64][8];
	size_t count;
	size_t stop_after;     /* entries to take in this call */
	size_t taken;
};

static int list_entry(void *arg, const char *name, size_t len, uint64_t id,
		      enum files_type type)
{
	struct listing *l = arg;

	(void)id;
	(void)type;
	assert_true(len < sizeof(l->names[0]) && l->count < 64);
	assert_int_equal(strlen(name), len);
	memcpy(l->names[l->count++], name, len + 1);
	return ++l->taken == l->stop_after ? 1 : 0;
}

static bool listed(const struct listing *l, const char *name)
{
	size_t times = 0;

	for (size_t i = 0; i < l->count; i++)
		times += strcmp(l->names[i], name) == 0;
	assert_true(times <= 1);
	return times == 1;
}

static void test_readdir(void **state)
{
	struct files *f = fresh();
	struct listing l = { .stop_after = 2 };
	const char *after = NULL;
	int ret;

	(void)state;
	mk(f, 10, FILES_ROOT, "b", FILES_FILE);
	mk(f, 11, FILES_ROOT, "d", FILES_DIR);
	mk(f, 12, FILES_ROOT, "f", FILES_FILE);
	mk(f, 13, FILES_ROOT, "h", FILES_FILE);
	mk(f, 14, FILES_ROOT, "j", FILES_FILE);

	/* Two at a time, with changes between the calls. */
	ret = files_readdir(f, FILES_ROOT, NULL, 0, list_entry, &l);
	assert_int_equal(ret, 1);
	assert_string_equal(l.names[0], "b");
	assert_string_equal(l.names[1], "d");
	after = l.names[l.count - 1];
	mk(f, 20, FILES_ROOT, "a", FILES_FILE);      /* before the cursor: not seen */
	mk(f, 21, FILES_ROOT, "e", FILES_FILE);      /* after: seen */
	assert_int_equal(files_apply_unlink(f, FILES_ROOT, S("b"), 22), 0);
	assert_int_equal(files_apply_rmdir(f, FILES_ROOT, S("d"), 22), 0); /* the cursor itself */
	l.taken = 0;
	ret = files_readdir(f, FILES_ROOT, after, strlen(after), list_entry, &l);
	assert_int_equal(ret, 1);
	after = l.names[l.count - 1];
	assert_string_equal(after, "f");
	assert_int_equal(files_apply_unlink(f, FILES_ROOT, S("h"), 23), 0);  /* not seen */
	mk(f, 24, FILES_ROOT, "z", FILES_FILE);
	l.taken = 0;
	l.stop_after = 100;
	ret = files_readdir(f, FILES_ROOT, after, strlen(after), list_entry, &l);
	assert_int_equal(ret, 0);
	assert_int_equal(l.count, 6);
	for (const char *const *n = (const char *const[]){ "b", "d", "e", "f", "j", "z", NULL };
	     *n; n++)
		assert_true(listed(&l, *n));
	assert_false(listed(&l, "a"));
	assert_false(listed(&l, "h"));

	l = (struct listing){ .stop_after = 100 };
	assert_int_equal(files_readdir(f, 21, NULL, 0, list_entry, &l), -ENOTDIR);
	assert_int_equal(files_readdir(f, 99, NULL, 0, list_entry, &l), -ENOENT);
	assert_int_equal(files_readdir(f, FILES_ROOT, S("zz"), list_entry, &l), 0);
	assert_int_equal(l.count, 0);
	files_free(f);
}

/* ---- pins ------------------------------------------------------------- */

static void test_pins(void **state)
{
	struct files *f = fresh();
	struct files *plain = fresh();
	struct files_stats st;
	struct files_attr a;
	char *with, *without;
	uint64_t offset;
	char buf[8];

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct files *t = i ? plain : f;

		mk(t, 10, FILES_ROOT, "f", FILES_FILE);
		mk(t, 11, FILES_ROOT, "g", FILES_FILE);
		mk(t, 12, FILES_ROOT, "d", FILES_DIR);
		assert_int_equal(files_apply_write(t, 10, 0, "keep", 4, 13), 0);
		assert_int_equal(files_apply_write(t, 11, 0, "new", 3, 13), 0);
	}
	assert_int_equal(files_pin(f, 10), 0);
	assert_int_equal(files_pin(f, 10), 0);
	assert_int_equal(files_pin(f, 12), 0);
	assert_int_equal(files_pin(f, 99), -ENOENT);
	with = dump_text(f);
	without = dump_text(plain);
	assert_string_equal(with, without);
	free(with);
	free(without);

	/* Unlinked while pinned: readable, refused for changes, not dumped. */
	for (int i = 0; i < 2; i++) {
		struct files *t = i ? plain : f;

		assert_int_equal(files_apply_unlink(t, FILES_ROOT, S("f"), 20), 0);
		assert_int_equal(files_apply_rmdir(t, FILES_ROOT, S("d"), 20), 0);
		assert_int_equal(files_apply_write(t, 10, 0, "x", 1, 21), -ENOENT);
		assert_int_equal(files_apply_append(t, 10, "x", 1, 21, &offset), -ENOENT);
		assert_int_equal(files_apply_replace(t, 10, "x", 1, 21), -ENOENT);
		assert_int_equal(files_apply_truncate(t, 10, 0, 21), -ENOENT);
		assert_int_equal(files_apply_setattr(t, 10, FILES_SET_MODE, 0600, 0, 21), -ENOENT);
		assert_int_equal(files_apply_create(t, 30, 12, S("in"), FILES_FILE, 0644, 21),
				 -ENOENT);
		assert_int_equal(files_apply_rename(t, FILES_ROOT, S("g"), 12, S("in"), 0, 21),
				 -ENOENT);
	}
	assert_int_equal(files_read(f, 10, 0, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "keep", 4);
	assert_int_equal(files_attr(f, 10, &a), 0);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(a.size, 4);
	assert_int_equal(files_attr(f, 12, &a), 0);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(files_readdir(f, 12, NULL, 0, list_entry, &(struct listing){ 0 }), 0);
	assert_int_equal(files_attr(plain, 10, &a), -ENOENT);
	files_get_stats(f, &st);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.bytes, 3);
	assert_int_equal(st.unlinked, 2);
	assert_int_equal(st.unlinked_bytes, 4);
	with = dump_text(f);
	without = dump_text(plain);
	assert_string_not_equal(with, without);  /* the stats line tells the unlinked */
	assert_string_equal(strchr(with, '\n'), strchr(without, '\n'));
	free(with);
	free(without);

	/* Replaced by a rename while pinned: the old content stays readable. */
	mk(f, 40, FILES_ROOT, "h", FILES_FILE);
	assert_int_equal(files_apply_write(f, 40, 0, "old", 3, 41), 0);
	assert_int_equal(files_pin(f, 40), 0);
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("g"), FILES_ROOT, S("h"), 0, 42), 0);
	assert_int_equal(files_read(f, 40, 0, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "old", 3);
	assert_int_equal(id_of(f, FILES_ROOT, "h"), 11);

	/* The last unpin frees; a pin on a node in the tree keeps nothing. */
	assert_int_equal(files_unpin(f, 10), 0);
	assert_int_equal(files_read(f, 10, 0, buf, sizeof(buf)), 4);
	assert_int_equal(files_unpin(f, 10), 0);
	assert_int_equal(files_attr(f, 10, &a), -ENOENT);
	assert_int_equal(files_unpin(f, 10), -ENOENT);
	assert_int_equal(files_unpin(f, 12), 0);
	assert_int_equal(files_unpin(f, 40), 0);
	assert_int_equal(files_pin(f, 11), 0);
	assert_int_equal(files_unpin(f, 11), 0);
	assert_int_equal(files_unpin(f, 11), -EINVAL);
	assert_int_equal(id_of(f, FILES_ROOT, "h"), 11);
	files_get_stats(f, &st);
	assert_int_equal(st.unlinked, 0);
	assert_int_equal(st.unlinked_bytes, 0);

	/* A create with a pinned unlinked node's id (only a damaged journal
	 * has one) takes the id over, as an engine without the pin does. */
	assert_int_equal(files_pin(f, 11), 0);
	assert_int_equal(files_apply_unlink(f, FILES_ROOT, S("h"), 50), 0);
	mk(f, 11, FILES_ROOT, "again", FILES_FILE);
	assert_int_equal(files_attr(f, 11, &a), 0);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.size, 0);
	files_get_stats(f, &st);
	assert_int_equal(st.unlinked, 0);
	assert_int_equal(files_unpin(f, 11), 0);
	assert_int_equal(id_of(f, FILES_ROOT, "again"), 11);
	files_free(f);
	files_free(plain);

	/* Freeing the tree frees the pinned unlinked nodes too. */
	f = fresh();
	mk(f, 10, FILES_ROOT, "f", FILES_FILE);
	assert_int_equal(files_pin(f, 10), 0);
	assert_int_equal(files_apply_unlink(f, FILES_ROOT, S("f"), 11), 0);
	files_free(f);
}

/* ---- dump ------------------------------------------------------------- */

static int apply_into(void *arg, const struct files_step *s)
{
	return files_apply_step(arg, s);
}

static int stop_at_third(void *arg, const struct files_step *s)
{
	int *calls = arg;

	(void)s;
	return ++*calls == 3 ? 42 : 0;
}

/* A tree with old files in newer directories, a file of several pieces,
 * modes and times that the later steps would move. */
static void build(struct files *f, const char *big, size_t big_len)
{
	mk(f, 10, FILES_ROOT, "old file", FILES_FILE);
	assert_int_equal(files_apply_write(f, 10, 0, "caf\xc3\xa9\n", 6, 11), 0);
	mk(f, 12, FILES_ROOT, "big", FILES_FILE);
	assert_int_equal(files_apply_write(f, 12, 0, big, big_len, 13), 0);
	mk(f, 14, FILES_ROOT, "empty", FILES_FILE);
	mk(f, 20, FILES_ROOT, "new dir", FILES_DIR);
	mk(f, 21, 20, "sub", FILES_DIR);
	mk(f, 22, 21, "leaf", FILES_FILE);
	assert_int_equal(files_apply_truncate(f, 22, 5, 23), 0);
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("old file"), 21, S("moved"), 0, 24),
			 0);
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("big"), 20, S("big"), 0, 25), 0);
	mk(f, 30, FILES_ROOT, "newest", FILES_DIR);
	assert_int_equal(files_apply_rename(f, FILES_ROOT, S("new dir"), 30, S("nd"), 0, 31), 0);
	assert_int_equal(files_apply_setattr(f, 14, FILES_SET_MODE | FILES_SET_MTIME, 0600, 7, 32),
			 0);
	assert_int_equal(files_apply_setattr(f, FILES_ROOT, FILES_SET_MODE, 0711, 0, 33), 0);
}

static void test_dump(void **state)
{
	const size_t big_len = 2 * FILES_DUMP_PIECE + 12345;
	struct files *a = fresh(), *b = fresh(), *copy = fresh();
	char *big = malloc(big_len);
	char *text_a, *text_b, *text_copy;
	int calls = 0;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 7 + i / 1000);
	build(a, big, big_len);
	build(b, big, big_len);
	text_a = dump_text(a);
	text_b = dump_text(b);
	assert_string_equal(text_a, text_b);
	/* Three pieces of the big file; the empty one has none. */
	assert_non_null(strstr(text_a, "write #12 @0 1048576:"));
	assert_non_null(strstr(text_a, "write #12 @1048576 1048576:"));
	assert_non_null(strstr(text_a, "write #12 @2097152 12345:"));
	assert_null(strstr(text_a, "write #14"));
	/* A directory newer than what it holds is created first. */
	assert_true(strstr(text_a, "create #21") < strstr(text_a, "create #10 in #21"));

	assert_int_equal(files_dump(a, apply_into, copy), 0);
	text_copy = dump_text(copy);
	assert_string_equal(text_a, text_copy);
	assert_int_equal(id_of(copy, id_of(copy, id_of(copy, id_of(copy, FILES_ROOT, "newest"),
						       "nd"), "sub"), "moved"), 10);

	assert_int_equal(files_dump(a, stop_at_third, &calls), 42);
	assert_int_equal(calls, 3);
	free(text_a);
	free(text_b);
	free(text_copy);
	free(big);
	files_free(a);
	files_free(b);
	files_free(copy);
}

static void test_step_kind(void **state)
{
	struct files *f = fresh();
	struct files_step s = { .kind = (enum files_step_kind)9 };

	(void)state;
	assert_refused(f, files_apply_step(f, &s), -EINVAL);
	files_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_node_limit),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_replace_truncate),
		cmocka_unit_test(test_file_size_bound),
		cmocka_unit_test(test_total_bytes),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_unlink_rmdir),
		cmocka_unit_test(test_setattr),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_readdir),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_step_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
