/* test_evlog.c - unit tests of the event log ring (fs/engine/evlog.h):
 * cursors, whole-line reads (and pieces of a line for a tiny buffer), the
 * "missed" line of a reader that fell behind, who is listening, the console
 * copy (written by the append, or by the log's thread once started, nothing
 * lost at the end), the notify hook, cut lines and the clients' names.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evlog.h"

#define STAMP_LEN 13 /* "HH:MM:SS.mmm " */

/* ---- helpers ---------------------------------------------------------- */

/* True when line starts with "HH:MM:SS.mmm ". */
static bool has_stamp(const char *line, size_t len)
{
	static const char shape[] = "dd:dd:dd.ddd ";

	if (len < STAMP_LEN)
		return false;
	for (size_t i = 0; i < STAMP_LEN; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)line[i]) : line[i] != shape[i])
			return false;
	}
	return (line[0] - '0') * 10 + (line[1] - '0') < 24 &&
	       (line[3] - '0') * 10 + (line[4] - '0') < 60 &&
	       (line[6] - '0') * 10 + (line[7] - '0') <= 60;
}

/* Checks that buf[0..len) is exactly the given texts, one stamped line
 * each. */
static void check_lines(const char *buf, size_t size, const char *const *texts, size_t n)
{
	long len = (long)size, pos = 0;

	for (size_t i = 0; i < n; i++) {
		size_t tlen = strlen(texts[i]);

		if (pos + STAMP_LEN + (long)tlen + 1 > len)
			fail_msg("line %zu (\"%s\") missing: only %ld bytes", i, texts[i], len);
		if (!has_stamp(buf + pos, STAMP_LEN))
			fail_msg("line %zu has no \"HH:MM:SS.mmm \" stamp: \"%.*s\"", i,
				 (int)(len - pos), buf + pos);
		pos += STAMP_LEN;
		if (memcmp(buf + pos, texts[i], tlen) != 0 || buf[pos + (long)tlen] != '\n')
			fail_msg("line %zu: \"%.*s\", want \"%s\\n\"", i, (int)(len - pos),
				 buf + pos, texts[i]);
		pos += (long)tlen + 1;
	}
	if (pos != len)
		fail_msg("%ld bytes left over: \"%.*s\"", len - pos, (int)(len - pos), buf + pos);
}

/* A log with one listener, as a reader of mnt/events would make it. */
static struct evlog *listened_log(void)
{
	struct evlog *log = evlog_new(NULL);

	assert_non_null(log);
	evlog_subscribe(log);
	return log;
}

static void close_log(struct evlog *log)
{
	evlog_unsubscribe(log);
	evlog_free(log);
}

/* ---- tests ------------------------------------------------------------ */

static void test_free_null(void **state)
{
	(void)state;
	evlog_free(NULL);
}

static void test_read_from_tail(void **state)
{
	static const char *const texts[] = { "pid 4242 (cat) read A -> 42", "second 7",
					     "ctl \"DIV A B\" -> error: division by zero" };
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log), start = cursor;
	char buf[1024];

	(void)state;
	assert_int_equal(start.offset, 0);
	assert_false(evlog_ready(log, &cursor));
	evlog_append(log, "pid %d (%s) read %c -> %d", 4242, "cat", 'A', 42);
	assert_true(evlog_ready(log, &cursor));
	evlog_append(log, "second %d", 7);
	evlog_append(log, "ctl \"%s\" -> error: %s", "DIV A B", "division by zero");
	assert_int_equal(evlog_tail(log).seq, start.seq + 3);

	check_lines(buf, evlog_read(log, &cursor, buf, sizeof(buf)), texts, 3);
	assert_int_equal(cursor.seq, start.seq + 3);
	assert_int_equal(cursor.offset, 0);
	assert_false(evlog_ready(log, &cursor));

	/* nothing new */
	assert_int_equal(evlog_read(log, &cursor, buf, sizeof(buf)), 0);
	assert_int_equal(cursor.seq, start.seq + 3);
	close_log(log);
}

/* A cursor taken after the lines (a new reader: "now") sees none of them,
 * only what comes next. */
