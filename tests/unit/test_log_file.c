/* test_log_file.c - the file log: framing, positions, follow, torn and
 * damaged files, the zero tail, recovery, compaction, group commit, the
 * sync policy, the lock file, the dump, a kill -9, the write() fallback and
 * injected failures of the system calls. */
#define _GNU_SOURCE /* nftw, in scratch.h; fallocate */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "crc.h"
#include "file.h"
#include "scratch.h"

/* --- fixtures ------------------------------------------------------------ */

struct fixture {
	char dir[64];
	char path[128];
};

static void reset_fakes(void);

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(scratch_dir(f->dir, sizeof(f->dir), "rwfs-log"), 0);
	reset_fakes();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(scratch_remove(f->dir), 0);
	free(f);
	reset_fakes();
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

/* The whole file, malloc'd; *len its size. */
static unsigned char *slurp(struct fixture *f, const char *name, size_t *len)
{
	long size = file_size(f, name);
	FILE *fp = fopen(path_in(f, name), "rb");
	unsigned char *buf;

	assert_non_null(fp);
	assert_true(size >= 0);
	buf = malloc((size_t)size + 1);
	*len = fread(buf, 1, (size_t)size + 1, fp);
	assert_int_equal(*len, size);
	fclose(fp);
	return buf;
}

/* Adds len bytes (zeros when bytes is NULL) at the end of a file. */
static void append_to(struct fixture *f, const char *name, const void *bytes, size_t len)
{
	long size = file_size(f, name);
	int fd = open(path_in(f, name), O_WRONLY);

	assert_true(fd >= 0 && size >= 0);
	if (bytes)
		assert_int_equal(pwrite(fd, bytes, len, size), (ssize_t)len);
	else
		assert_int_equal(ftruncate(fd, size + (off_t)len), 0);
	close(fd);
}

static void assert_file_is(struct fixture *f, const char *name, const unsigned char *want,
			   size_t len)
{
	size_t got_len;
	unsigned char *got = slurp(f, name, &got_len);

	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	free(got);
}

/* The file is want and then nothing but zeros. */
static void assert_file_starts_with(struct fixture *f, const char *name,
				    const unsigned char *want, size_t len)
{
	size_t got_len;
	unsigned char *got = slurp(f, name, &got_len);

	assert_true(got_len >= len);
	assert_memory_equal(got, want, len);
	for (size_t i = len; i < got_len; i++)
		assert_int_equal(got[i], 0);
	free(got);
}

static void poke(struct fixture *f, const char *name, long off, unsigned char byte)
{
	int fd = open(path_in(f, name), O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &byte, 1, off), 1);
	close(fd);
}

static unsigned char peek(struct fixture *f, const char *name, long off)
{
	unsigned char byte = 0;
	int fd = open(path_in(f, name), O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, off), 1);
	close(fd);
	return byte;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites the base of a file's header, with a CRC that matches: a header
 * that is well-formed but says something else. */
static void set_base(struct fixture *f, const char *name, uint64_t base)
{
	unsigned char h[36];
	int fd = open(path_in(f, name), O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), 36);
	put_le(h + 16, base, 8);
	put_le(h + 32, crc32(0, h, 32), 4);
	assert_int_equal(pwrite(fd, h, sizeof(h), 0), 36);
	close(fd);
}

static void run(const char *fmt, const char *a, const char *b)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	assert_int_equal(system(cmd), 0);
}

/* What follow and append delivered: the "state" is the records joined by
 * '|', and a snapshot is that text. */
struct seen {
	char text[16384];
	uint64_t last;       /* last position delivered or loaded */
	int delivered;       /* deliver calls */
	int loads;
	uint64_t load_position;
	int fail_at;         /* position whose deliver fails; 0: none */
};

static int deliver(void *arg, uint64_t position, const void *rec, size_t len)
{
	struct seen *s = arg;

	assert_int_equal(position, s->last + 1);
	s->last = position;
	s->delivered++;
	if (position == (uint64_t)s->fail_at)
		return -EINVAL;
	strncat(s->text, rec, len);
	strcat(s->text, "|");
	return 0;
}

static int load(void *arg, uint64_t position, const void *blob, size_t len)
{
	struct seen *s = arg;

	assert_true(len < sizeof(s->text));
	memcpy(s->text, blob, len);
	s->text[len] = '\0';
	s->last = position;
	s->loads++;
	s->load_position = position;
	return 0;
}

static int save(void *arg, void **blob, size_t *len)
{
	struct seen *s = arg;

	*len = strlen(s->text);
	*blob = malloc(*len + 1);
	memcpy(*blob, s->text, *len + 1);
	return 0;
}

static struct log_file_options options(struct fixture *f, enum log_file_sync sync)
{
	return (struct log_file_options){ .dir = f->dir, .sync = sync };
}

static struct log *open_ok(struct log_file_options *o, struct seen *s)
{
	struct log *log = NULL;
	char msg[256] = "";

	memset(s, 0, sizeof(*s));
	assert_int_equal(log_file_open(o, &log, msg, sizeof(msg)), 0);
	assert_non_null(log);
	assert_int_equal(log_follow(log, load, deliver, s), 0);
	return log;
}

/* Opening fails with ret, leaves no log, and msg names every word. */
static void open_fails(struct log_file_options *o, int ret, const char *word1,
		       const char *word2)
{
	struct log *log = NULL;
	char msg[256] = "";

	assert_int_equal(log_file_open(o, &log, msg, sizeof(msg)), ret);
	assert_null(log);
	if (word1 && !strstr(msg, word1))
		fail_msg("'%s' not in '%s'", word1, msg);
	if (word2 && !strstr(msg, word2))
		fail_msg("'%s' not in '%s'", word2, msg);
}

static uint64_t append_ok(struct log *log, const char *text)
{
	uint64_t position = 0;

	assert_int_equal(log_append(log, text, strlen(text), &position), 0);
	assert_int_equal(log_sync(log, position), 0);
	return position;
}

/* --- injectable system calls ----------------------------------------------- */

static int fail_pwrite_errno;     /* 0: pwrite works */
static int fail_pwrite_short;     /* write only this many bytes, then fail */
static int fail_journal_tmp;      /* errno for writes to journal.tmp; 0: none */
static int journal_tmp_fd = -1;
static int fail_ftruncate;
static int fail_fdatasync;
static int fail_openat_errno;
static int fail_fallocate_errno;  /* errno for every fallocate; 0: none */
static off_t disk_room;           /* no file grows past this with fallocate; 0: no limit */
static int fail_mmap_errno;
static int slow_fdatasync_us;
static int fdatasyncs;
static int pwrites;
static int fallocates;

static ssize_t fake_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	pwrites++;
	if (fail_journal_tmp && fd == journal_tmp_fd) {
		errno = fail_journal_tmp;
		return -1;
	}
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

static int fake_fallocate(int fd, int mode, off_t off, off_t len)
{
	fallocates++;
	if (fail_fallocate_errno) {
		errno = fail_fallocate_errno;
		return -1;
	}
	/* Like ext4, a failed fallocate keeps what it allocated first. */
	if (disk_room && off + len > disk_room) {
		if (off < disk_room)
			fallocate(fd, mode, off, disk_room - off);
		errno = ENOSPC;
		return -1;
	}
	return fallocate(fd, mode, off, len);
}