static void test_cursor_starts_now(void **state)
{
	static const char *const next[] = { "new" };
	struct evlog *log = listened_log();
	struct evlog_cursor cursor;
	char buf[256];

	(void)state;
	evlog_append(log, "old 1");
	evlog_append(log, "old 2");
	cursor = evlog_tail(log);
	assert_false(evlog_ready(log, &cursor));
	assert_int_equal(evlog_read(log, &cursor, buf, sizeof(buf)), 0);
	evlog_append(log, "new");
	check_lines(buf, evlog_read(log, &cursor, buf, sizeof(buf)), next, 1);
	close_log(log);
}

/* Two readers have their own cursors. */
static void test_independent_cursors(void **state)
{
	static const char *const both[] = { "one", "two" };
	static const char *const second[] = { "two" };
	struct evlog *log = listened_log();
	struct evlog_cursor a = evlog_tail(log), b;
	char buf[256];

	(void)state;
	evlog_append(log, "one");
	b = evlog_tail(log);
	evlog_append(log, "two");
	check_lines(buf, evlog_read(log, &b, buf, sizeof(buf)), second, 1);
	check_lines(buf, evlog_read(log, &a, buf, sizeof(buf)), both, 2);
	close_log(log);
}

/* Whole lines only, as many as fit: room for one and a half lines gives
 * one, and exactly one line's size is enough. */
static void test_whole_lines_only(void **state)
{
	static const char *const first[] = { "first line" };
	static const char *const second[] = { "the second line" };
	const size_t len1 = STAMP_LEN + 10 + 1, len2 = STAMP_LEN + 15 + 1;
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log), start = cursor;
	char buf[256];

	(void)state;
	evlog_append(log, "first line");
	evlog_append(log, "the second line");

	check_lines(buf, evlog_read(log, &cursor, buf, len1 + len2 / 2), first, 1);
	assert_int_equal(cursor.seq, start.seq + 1);
	assert_int_equal(cursor.offset, 0);
	assert_true(evlog_ready(log, &cursor));

	check_lines(buf, evlog_read(log, &cursor, buf, len2), second, 1);
	assert_int_equal(cursor.seq, start.seq + 2);
	assert_false(evlog_ready(log, &cursor));
	close_log(log);
}

/* Only when the buffer cannot hold the next line does a read return part
 * of it; the rest comes next, so a reader with a tiny buffer still gets the
 * whole stream. */
static void test_tiny_buffer_gets_pieces(void **state)
{
	static const char *const texts[] = { "first line", "the second line" };
	static const size_t sizes[] = { 1, 2, 7, STAMP_LEN + 10 };
	const size_t len1 = STAMP_LEN + 10 + 1;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct evlog *log = listened_log();
		struct evlog_cursor cursor = evlog_tail(log);
		char all[256], buf[64];
		size_t total = 0, n;

		evlog_append(log, "first line");
		evlog_append(log, "the second line");

		/* the first read is a piece of the first line, not an error */
		n = evlog_read(log, &cursor, buf, sizes[i]);
		assert_int_equal(n, sizes[i]);
		assert_true(evlog_ready(log, &cursor));
		memcpy(all, buf, n);
		total = n;
		while ((n = evlog_read(log, &cursor, buf, sizes[i])) > 0) {
			assert_true(n <= sizes[i]);
			assert_true(total + n <= sizeof(all));
			memcpy(all + total, buf, n);
			total += n;
		}
		check_lines(all, total, texts, 2);
		assert_false(evlog_ready(log, &cursor));

		/* after a piece, a big buffer gets the rest of the line */
		cursor = evlog_tail(log);
		evlog_append(log, "first line");
		n = evlog_read(log, &cursor, buf, sizes[i]);
		memcpy(all, buf, n);
		total = n;
		total += evlog_read(log, &cursor, all + total, sizeof(all) - total);
		assert_int_equal(total, len1);
		check_lines(all, total, texts, 1);
		close_log(log);
	}
}

/* Reads everything from *cursor, in pieces of size bytes, into a heap text. */
static char *read_all(struct evlog *log, struct evlog_cursor *cursor, size_t size,
		      long *total)
{
	char *all = NULL, *buf = malloc(size);
	size_t n;

	assert_non_null(buf);
	*total = 0;
	while ((n = evlog_read(log, cursor, buf, size)) > 0) {
		assert_true(n <= size);
		all = realloc(all, (size_t)*total + n + 1);
		assert_non_null(all);
		memcpy(all + *total, buf, n);
		*total += (long)n;
	}
	free(buf);
	if (all == NULL)
		all = calloc(1, 1);
	all[*total] = '\0';
	return all;
}

/* The next line of text at *pos, NUL-terminated in place. */
static char *next_line(char *text, long *pos, long total)
{
	char *line = text + *pos, *nl;

	if (*pos >= total)
		return NULL;
	nl = memchr(line, '\n', (size_t)(total - *pos));
	assert_non_null(nl);
	*nl = '\0';
	*pos = nl - text + 1;
	return line;
}

/* True when the decimal number n stands alone somewhere in line. */
static bool mentions_number(const char *line, unsigned long n)
{
	char want[32];
	size_t wl = (size_t)snprintf(want, sizeof(want), "%lu", n);

	for (const char *p = strstr(line, want); p; p = strstr(p + 1, want)) {
		bool before = p == line || !isdigit((unsigned char)p[-1]);
		bool after = !isdigit((unsigned char)p[wl]);

		if (before && after)
			return true;
	}
	return false;
}

/* Appends count lines "line I" and reads them back from a cursor taken
 * before; expects missed lines lost and the rest in order. */
static void check_fall_behind(unsigned long count, unsigned long missed, size_t bufsize)
{
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log);
	unsigned long expect = missed;
	long total, pos = 0;
	char *text, *line;

	for (unsigned long i = 0; i < count; i++)
		evlog_append(log, "line %lu", i);
	assert_true(evlog_ready(log, &cursor));
	text = read_all(log, &cursor, bufsize, &total);
	assert_int_equal(cursor.seq, evlog_tail(log).seq);
	assert_false(evlog_ready(log, &cursor));

	if (missed) {
		line = next_line(text, &pos, total);
		assert_non_null(line);
		if (!mentions_number(line, missed) || strstr(line, "line ") == line + STAMP_LEN)
			fail_msg("%lu lines read %zu bytes at a time: first line \"%s\" does "
				 "not say %lu lines were missed", count, bufsize, line, missed);
	}
	while ((line = next_line(text, &pos, total)) != NULL) {
		char want[32];

		snprintf(want, sizeof(want), "line %lu", expect);
		if (!has_stamp(line, strlen(line)) || strcmp(line + STAMP_LEN, want) != 0)
			fail_msg("%lu lines read %zu bytes at a time: got \"%s\", want "
				 "\"HH:MM:SS.mmm %s\"", count, bufsize, line, want);
		expect++;
	}
	assert_int_equal(expect, count);
	free(text);
	close_log(log);
}