static void *fake_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fail_mmap_errno) {
		errno = fail_mmap_errno;
		return MAP_FAILED;
	}
	return mmap(addr, len, prot, flags, fd, off);
}

static int fake_fdatasync(int fd)
{
	/* The everysec syncer and the group-commit threads call this too. */
	__atomic_fetch_add(&fdatasyncs, 1, __ATOMIC_SEQ_CST);
	if (slow_fdatasync_us)
		usleep((useconds_t)slow_fdatasync_us);
	if (fail_fdatasync) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int fake_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	if (fail_openat_errno) {
		errno = fail_openat_errno;
		return -1;
	}
	fd = openat(dirfd, path, flags, mode);
	if (strcmp(path, "journal.tmp") == 0)
		journal_tmp_fd = fd;
	else if (fd == journal_tmp_fd)
		journal_tmp_fd = -1;
	return fd;
}

static int fake_ftruncate(int fd, off_t len)
{
	if (fail_ftruncate) {
		fail_ftruncate--;
		errno = EIO;
		return -1;
	}
	return ftruncate(fd, len);
}

static const struct log_file_io fake_io = {
	.openat = fake_openat,
	.pwrite = fake_pwrite,
	.fallocate = fake_fallocate,
	.mmap = fake_mmap,
	.fdatasync = fake_fdatasync,
	.fsync = fsync,
	.ftruncate = fake_ftruncate,
	.renameat = renameat,
};

static void reset_fakes(void)
{
	fail_pwrite_errno = 0;
	fail_pwrite_short = 0;
	fail_journal_tmp = 0;
	journal_tmp_fd = -1;
	fail_ftruncate = 0;
	fail_fdatasync = 0;
	fail_openat_errno = 0;
	fail_fallocate_errno = 0;
	disk_room = 0;
	fail_mmap_errno = 0;
	pwrites = 0;
	fallocates = 0;
	slow_fdatasync_us = 0;
	__atomic_store_n(&fdatasyncs, 0, __ATOMIC_SEQ_CST);
}

/* --- framing and positions -------------------------------------------------- */

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void test_framing_on_disk(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	unsigned char *buf;
	size_t len;

	append_ok(log, "SET A 5\n");
	log_close(log);
	buf = slurp(f, "journal", &len);
	/* 36-byte header, then length, CRC, payload. */
	assert_int_equal(len, 36 + 8 + 8);
	assert_memory_equal(buf, "rwfsjnl2", 8);
	assert_int_equal(le32(buf + 8), 2);
	assert_int_equal(le32(buf + 12), 0);
	for (int i = 16; i < 32; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(le32(buf + 32), crc32(0, buf, 32));
	assert_int_equal(le32(buf + 36), 8);
	assert_int_equal(le32(buf + 40), crc_castagnoli("SET A 5\n", 8));
	assert_memory_equal(buf + 44, "SET A 5\n", 8);
	free(buf);
}

/* A journal of format 1, its records checked by zlib's CRC-32, is read and
 * appended to in its own format; the journal a compaction makes is of
 * format 2. */
static void test_format_1_journal_goes_on(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	unsigned char h[36] = "rwfsjnl2", rec[8], *buf;
	struct seen s;
	struct log *log;
	size_t len;
	int fd = open(path_in(f, "journal"), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	close(fd);
	put_le(h + 8, 1, 4);
	put_le(h + 32, crc32(0, h, 32), 4);
	put_le(rec, 8, 4);
	put_le(rec + 4, crc32(0, (const unsigned char *)"SET A 5\n", 8), 4);
	append_to(f, "journal", h, sizeof(h));
	append_to(f, "journal", rec, sizeof(rec));
	append_to(f, "journal", "SET A 5\n", 8);
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "SET A 5\n|");
	assert_int_equal(append_ok(log, "SET B 6\n"), 2);
	log_close(log);
	buf = slurp(f, "journal", &len);
	assert_int_equal(len, 36 + 2 * 16);
	assert_int_equal(le32(buf + 8), 1);
	assert_int_equal(le32(buf + 56), crc32(0, (const unsigned char *)"SET B 6\n", 8));
	free(buf);

	log = open_ok(&o, &s);
	assert_string_equal(s.text, "SET A 5\n|SET B 6\n|");
	assert_int_equal(log_compact(log, save, &s), 0);
	assert_int_equal(append_ok(log, "SET C 7\n"), 3);
	log_close(log);
	buf = slurp(f, "journal", &len);
	assert_int_equal(len, 36 + 16);
	assert_int_equal(le32(buf + 8), 2);
	assert_int_equal(le32(buf + 40), crc_castagnoli("SET C 7\n", 8));
	free(buf);
}

static void test_append_delivers_before_returning(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log = open_ok(&o, &s);

	assert_int_equal(s.delivered, 0);
	assert_int_equal(append_ok(log, "one"), 1);
	assert_int_equal(s.delivered, 1);
	assert_int_equal(append_ok(log, "two"), 2);
	assert_int_equal(s.delivered, 2);
	assert_string_equal(s.text, "one|two|");
	log_close(log);
}

static void test_follow_delivers_what_was_appended(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_EVERYSEC);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	char before[sizeof(s.text)];

	assert_int_equal(log_file_start(log), 0);
	append_ok(log, "SET A 1\n");
	append_ok(log, "binary\x01\x02");
	append_ok(log, "MOV A C\n");
	strcpy(before, s.text);
	log_close(log);

	log = open_ok(&o, &s);
	assert_int_equal(s.loads, 0);
	assert_int_equal(s.delivered, 3);
	assert_int_equal(s.last, 3);
	assert_string_equal(s.text, before);
	assert_int_equal(append_ok(log, "next"), 4);
	log_close(log);
}