static void test_fall_behind(void **state)
{
	static const struct {
		unsigned long count, missed;
		size_t bufsize;
	} cases[] = {
		{ EVLOG_SLOTS, 0, 4096 },          /* just kept */
		{ EVLOG_SLOTS + 1, 1, 4096 },      /* just lost one */
		{ EVLOG_SLOTS + 10, 10, 4096 },
		{ EVLOG_SLOTS + 10, 10, 128 },     /* a few lines per read */
		{ EVLOG_SLOTS + 10, 10, 5 },       /* pieces of lines */
		{ 3 * EVLOG_SLOTS + 5, 2 * EVLOG_SLOTS + 5, 1 << 20 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_fall_behind(cases[i].count, cases[i].missed, cases[i].bufsize);
}

static void test_wanted(void **state)
{
	struct evlog *log = evlog_new(NULL);

	(void)state;
	assert_non_null(log);
	assert_false(evlog_wanted(log));
	assert_int_equal(evlog_listeners(log), 0);
	evlog_subscribe(log);
	assert_true(evlog_wanted(log));
	assert_int_equal(evlog_listeners(log), 1);
	evlog_subscribe(log);
	assert_int_equal(evlog_listeners(log), 2);
	evlog_unsubscribe(log);
	assert_true(evlog_wanted(log));
	assert_int_equal(evlog_listeners(log), 1);
	evlog_unsubscribe(log);
	assert_false(evlog_wanted(log));
	assert_int_equal(evlog_listeners(log), 0);
	evlog_free(log);
}

/* A console sees every line as it is appended, and makes lines wanted. */
static void test_console(void **state)
{
	static const char *const texts[] = { "pid 1 (sh) write A -> 5", "second" };
	FILE *console = tmpfile();
	struct evlog *log;
	char buf[512];
	size_t n;

	(void)state;
	assert_non_null(console);
	log = evlog_new(console);
	assert_non_null(log);
	assert_true(evlog_wanted(log));
	assert_int_equal(evlog_listeners(log), 0); /* the console is not a listener */

	evlog_append(log, "pid %d (%s) write A -> %d", 1, "sh", 5);
	evlog_append(log, "second");
	fflush(console);
	rewind(console);
	n = fread(buf, 1, sizeof(buf), console);
	check_lines(buf, n, texts, 2);

	evlog_free(log);
	fclose(console);
}

static void count_notify(void *arg)
{
	(*(int *)arg)++;
}

static void test_notify(void **state)
{
	struct evlog *log = listened_log();
	int calls = 0, other = 0;

	(void)state;
	evlog_append(log, "before the hook");
	evlog_set_notify(log, count_notify, &calls);
	for (int i = 0; i < 5; i++) {
		evlog_append(log, "event %d", i);
		assert_int_equal(calls, i + 1);
	}
	/* one hook: setting another replaces it */
	evlog_set_notify(log, count_notify, &other);
	evlog_append(log, "to the other");
	assert_int_equal(calls, 5);
	assert_int_equal(other, 1);
	/* with no listener counted in, nobody waits to be told */
	evlog_unsubscribe(log);
	evlog_append(log, "nobody listens");
	assert_int_equal(other, 1);
	evlog_subscribe(log);
	/* NULL clears it */
	evlog_set_notify(log, NULL, NULL);
	evlog_append(log, "nobody told");
	assert_int_equal(other, 1);
	close_log(log);
}

/* The hook runs outside the log's lock: it may read the log. */
struct reentry {
	struct evlog *log;
	struct evlog_cursor cursor;
	size_t got;
};

static void read_in_notify(void *arg)
{
	struct reentry *r = arg;
	char buf[512];

	r->got += evlog_read(r->log, &r->cursor, buf, sizeof(buf));
	(void)evlog_tail(r->log);
	(void)evlog_wanted(r->log);
}

static void test_notify_may_use_log(void **state)
{
	struct reentry r;

	(void)state;
	r.log = listened_log();
	r.cursor = evlog_tail(r.log);
	r.got = 0;
	evlog_set_notify(r.log, read_in_notify, &r);
	evlog_append(r.log, "abc");
	assert_int_equal(r.got, STAMP_LEN + 3 + 1);
	close_log(r.log);
}

/* Long lines are cut to EVLOG_LINE_MAX and end with "..."; short ones are
 * kept whole. */
static void test_long_line_cut(void **state)
{
	static const size_t lengths[] = { 300, 1000, 10000 };
	struct evlog *log = listened_log();

	(void)state;
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char *text = malloc(lengths[i] + 1);
		struct evlog_cursor cursor = evlog_tail(log);
		char buf[4096];
		size_t n;

		assert_non_null(text);
		for (size_t j = 0; j < lengths[i]; j++)
			text[j] = (char)('a' + j % 26);
		text[lengths[i]] = '\0';
		evlog_append(log, "%s", text);
		n = evlog_read(log, &cursor, buf, sizeof(buf));

		assert_true(n > STAMP_LEN + 4);
		/* EVLOG_LINE_MAX may or may not count the stamp and newline */
		assert_true(n <= STAMP_LEN + EVLOG_LINE_MAX + 1);
		assert_true(has_stamp(buf, (size_t)n));
		assert_int_equal(buf[n - 1], '\n');
		assert_memory_equal(buf + n - 4, "...", 3);
		/* what is kept is the start of the text */
		assert_memory_equal(buf + STAMP_LEN, text, n - 4 - STAMP_LEN);
		assert_int_equal(evlog_read(log, &cursor, buf, sizeof(buf)), 0);
		free(text);
	}
	{
		static const char *const short_one[] = { "short and whole" };
		struct evlog_cursor cursor = evlog_tail(log);
		char buf[256];

		evlog_append(log, "short and whole");
		check_lines(buf, evlog_read(log, &cursor, buf, sizeof(buf)), short_one, 1);
	}
	close_log(log);
}

/* Concurrent appenders: every line arrives once and whole. */
enum { APPENDERS = 4, APPENDS = 200 };

static void *append_many(void *arg)
{
	struct evlog *log = ((void **)arg)[0];
	int id = (int)(intptr_t)((void **)arg)[1];

	for (int i = 0; i < APPENDS; i++)
		evlog_append(log, "thread %d event %d", id, i);
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log);
	void *args[APPENDERS][2];
	pthread_t t[APPENDERS];
	int next[APPENDERS] = { 0 };
	long total, pos = 0;
	char *text, *line;

	(void)state;
	for (int i = 0; i < APPENDERS; i++) {
		args[i][0] = log;
		args[i][1] = (void *)(intptr_t)i;
		assert_int_equal(pthread_create(&t[i], NULL, append_many, args[i]), 0);
	}
	for (int i = 0; i < APPENDERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);

	text = read_all(log, &cursor, 1000, &total);
	while ((line = next_line(text, &pos, total)) != NULL) {
		int id, ev;

		if (!has_stamp(line, strlen(line)) ||
		    sscanf(line + STAMP_LEN, "thread %d event %d", &id, &ev) != 2 || id < 0 ||
		    id >= APPENDERS)
			fail_msg("bad line \"%s\"", line);
		/* one thread's lines keep their order */
		if (ev != next[id])
			fail_msg("thread %d: event %d, want %d", id, ev, next[id]);
		next[id]++;
	}
	for (int i = 0; i < APPENDERS; i++)
		assert_int_equal(next[i], APPENDS);
	free(text);
	close_log(log);
}