static void test_bad_appends(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct log *log = NULL;
	struct seen s;
	char msg[256];
	uint64_t position;
	char *big = calloc(1, LOG_MAX_RECORD + 1);

	assert_int_equal(log_file_open(&o, &log, msg, sizeof(msg)), 0);
	/* Before follow nothing would receive the record. */
	assert_int_equal(log_append(log, "x", 1, &position), -EINVAL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(log_follow(log, load, deliver, &s), 0);
	assert_int_equal(log_append(log, big, LOG_MAX_RECORD + 1, &position), -EFBIG);
	assert_int_equal(log_append(log, "", 0, &position), -EINVAL);
	assert_int_equal(s.delivered, 0);
	assert_int_equal(log_file_journal_bytes(log), 36);
	log_close(log);
	free(big);
}

static void test_replay_stops_at_a_record_that_does_not_apply(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	char notices[512] = "";
	char msg[256];

	append_ok(log, "a");
	append_ok(log, "b");
	log_close(log);
	o.notices = fmemopen(notices, sizeof(notices), "w");
	assert_int_equal(log_file_open(&o, &log, msg, sizeof(msg)), 0);
	memset(&s, 0, sizeof(s));
	s.fail_at = 2;
	assert_int_equal(log_follow(log, load, deliver, &s), -EINVAL);
	log_close(log);
	fclose(o.notices);
	assert_non_null(strstr(notices, "offset 45"));
	assert_non_null(strstr(notices, "position 2"));
}

/* --- torn tails and damage ---------------------------------------------------- */

static void test_torn_tail_is_dropped(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	char notices[512] = "";
	struct seen s;
	struct log *log = open_ok(&o, &s);
	long good;

	append_ok(log, "SET A 1\n");
	append_ok(log, "SET B 2\n");
	log_close(log);
	good = file_size(f, "journal");
	/* A crash in the middle of the second record. */
	assert_int_equal(truncate(path_in(f, "journal"), good - 3), 0);

	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	fclose(o.notices);
	o.notices = NULL;
	assert_string_equal(s.text, "SET A 1\n|");
	assert_non_null(strstr(notices, "torn final record at offset 52"));
	assert_int_equal(file_size(f, "journal"), good - 16);
	assert_int_equal(append_ok(log, "SET C 3\n"), 2);
	log_close(log);

	log = open_ok(&o, &s);
	assert_string_equal(s.text, "SET A 1\n|SET C 3\n|");
	log_close(log);
}

static void test_torn_header_of_record(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	long good;
	int fd;

	append_ok(log, "SET A 1\n");
	log_close(log);
	good = file_size(f, "journal");
	fd = open(path_in(f, "journal"), O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\x10\x00", 2), 2);
	close(fd);

	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 1);
	assert_int_equal(file_size(f, "journal"), good);
	log_close(log);
}

static void test_bad_crc_of_the_last_record_is_torn(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);

	append_ok(log, "SET A 1\n");
	append_ok(log, "SET B 2\n");
	log_close(log);
	/* The last record ends at the end of the file: a crash can leave it. */
	poke(f, "journal", file_size(f, "journal") - 1, 'X');
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "SET A 1\n|");
	assert_int_equal(file_size(f, "journal"), 52);
	log_close(log);
}

static void test_damaged_middle_is_refused(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	unsigned char *before;
	size_t len;

	append_ok(log, "SET A 1\n");
	append_ok(log, "SET B 2\n");
	append_ok(log, "SET C 3\n");
	log_close(log);
	/* A payload byte of the second record (36 + 16 + 8 + 2). */
	poke(f, "journal", 62, 'X');
	before = slurp(f, "journal", &len);
	open_fails(&o, -EBADMSG, "journal: damaged record at offset 52", "CRC");
	assert_file_is(f, "journal", before, len);
	free(before);
}

/* The old journal took a length past the end of the file for a torn tail
 * wherever it was, and dropped everything after it. */
static void test_impossible_length_in_middle_is_refused(void **state)
{
	static const struct {
		unsigned char top;  /* high byte of the second record's length */
		unsigned char low;
		const char *why;
	} cases[] = {
		{ 0x7f, 8, "length out of range" },
		{ 0x00, 0, "length 0" },
	};
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen s;
		struct log *log;
		unsigned char *before;
		size_t len;

		unlink(path_in(f, "journal"));
		log = open_ok(&o, &s);
		append_ok(log, "SET A 1\n");
		append_ok(log, "SET B 2\n");
		append_ok(log, "SET C 3\n");
		log_close(log);
		poke(f, "journal", 52, cases[i].low);
		poke(f, "journal", 55, cases[i].top);
		before = slurp(f, "journal", &len);
		open_fails(&o, -EBADMSG, "offset 52", cases[i].why);
		assert_file_is(f, "journal", before, len);
		free(before);
	}
}

/* --- the zero tail ------------------------------------------------------------ */

/* A running journal is grown ahead of its records; a clean close cuts the
 * zeros, a crash leaves them. */
static void test_zero_tail_is_cut_at_close(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log = open_ok(&o, &s);

	append_ok(log, "SET A 1\n");
	assert_int_equal(log_file_journal_bytes(log), 52);
	assert_true(file_size(f, "journal") >= 1 << 20);
	assert_int_equal(peek(f, "journal", 52), 0);
	assert_int_equal(peek(f, "journal", file_size(f, "journal") - 1), 0);
	log_close(log);
	assert_int_equal(file_size(f, "journal"), 52);
}

static void test_zero_tail_is_the_end(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	char notices[512] = "";
	struct seen s;
	struct log *log = open_ok(&o, &s);

	log_close(log);
	/* No record yet, only zeros after the header. */
	append_to(f, "journal", NULL, 4096);
	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 0);
	assert_int_equal(file_size(f, "journal"), 36);
	append_ok(log, "SET A 1\n");
	/* A record whose own last bytes are zero is still whole. */
	assert_int_equal(log_append(log, "B\0\0", 3, &(uint64_t){ 0 }), 0);
	log_close(log);
	append_to(f, "journal", NULL, 3 * 4096 + 5);

	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	fclose(o.notices);
	o.notices = NULL;
	assert_int_equal(s.delivered, 2);
	assert_string_equal(s.text, "SET A 1\n|B|");
	assert_string_equal(notices, "");
	/* Cut at open; appends go on after the last record. */
	assert_int_equal(file_size(f, "journal"), 52 + 11);
	assert_int_equal(append_ok(log, "SET C 3\n"), 3);
	log_close(log);
	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 3);
	log_close(log);
}

/* What a kill -9 in mid-copy can leave: the header copied first, then some
 * of the payload, then the zeros. */
static void test_torn_record_then_zeros_is_torn(void **state)
{
	static const struct {
		size_t header;   /* bytes of the record's header copied */
		size_t payload;  /* bytes of its payload copied */
		const char *why;
	} cases[] = {
		{ 8, 0, "CRC mismatch" },
		{ 8, 5, "CRC mismatch" },
		{ 1, 0, "CRC mismatch" },     /* a length of 8 from its first byte */
		{ 6, 0, "record length 0" },  /* length bytes still zero, CRC bytes copied */
	};
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char rec[16] = { 8, 0, 0, 0 };
		char notices[512] = "";
		struct seen s;
		struct log *log;

		unlink(path_in(f, "journal"));
		log = open_ok(&o, &s);
		append_ok(log, "SET A 1\n");
		log_close(log);
		if (cases[i].header == 6)
			memset(rec, 0, 4);
		put_le(rec + 4, crc_castagnoli("SET B 2\n", 8), 4);
		memcpy(rec + 8, "SET B 2\n", 8);
		append_to(f, "journal", rec, cases[i].header);
		append_to(f, "journal", NULL, 8 - cases[i].header);
		append_to(f, "journal", rec + 8, cases[i].payload);
		append_to(f, "journal", NULL, 4096);

		o.notices = fmemopen(notices, sizeof(notices), "w");
		log = open_ok(&o, &s);
		fclose(o.notices);
		o.notices = NULL;
		assert_string_equal(s.text, "SET A 1\n|");
		if (!strstr(notices, "torn final record at offset 52") ||
		    !strstr(notices, cases[i].why))
			fail_msg("case %zu: '%s'", i, notices);
		assert_int_equal(file_size(f, "journal"), 52);
		assert_int_equal(append_ok(log, "SET C 3\n"), 2);
		log_close(log);
	}
}