/* The whole console, read back from the start. */
static char *console_text(FILE *console, long *total)
{
	char *text;

	fflush(console);
	*total = ftell(console);
	assert_true(*total >= 0);
	text = malloc((size_t)*total + 1);
	assert_non_null(text);
	rewind(console);
	assert_int_equal(fread(text, 1, (size_t)*total, console), (size_t)*total);
	text[*total] = '\0';
	return text;
}

/* Starting: a no-op without a console, once only with one. */
static void test_start(void **state)
{
	struct evlog *quiet = evlog_new(NULL), *log;
	FILE *console = tmpfile();

	(void)state;
	assert_non_null(quiet);
	assert_int_equal(evlog_start(quiet), 0);
	evlog_free(quiet);

	assert_non_null(console);
	log = evlog_new(console);
	assert_non_null(log);
	assert_int_equal(evlog_start(log), 0);
	assert_int_equal(evlog_start(log), -EALREADY);
	evlog_free(log);
	fclose(console);
}

/* Once started, the thread writes the console: lines appended before the
 * start and after it, far more than the ring holds, all arrive in order by
 * the end of evlog_free; readers still see the ring. */
static void test_console_thread_loses_nothing(void **state)
{
	static const char *const texts[] = { "last" };
	const unsigned long count = 5 * EVLOG_SLOTS;
	FILE *console = tmpfile();
	struct evlog *log;
	struct evlog_cursor cursor;
	unsigned long expect = 0;
	long total, pos = 0;
	char *text, *line, buf[256];

	(void)state;
	assert_non_null(console);
	log = evlog_new(console);
	assert_non_null(log);
	evlog_subscribe(log);
	evlog_append(log, "line %lu", expect++);
	assert_int_equal(evlog_start(log), 0);
	while (expect < count)
		evlog_append(log, "line %lu", expect++);
	cursor = evlog_tail(log);
	evlog_append(log, "last");
	check_lines(buf, evlog_read(log, &cursor, buf, sizeof(buf)), texts, 1);
	close_log(log);

	text = console_text(console, &total);
	expect = 0;
	while ((line = next_line(text, &pos, total)) != NULL) {
		char want[32];

		snprintf(want, sizeof(want), expect < count ? "line %lu" : "last", expect);
		if (!has_stamp(line, strlen(line)) || strcmp(line + STAMP_LEN, want) != 0)
			fail_msg("console line %lu: \"%s\", want \"HH:MM:SS.mmm %s\"", expect,
				 line, want);
		expect++;
	}
	assert_int_equal(expect, count + 1);
	free(text);
	fclose(console);
}

/* Concurrent appenders with the thread writing: every line arrives on the
 * console once and whole, each thread's in its order. */