/* Zeros in place of a record, then more records, are no crash's doing. */
static void test_nonzero_bytes_after_zeros_are_damage(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	char notices[512] = "";
	struct seen s;
	struct log *log = open_ok(&o, &s);
	unsigned char *good, *before;
	size_t good_len, len;

	append_ok(log, "SET A 1\n");
	append_ok(log, "SET B 2\n");
	log_close(log);
	good = slurp(f, "journal", &good_len);
	assert_int_equal(truncate(path_in(f, "journal"), 52), 0);
	append_to(f, "journal", NULL, 16);
	append_to(f, "journal", good + 52, 16);
	append_to(f, "journal", NULL, 4096);
	before = slurp(f, "journal", &len);
	open_fails(&o, -EBADMSG, "damaged record at offset 52", "record length 0");
	assert_file_is(f, "journal", before, len);

	/* --recover keeps the copy and goes on from the last good record. */
	o.recover = true;
	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	fclose(o.notices);
	assert_string_equal(s.text, "SET A 1\n|");
	assert_non_null(strstr(notices, "(32 bytes)"));
	assert_int_equal(file_size(f, "journal"), 52);
	log_close(log);
	free(before);
	free(good);
}

/* The daemon killed with its journal mapped and grown: everything it
 * appended is in the page cache, the zero tail after it. */
static void test_reopen_after_kill(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_EVERYSEC);
	char notices[512] = "";
	struct seen s;
	struct log *log;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct seen child = { .text = "" };
		char msg[256];

		if (log_file_open(&o, &log, msg, sizeof(msg)) != 0 ||
		    log_follow(log, load, deliver, &child) != 0 || log_file_start(log) != 0)
			_exit(1);
		for (int i = 0; i < 100; i++) {
			uint64_t position;

			if (log_append(log, "ADD A 1\n", 8, &position) != 0)
				_exit(1);
		}
		raise(SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(file_size(f, "journal") >= 1 << 20);

	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	fclose(o.notices);
	o.notices = NULL;
	assert_string_equal(notices, "");
	assert_int_equal(s.delivered, 100);
	assert_int_equal(log_file_journal_bytes(log), 36 + 100 * 16);
	assert_int_equal(append_ok(log, "SUB A 1\n"), 101);
	log_close(log);
	assert_int_equal(file_size(f, "journal"), 36 + 101 * 16);
	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 101);
	log_close(log);
}

/* A cut that fails at close leaves the zeros, as a crash does. */
static void test_failed_cut_at_close_leaves_a_readable_journal(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	char notices[512] = "";
	struct seen s;
	struct log *log;

	o.io = &fake_io;
	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	append_ok(log, "a");
	fail_ftruncate = 1;
	log_close(log);
	fclose(o.notices);
	o.notices = NULL;
	assert_non_null(strstr(notices, "cannot cut its zero tail"));
	assert_true(file_size(f, "journal") > 36 + 9);
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "a|");
	assert_int_equal(file_size(f, "journal"), 36 + 9);
	log_close(log);
}

static void test_recover_keeps_a_copy(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	char notices[512] = "";
	long size;

	append_ok(log, "SET A 1\n");
	append_ok(log, "SET B 2\n");
	append_ok(log, "SET C 3\n");
	log_close(log);
	size = file_size(f, "journal");
	poke(f, "journal", 62, 'X');

	o.recover = true;
	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	fclose(o.notices);
	o.notices = NULL;
	assert_string_equal(s.text, "SET A 1\n|");
	assert_non_null(strstr(notices, "offset 52"));
	assert_non_null(strstr(notices, "1 record after it (32 bytes)"));
	assert_int_equal(file_size(f, "journal"), 52);
	/* The next record takes the position after the last good one. */
	assert_int_equal(append_ok(log, "SET D 4\n"), 2);
	log_close(log);

	/* The damaged journal is kept whole beside it. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test $(cat %s/journal.damaged-* | wc -c) -eq %ld", f->dir,
		 size);
	assert_int_equal(system(cmd), 0);
}

static void test_recover_from_impossible_length(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	char notices[512] = "";

	append_ok(log, "SET A 1\n");
	append_ok(log, "SET B 2\n");
	append_ok(log, "SET C 3\n");
	log_close(log);
	poke(f, "journal", 55, 0x7f);

	o.recover = true;
	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	fclose(o.notices);
	assert_string_equal(s.text, "SET A 1\n|");
	assert_non_null(strstr(notices, "0 records after it (32 bytes)"));
	assert_int_equal(file_size(f, "journal"), 52);
	log_close(log);
}

/* Makes a directory with a snapshot at position 2 and a journal of base 2
 * holding one record (position 3). */
static void make_compacted(struct fixture *f, struct log_file_options *o)
{
	struct seen s;
	struct log *log = open_ok(o, &s);

	append_ok(log, "a");
	append_ok(log, "b");
	assert_int_equal(log_compact(log, save, &s), 0);
	append_ok(log, "c");
	log_close(log);
	assert_int_equal(file_size(f, "snapshot"), 36 + 4 + 4);
}

/* The old header had no CRC: a damaged generation went unnoticed, and a
 * low one made start-up skip the whole journal. */
static void test_damaged_header_is_refused(void **state)
{
	static const long offsets[] = { 0, 7, 8, 12, 16, 23, 24, 32, 35 };
	static const char *const files[] = { "journal", "snapshot" };
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);

	make_compacted(f, &o);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		for (size_t k = 0; k < sizeof(offsets) / sizeof(offsets[0]); k++) {
			unsigned char old = peek(f, files[i], offsets[k]);
			unsigned char *before;
			size_t len;

			poke(f, files[i], offsets[k], old ^ 0x01);
			before = slurp(f, "journal", &len);
			open_fails(&o, -EBADMSG, files[i], "offset");
			assert_file_is(f, "journal", before, len);
			free(before);
			poke(f, files[i], offsets[k], old);
		}
	}
	/* Put back whole, the two still open. */
	struct seen s;
	struct log *log = open_ok(&o, &s);

	assert_string_equal(s.text, "a|b|c|");
	log_close(log);
}

static void test_damaged_snapshot_blob_is_refused(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);

	make_compacted(f, &o);
	poke(f, "snapshot", 37, 'X');
	open_fails(&o, -EBADMSG, "snapshot", "blob CRC");
	poke(f, "snapshot", 37, '|');
	assert_int_equal(truncate(path_in(f, "snapshot"), 36 + 4), 0);
	open_fails(&o, -EBADMSG, "snapshot", "offset 24");
}

/* Well-formed headers that no crash can leave are damage too. */
static void test_base_disagreements(void **state)
{
	static const struct {
		uint64_t base;     /* of the old journal of two records; the snapshot is at 3 */
		bool accepted;
	} cases[] = {
		{ 1, true },  /* the crash between the renames: the snapshot holds them */
		{ 0, false },
		{ 2, false },
		{ 4, false },
	};
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);

	append_ok(log, "a");
	assert_int_equal(log_compact(log, save, &s), 0);
	append_ok(log, "b");
	append_ok(log, "c");
	log_close(log);
	run("cp %s/journal %s/journal.old", f->dir, f->dir);
	log = open_ok(&o, &s);
	assert_int_equal(log_compact(log, save, &s), 0);
	log_close(log);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run("cp %s/journal.old %s/journal", f->dir, f->dir);
		set_base(f, "journal", cases[i].base);
		if (!cases[i].accepted) {
			open_fails(&o, -EBADMSG, "journal", "offset 16");
			continue;
		}
		log = open_ok(&o, &s);
		assert_int_equal(s.loads, 1);
		assert_int_equal(s.load_position, 3);
		assert_int_equal(s.delivered, 0);
		assert_string_equal(s.text, "a|b|c|");
		log_close(log);
	}
}

static void test_journal_base_without_snapshot(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);

	append_ok(log, "a");
	log_close(log);
	set_base(f, "journal", 5);
	open_fails(&o, -EBADMSG, "base 5 with no snapshot", "offset 16");
}

static void test_missing_journal_beside_snapshot(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);

	make_compacted(f, &o);
	unlink(path_in(f, "journal"));
	open_fails(&o, -EBADMSG, "journal: missing", "snapshot exists");
	assert_int_equal(file_size(f, "journal"), -1);
}

/* --- compaction ------------------------------------------------------------ */

static void test_positions_continue_across_compaction(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log;
	char before[sizeof(s.text)];

	o.compact_bytes = 100;
	log = open_ok(&o, &s);
	append_ok(log, "ADD A 1\n");
	assert_false(log_wants_compaction(log));
	for (int i = 0; i < 4; i++)
		append_ok(log, "ADD A 1\n");
	assert_true(log_wants_compaction(log));
	assert_int_equal(log_compact(log, save, &s), 0);
	assert_false(log_wants_compaction(log));
	assert_int_equal(log_file_journal_bytes(log), 36);
	assert_int_equal(append_ok(log, "SUB A 1\n"), 6);
	strcpy(before, s.text);
	log_close(log);

	/* The snapshot, then the records after it. */
	log = open_ok(&o, &s);
	assert_int_equal(s.loads, 1);
	assert_int_equal(s.load_position, 5);
	assert_int_equal(s.delivered, 1);
	assert_int_equal(s.last, 6);
	assert_string_equal(s.text, before);
	assert_int_equal(append_ok(log, "SUB A 1\n"), 7);
	assert_int_equal(log_compact(log, save, &s), 0);
	assert_int_equal(append_ok(log, "SUB A 1\n"), 8);
	strcat(before, "SUB A 1\n|SUB A 1\n|");
	log_close(log);

	log = open_ok(&o, &s);
	assert_int_equal(s.load_position, 7);
	assert_string_equal(s.text, before);
	log_close(log);
}

static void test_crash_between_snapshot_and_new_journal(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	unsigned char *buf;
	size_t len;

	append_ok(log, "a");
	append_ok(log, "b");
	log_close(log);
	run("cp %s/journal %s/journal.old", f->dir, f->dir);
	log = open_ok(&o, &s);
	assert_int_equal(log_compact(log, save, &s), 0);
	log_close(log);
	/* Put the old journal back, as if the crash came before its
	 * replacement: its records are in the snapshot and must not run twice. */
	run("mv %s/journal.old %s/journal", f->dir, f->dir);

	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 0);
	assert_string_equal(s.text, "a|b|");
	/* A fresh journal follows the snapshot. */
	buf = slurp(f, "journal", &len);
	assert_int_equal(len, 36);
	assert_int_equal(le32(buf + 16), 2);
	free(buf);
	assert_int_equal(append_ok(log, "c"), 3);
	log_close(log);

	log = open_ok(&o, &s);
	assert_string_equal(s.text, "a|b|c|");
	log_close(log);
}

/* The old journal refused every write after this until a compaction
 * succeeded. */
static void test_new_journal_is_retried_after_full_disk(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log;
	uint64_t position;
	unsigned char *old_journal;
	size_t len;

	o.io = &fake_io;
	log = open_ok(&o, &s);
	append_ok(log, "a");
	append_ok(log, "b");
	old_journal = slurp(f, "journal", &len);

	fail_journal_tmp = ENOSPC;
	assert_int_equal(log_compact(log, save, &s), -ENOSPC);
	assert_true(file_size(f, "snapshot") > 36);
	assert_false(log_wants_compaction(log));
	/* Still no room: the append fails and changes nothing. */
	assert_int_equal(log_append(log, "c", 1, &position), -ENOSPC);
	assert_int_equal(s.delivered, 2);
	assert_file_is(f, "journal", old_journal, len);
	assert_int_equal(file_size(f, "journal.tmp"), -1);

	/* Room again: the new journal is made and the append goes on. */
	fail_journal_tmp = 0;
	assert_int_equal(append_ok(log, "c"), 3);
	assert_int_equal(append_ok(log, "d"), 4);
	assert_int_equal(log_file_journal_bytes(log), 36 + 2 * 9);
	log_close(log);

	log = open_ok(&o, &s);
	assert_int_equal(s.load_position, 2);
	assert_int_equal(s.delivered, 2);
	assert_string_equal(s.text, "a|b|c|d|");
	log_close(log);
	free(old_journal);
}

static void test_restart_while_new_journal_is_missing(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log;

	o.io = &fake_io;
	log = open_ok(&o, &s);
	append_ok(log, "a");
	fail_journal_tmp = ENOSPC;
	assert_int_equal(log_compact(log, save, &s), -ENOSPC);
	log_close(log);
	fail_journal_tmp = 0;

	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 0);
	assert_string_equal(s.text, "a|");
	assert_int_equal(append_ok(log, "b"), 2);
	log_close(log);
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "a|b|");
	log_close(log);
}

static void test_failed_snapshot_leaves_the_log_as_it_was(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log;

	o.io = &fake_io;
	log = open_ok(&o, &s);
	append_ok(log, "a");
	fail_pwrite_errno = ENOSPC;
	assert_int_equal(log_compact(log, save, &s), -ENOSPC);
	assert_int_equal(file_size(f, "snapshot"), -1);
	assert_int_equal(file_size(f, "snapshot.tmp"), -1);
	fail_pwrite_errno = 0;
	assert_int_equal(append_ok(log, "b"), 2);
	log_close(log);
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "a|b|");
	log_close(log);
}

static void test_failed_snapshot_is_not_retried_at_every_write(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	uint64_t failed_at;
	struct seen s;
	struct log *log;

	o.io = &fake_io;
	o.compact_bytes = 100;
	log = open_ok(&o, &s);
	while (log_file_journal_bytes(log) <= 100)
		append_ok(log, "ADD A 1\n");
	assert_true(log_wants_compaction(log));
	fail_pwrite_errno = ENOSPC;
	assert_int_equal(log_compact(log, save, &s), -ENOSPC);
	fail_pwrite_errno = 0;
	assert_false(log_wants_compaction(log));
	failed_at = log_file_journal_bytes(log);
	while (log_file_journal_bytes(log) <= failed_at + 100)
		append_ok(log, "ADD A 1\n");
	assert_true(log_wants_compaction(log));
	assert_int_equal(log_compact(log, save, &s), 0);
	assert_false(log_wants_compaction(log));
	while (log_file_journal_bytes(log) <= 100)
		append_ok(log, "ADD A 1\n");
	assert_true(log_wants_compaction(log));
	log_close(log);
}