static void test_console_thread_concurrent(void **state)
{
	FILE *console = tmpfile();
	struct evlog *log;
	void *args[APPENDERS][2];
	pthread_t t[APPENDERS];
	int next[APPENDERS] = { 0 };
	long total, pos = 0;
	char *text, *line;

	(void)state;
	assert_non_null(console);
	log = evlog_new(console);
	assert_non_null(log);
	assert_int_equal(evlog_start(log), 0);
	for (int i = 0; i < APPENDERS; i++) {
		args[i][0] = log;
		args[i][1] = (void *)(intptr_t)i;
		assert_int_equal(pthread_create(&t[i], NULL, append_many, args[i]), 0);
	}
	for (int i = 0; i < APPENDERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	evlog_free(log);

	text = console_text(console, &total);
	while ((line = next_line(text, &pos, total)) != NULL) {
		int id, ev;

		if (!has_stamp(line, strlen(line)) ||
		    sscanf(line + STAMP_LEN, "thread %d event %d", &id, &ev) != 2 || id < 0 ||
		    id >= APPENDERS || ev != next[id])
			fail_msg("bad console line \"%s\"", line);
		next[id]++;
	}
	for (int i = 0; i < APPENDERS; i++)
		assert_int_equal(next[i], APPENDS);
	free(text);
	fclose(console);
}

/* This process's command name, as /proc shows it. */
static void own_name(char *name, size_t size)
{
	FILE *f = fopen("/proc/self/comm", "r");

	assert_non_null(f);
	assert_non_null(fgets(name, (int)size, f));
	name[strcspn(name, "\n")] = '\0';
	fclose(f);
}

/* The pid of a process that has ended. */
static int gone_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return (int)pid;
}

/* A client's line names it, "?" when it is gone; a control character in
 * its text is no second line. */
static void test_client_lines(void **state)
{
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log);
	char name[32], me[80], gone[64], buf[512];
	const char *texts[] = { me, gone };
	int dead = gone_pid();

	(void)state;
	own_name(name, sizeof(name));
	snprintf(me, sizeof(me), "pid %d (%s) write A \"5\" -> ok", (int)getpid(), name);
	snprintf(gone, sizeof(gone), "pid %d (?) read B?C -> 1", dead);
	evlog_append_client(log, (int)getpid(), "write A \"5\" -> ok", 17);
	evlog_append_client(log, dead, "read B\nC -> 1 and more", 13);
	check_lines(buf, evlog_read(log, &cursor, buf, sizeof(buf)), texts, 2);
	close_log(log);
}

/* A name is looked up once and reused for that pid's lines; a second
 * later it is looked up again. */
static void test_client_name_remembered(void **state)
{
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log);
	char name[32], before[64], after[64], buf[512];
	const char *texts[] = { before, before, after };

	(void)state;
	own_name(name, sizeof(name));
	snprintf(before, sizeof(before), "pid %d (%s) x", (int)getpid(), name);
	snprintf(after, sizeof(after), "pid %d (renamed) x", (int)getpid());
	evlog_append_client(log, (int)getpid(), "x", 1);
	assert_int_equal(prctl(PR_SET_NAME, "renamed"), 0);
	evlog_append_client(log, (int)getpid(), "x", 1);
	usleep(1100 * 1000);
	evlog_append_client(log, (int)getpid(), "x", 1);
	assert_int_equal(prctl(PR_SET_NAME, name), 0);
	check_lines(buf, evlog_read(log, &cursor, buf, sizeof(buf)), texts, 3);
	close_log(log);
}

/* A client's long text is cut like any line. */
static void test_client_line_cut(void **state)
{
	struct evlog *log = listened_log();
	struct evlog_cursor cursor = evlog_tail(log);
	char text[1000], buf[1024];
	size_t n;

	(void)state;
	memset(text, 'q', sizeof(text));
	evlog_append_client(log, (int)getpid(), text, sizeof(text));
	n = evlog_read(log, &cursor, buf, sizeof(buf));
	assert_true(n <= EVLOG_LINE_MAX);
	assert_true(has_stamp(buf, n));
	assert_memory_equal(buf + n - 4, "...\n", 4);
	assert_int_equal(buf[n - 5], 'q');
	close_log(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_read_from_tail),
		cmocka_unit_test(test_cursor_starts_now),
		cmocka_unit_test(test_independent_cursors),
		cmocka_unit_test(test_whole_lines_only),
		cmocka_unit_test(test_tiny_buffer_gets_pieces),
		cmocka_unit_test(test_fall_behind),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_notify_may_use_log),
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_concurrent_appends),
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_console_thread_loses_nothing),
		cmocka_unit_test(test_console_thread_concurrent),
		cmocka_unit_test(test_client_lines),
		cmocka_unit_test(test_client_name_remembered),
		cmocka_unit_test(test_client_line_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