/* --- failures of the system calls ---------------------------------------- */

/* On a filesystem that cannot preallocate, where appends are pwrite()s. */
static void test_full_disk_leaves_journal_unchanged(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log;
	uint64_t position;
	long size;

	o.io = &fake_io;
	fail_fallocate_errno = EOPNOTSUPP;
	log = open_ok(&o, &s);
	append_ok(log, "SET A 1\n");
	size = file_size(f, "journal");

	fail_pwrite_errno = ENOSPC;
	assert_int_equal(log_append(log, "SET B 2\n", 8, &position), -ENOSPC);
	assert_int_equal(file_size(f, "journal"), size);
	fail_pwrite_errno = EIO;
	assert_int_equal(log_append(log, "SET B 2\n", 8, &position), -EIO);
	/* A short write is cut back, too. */
	fail_pwrite_errno = ENOSPC;
	fail_pwrite_short = 5;
	assert_int_equal(log_append(log, "SET B 2\n", 8, &position), -ENOSPC);
	assert_int_equal(file_size(f, "journal"), size);
	assert_int_equal(s.delivered, 1);

	/* Space is back: writes work again, at the next position. */
	fail_pwrite_errno = 0;
	assert_int_equal(append_ok(log, "SET C 3\n"), 2);
	log_close(log);
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "SET A 1\n|SET C 3\n|");
	log_close(log);
}

static void test_failed_cut_is_retried(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log;
	uint64_t position;

	o.io = &fake_io;
	fail_fallocate_errno = EOPNOTSUPP; /* only pwrite()s leave bytes to cut */
	log = open_ok(&o, &s);
	append_ok(log, "SET A 1\n");
	/* A long record half written, and the cut fails: the next append cuts
	 * the rest of it first. */
	fail_pwrite_errno = ENOSPC;
	fail_pwrite_short = 12;
	fail_ftruncate = 1;
	assert_int_equal(log_append(log, "a long record here", 18, &position), -ENOSPC);
	assert_int_equal(file_size(f, "journal"), 52 + 12);
	fail_pwrite_errno = 0;
	assert_int_equal(append_ok(log, "b"), 2);
	assert_int_equal(file_size(f, "journal"), 52 + 9);
	log_close(log);
	log = open_ok(&o, &s);
	assert_string_equal(s.text, "SET A 1\n|b|");
	log_close(log);
}

/* The mapped journal on a full disk: an append that needs the journal
 * grown fails and changes nothing; one that fits in what was grown does
 * not need the disk. */
static void test_failed_growth_leaves_journal_unchanged(void **state)
{
	static const int errors[] = { ENOSPC, EDQUOT, EIO };
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	size_t big_len = (2u << 20) - 100, len;
	char *big = malloc(big_len);
	unsigned char *before;
	struct seen s;
	struct log *log;
	uint64_t position;

	/* Its text is "" and the deliver of the tests strncat()s it. */
	memset(big, 'x', big_len);
	big[0] = '\0';
	o.io = &fake_io;
	log = open_ok(&o, &s);
	/* The first record grows the journal from its header. */
	fail_fallocate_errno = ENOSPC;
	assert_int_equal(log_append(log, "SET A 1\n", 8, &position), -ENOSPC);
	assert_int_equal(file_size(f, "journal"), 36);
	fail_fallocate_errno = 0;
	append_ok(log, "SET A 1\n");
	append_ok(log, "SET A 2\n");

	before = slurp(f, "journal", &len);
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		fail_fallocate_errno = errors[i];
		assert_int_equal(log_append(log, big, big_len, &position), -errors[i]);
		assert_file_is(f, "journal", before, len);
		assert_int_equal(log_file_journal_bytes(log), 36 + 2 * 16);
	}
	/* Grown but not mapped: nothing to see either. */
	fail_fallocate_errno = 0;
	fail_mmap_errno = ENOMEM;
	assert_int_equal(log_append(log, big, big_len, &position), -ENOMEM);
	assert_int_equal(log_file_journal_bytes(log), 36 + 2 * 16);
	assert_file_starts_with(f, "journal", before, len);
	assert_int_equal(s.delivered, 2);

	/* Room again: the append goes on at the next position. */
	fail_mmap_errno = 0;
	assert_int_equal(log_append(log, big, big_len, &position), 0);
	assert_int_equal(position, 3);
	assert_int_equal(append_ok(log, "SET A 4\n"), 4);
	log_close(log);
	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 4);
	assert_int_equal(log_file_journal_bytes(log), 36 + 3 * 16 + 8 + big_len);
	log_close(log);
	free(before);
	free(big);
}

/* Near a full disk the journal grows by what the record needs, not a chunk:
 * as long as a write() would fit, the append does. */
static void test_growth_near_a_full_disk(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	char rec[3000];
	struct seen s;
	struct log *log;
	uint64_t position;
	int appended;

	memset(rec, 'r', sizeof(rec));
	rec[0] = '\0'; /* for the strncat() of the tests' deliver */
	o.io = &fake_io;
	disk_room = 5 * 4096;
	log = open_ok(&o, &s);
	assert_int_equal(log_append(log, rec, sizeof(rec), &position), 0);
	/* What the failed chunk had taken is given back. */
	assert_int_equal(file_size(f, "journal"), 4096);
	appended = 1;
	while (log_append(log, rec, sizeof(rec), &position) == 0)
		appended++;
	/* 36 + 6 * 3008 fits in 5 pages, a seventh record does not. */
	assert_int_equal(appended, 6);
	assert_int_equal(file_size(f, "journal"), 5 * 4096);
	assert_int_equal(log_append(log, rec, sizeof(rec), &position), -ENOSPC);
	disk_room = 0;
	assert_int_equal(log_append(log, rec, sizeof(rec), &position), 0);
	assert_int_equal(position, 7);
	log_close(log);
	assert_int_equal(file_size(f, "journal"), 36 + 7 * 3008);
	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, 7);
	log_close(log);
}

/* A filesystem without fallocate (or mmap): the journal is written with
 * pwrite, through compaction too, and has no zero tail. */
static void test_write_fallback_without_fallocate(void **state)
{
	static const struct {
		int fallocate_errno;
		int mmap_errno;
	} cases[] = {
		{ EOPNOTSUPP, 0 },
		{ 0, ENODEV },
	};
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);

	o.io = &fake_io;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char notices[512] = "";
		struct seen s;
		struct log *log;

		unlink(path_in(f, "journal"));
		unlink(path_in(f, "snapshot"));
		fail_fallocate_errno = cases[i].fallocate_errno;
		fail_mmap_errno = cases[i].mmap_errno;
		o.notices = fmemopen(notices, sizeof(notices), "w");
		log = open_ok(&o, &s);
		pwrites = 0;
		assert_int_equal(append_ok(log, "SET A 1\n"), 1);
		assert_int_equal(append_ok(log, "SET A 2\n"), 2);
		assert_int_equal(pwrites, 2);
		if (cases[i].fallocate_errno)
			assert_int_equal(file_size(f, "journal"), 36 + 2 * 16);
		assert_int_equal(log_compact(log, save, &s), 0);
		assert_int_equal(append_ok(log, "SET A 3\n"), 3);
		assert_int_equal(file_size(f, "journal"), 36 + 16);
		log_close(log);
		fclose(o.notices);
		o.notices = NULL;
		assert_non_null(strstr(notices, "appending with write()"));
		assert_int_equal(file_size(f, "journal"), 36 + 16);

		log = open_ok(&o, &s);
		assert_string_equal(s.text, "SET A 1\n|SET A 2\n|SET A 3\n|");
		log_close(log);
	}
}

static void test_sync_policy(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log;
	uint64_t p1, p2;

	o.io = &fake_io;
	log = open_ok(&o, &s);
	fdatasyncs = 0;
	append_ok(log, "SET A 1\n");
	assert_int_equal(fdatasyncs, 1);
	/* Two appends waiting together share one fdatasync. */
	assert_int_equal(log_append(log, "SET A 2\n", 8, &p1), 0);
	assert_int_equal(log_append(log, "SET A 3\n", 8, &p2), 0);
	assert_int_equal(log_sync(log, p2), 0);
	assert_int_equal(log_sync(log, p1), 0);
	assert_int_equal(fdatasyncs, 2);
	log_close(log);

	o.sync = LOG_SYNC_NO;
	log = open_ok(&o, &s);
	fdatasyncs = 0;
	append_ok(log, "SET A 4\n");
	assert_int_equal(fdatasyncs, 0);
	log_close(log);

	o.sync = LOG_SYNC_EVERYSEC;
	log = open_ok(&o, &s);
	assert_int_equal(log_file_start(log), 0);
	__atomic_store_n(&fdatasyncs, 0, __ATOMIC_SEQ_CST);
	/* Not one per write: twenty writes in a row share the next tick (two,
	 * should a tick fall in between). */
	for (int i = 0; i < 20; i++)
		append_ok(log, "SET A 5\n");
	assert_true(__atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) <= 2);
	for (int i = 0; i < 40 && __atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(100000);
	assert_true(__atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) >= 1);
	log_close(log);
}

#define WRITERS 4
#define WRITES_EACH 50

struct writer {
	struct log *log;
	uint64_t positions[WRITES_EACH];
	int failures;
};

/* A writer's next write comes this long after its last was synced, as a
 * reply and the next request through FUSE take. */
#define TURN_US 30

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	prctl(PR_SET_TIMERSLACK, 1UL);
	for (int i = 0; i < WRITES_EACH; i++) {
		char rec[32];
		int n = snprintf(rec, sizeof(rec), "w%p-%d", (void *)w, i);

		if (log_append(w->log, rec, (size_t)n, &w->positions[i]) != 0 ||
		    log_sync(w->log, w->positions[i]) != 0)
			w->failures++;
		usleep(TURN_US);
	}
	return NULL;
}

/* Writers that arrive apart end in one group: two start, the other two
 * one slow fdatasync later.  The next fdatasync waits for every writer that
 * was waiting, so 200 records take at most a third as many (51-53 here);
 * waiting for as many records as the last one covered kept two groups of
 * two taking turns (88-100). */
static void test_group_commit_shares_fdatasyncs(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct writer writers[WRITERS];
	pthread_t threads[WRITERS];
	bool taken[WRITERS * WRITES_EACH + 1] = { false };
	struct seen s;
	struct log *log;
	char before[sizeof(s.text)];

	o.io = &fake_io;
	log = open_ok(&o, &s);
	slow_fdatasync_us = 2000;
	__atomic_store_n(&fdatasyncs, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < WRITERS; i++) {
		if (i == WRITERS / 2)
			usleep((useconds_t)slow_fdatasync_us);
		writers[i] = (struct writer){ .log = log };
		assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &writers[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < WRITERS; i++) {
		assert_int_equal(writers[i].failures, 0);
		for (int k = 0; k < WRITES_EACH; k++) {
			uint64_t p = writers[i].positions[k];

			assert_true(p >= 1 && p <= WRITERS * WRITES_EACH);
			assert_false(taken[p]);
			taken[p] = true;
			if (k)
				assert_true(p > writers[i].positions[k - 1]);
		}
	}
	assert_int_equal(s.delivered, WRITERS * WRITES_EACH);
	assert_true(__atomic_load_n(&fdatasyncs, __ATOMIC_SEQ_CST) * 3 <= WRITERS * WRITES_EACH);
	slow_fdatasync_us = 0;
	strcpy(before, s.text);
	log_close(log);

	log = open_ok(&o, &s);
	assert_int_equal(s.delivered, WRITERS * WRITES_EACH);
	assert_string_equal(s.text, before);
	log_close(log);
}

/* Writers waiting together for an fdatasync that fails all get -EIO: none
 * is left asleep, none is told its write is on disk. */
static void test_failed_fdatasync_fails_every_waiter(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct writer writers[WRITERS];
	pthread_t threads[WRITERS];
	struct seen s;
	struct log *log;

	o.io = &fake_io;
	o.notices = fopen("/dev/null", "w");
	log = open_ok(&o, &s);
	slow_fdatasync_us = 2000;
	fail_fdatasync = 1;
	for (int i = 0; i < WRITERS; i++) {
		writers[i] = (struct writer){ .log = log };
		assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &writers[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(writers[i].failures, WRITES_EACH);
	}
	log_close(log);
	fclose(o.notices);
}

static void test_failed_fdatasync_stops_the_log(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	char notices[512] = "";
	struct seen s;
	struct log *log;
	uint64_t position;

	o.io = &fake_io;
	o.notices = fmemopen(notices, sizeof(notices), "w");
	log = open_ok(&o, &s);
	assert_int_equal(log_append(log, "SET A 1\n", 8, &position), 0);
	fail_fdatasync = 1;
	assert_int_equal(log_sync(log, position), -EIO);
	fail_fdatasync = 0;
	/* Nothing more is taken until a restart. */
	assert_int_equal(log_append(log, "SET A 2\n", 8, &position), -EIO);
	assert_int_equal(log_sync(log, position), -EIO);
	assert_int_equal(s.delivered, 1);
	log_close(log);
	fclose(o.notices);
	o.notices = NULL;
	assert_non_null(strstr(notices, "fdatasync failed"));
	assert_non_null(strstr(notices, "refusing changes"));

	log = open_ok(&o, &s);
	assert_int_equal(append_ok(log, "SET A 2\n"), 2);
	log_close(log);
}

/* --- the directory and the lock file ----------------------------------------- */

static void test_missing_directory(void **state)
{
	struct log_file_options o = { .dir = "/nonexistent/rwfs-state" };

	(void)state;
	open_fails(&o, -ENOENT, "/nonexistent/rwfs-state", "does not exist");
}

static void test_read_only_directory(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);

	o.io = &fake_io;
	fail_openat_errno = EROFS;
	open_fails(&o, -EROFS, f->dir, "read-only");
}

static void test_second_open_is_refused(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct seen s;
	struct log *log = open_ok(&o, &s), *other;
	char pid[32];

	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	open_fails(&o, -EBUSY, "in use", pid);
	log_close(log);
	other = open_ok(&o, &s);
	log_close(other);
}

/* --- stats and dump ------------------------------------------------------- */

static void test_format_stats(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_ALWAYS);
	struct seen s;
	struct log *log = open_ok(&o, &s);
	char buf[512], want[512];
	int n;

	n = log_format_stats(log, buf, sizeof(buf));
	snprintf(want, sizeof(want),
		 "state_dir %s\nlog_journal_bytes 36\nlog_journal_records 0\nlog_position 0\n"
		 "log_sync always\nlog_synced_position 0\nlog_last_fsync_ms_ago never\n", f->dir);
	assert_string_equal(buf, want);
	append_ok(log, "abc");
	n = log_format_stats(log, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	snprintf(want, sizeof(want),
		 "state_dir %s\nlog_journal_bytes 47\nlog_journal_records 1\nlog_position 1\n"
		 "log_sync always\nlog_synced_position 1\nlog_last_fsync_ms_ago ", f->dir);
	/* The append's own fdatasync, a moment ago. */
	assert_memory_equal(buf, want, strlen(want));
	assert_true(strtoull(buf + strlen(want), NULL, 10) < 1000);
	assert_true(log_format_stats(log, buf, 4) == n);
	log_close(log);
}

struct dumped {
	char text[2048];
};

static void dump_line(void *arg, const char *file, uint64_t offset, uint64_t position,
		      bool is_snapshot, const void *rec, size_t len)
{
	struct dumped *d = arg;
	size_t used = strlen(d->text);

	snprintf(d->text + used, sizeof(d->text) - used, "%s %llu %llu%s: %.*s\n", file,
		 (unsigned long long)offset, (unsigned long long)position,
		 is_snapshot ? " snapshot" : "", (int)len, (const char *)rec);
}

static void test_dump(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	struct dumped d = { "" };
	char out[512] = "";
	FILE *fp;
	struct seen s;
	struct log *log = open_ok(&o, &s);

	append_ok(log, "a");
	assert_int_equal(log_compact(log, save, &s), 0);
	append_ok(log, "bb");
	append_ok(log, "ccc");
	/* The running log holds the lock: the dump needs none, and takes its
	 * zero tail for the end. */
	assert_true(file_size(f, "journal") > 56);
	fp = fmemopen(out, sizeof(out), "w");
	assert_int_equal(log_file_dump(f->dir, dump_line, &d, fp), 0);
	fclose(fp);
	assert_string_equal(d.text, "snapshot 36 1 snapshot: a|\n"
				    "journal 36 2: bb\n"
				    "journal 46 3: ccc\n");
	assert_string_equal(out, "");
	log_close(log);

	/* Damage is reported and the dump goes on past it. */
	poke(f, "journal", 45, 'X');
	memset(&d, 0, sizeof(d));
	fp = fmemopen(out, sizeof(out), "w");
	assert_int_equal(log_file_dump(f->dir, dump_line, &d, fp), -EBADMSG);
	fclose(fp);
	assert_string_equal(out, "journal: offset 36: CRC mismatch\n");
	assert_string_equal(d.text, "snapshot 36 1 snapshot: a|\njournal 46 3: ccc\n");

	/* So does a damaged header. */
	poke(f, "journal", 45, 'b');
	poke(f, "journal", 16, 9);
	memset(&d, 0, sizeof(d));
	fp = fmemopen(out, sizeof(out), "w");
	assert_int_equal(log_file_dump(f->dir, dump_line, &d, fp), -EBADMSG);
	fclose(fp);
	assert_string_equal(out, "journal: offset 32: header CRC mismatch\n");
	assert_non_null(strstr(d.text, "journal 46 11: ccc\n"));
}

static void test_dump_of_a_torn_record_then_zeros(void **state)
{
	struct fixture *f = *state;
	struct log_file_options o = options(f, LOG_SYNC_NO);
	unsigned char torn[12] = { 8, 0, 0, 0, 1, 2, 3, 4, 'S', 'E', 'T' };
	struct dumped d = { "" };
	char out[512] = "";
	FILE *fp;
	struct seen s;
	struct log *log = open_ok(&o, &s);

	append_ok(log, "a");
	log_close(log);
	append_to(f, "journal", torn, sizeof(torn));
	append_to(f, "journal", NULL, 8192);
	fp = fmemopen(out, sizeof(out), "w");
	assert_int_equal(log_file_dump(f->dir, dump_line, &d, fp), 0);
	fclose(fp);
	assert_string_equal(d.text, "journal 36 1: a\n");
	assert_string_equal(out, "journal: offset 45: torn final record (CRC mismatch), "
				 "dropped at start-up\n");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_framing_on_disk),
		T(test_format_1_journal_goes_on),
		T(test_append_delivers_before_returning),
		T(test_follow_delivers_what_was_appended),
		T(test_bad_appends),
		T(test_replay_stops_at_a_record_that_does_not_apply),
		T(test_torn_tail_is_dropped),
		T(test_torn_header_of_record),
		T(test_bad_crc_of_the_last_record_is_torn),
		T(test_damaged_middle_is_refused),
		T(test_impossible_length_in_middle_is_refused),
		T(test_zero_tail_is_cut_at_close),
		T(test_zero_tail_is_the_end),
		T(test_torn_record_then_zeros_is_torn),
		T(test_nonzero_bytes_after_zeros_are_damage),
		T(test_reopen_after_kill),
		T(test_failed_cut_at_close_leaves_a_readable_journal),
		T(test_recover_keeps_a_copy),
		T(test_recover_from_impossible_length),
		T(test_damaged_header_is_refused),
		T(test_damaged_snapshot_blob_is_refused),
		T(test_base_disagreements),
		T(test_journal_base_without_snapshot),
		T(test_missing_journal_beside_snapshot),
		T(test_positions_continue_across_compaction),
		T(test_crash_between_snapshot_and_new_journal),
		T(test_new_journal_is_retried_after_full_disk),
		T(test_restart_while_new_journal_is_missing),
		T(test_failed_snapshot_leaves_the_log_as_it_was),
		T(test_failed_snapshot_is_not_retried_at_every_write),
		T(test_full_disk_leaves_journal_unchanged),
		T(test_failed_cut_is_retried),
		T(test_failed_growth_leaves_journal_unchanged),
		T(test_growth_near_a_full_disk),
		T(test_write_fallback_without_fallocate),
		T(test_sync_policy),
		T(test_group_commit_shares_fdatasyncs),
		T(test_failed_fdatasync_fails_every_waiter),
		T(test_failed_fdatasync_stops_the_log),
		T(test_missing_directory),
		T(test_read_only_directory),
		T(test_second_open_is_refused),
		T(test_format_stats),
		T(test_dump),
		T(test_dump_of_a_torn_record_then_zeros),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
