/* test_state.c - unit tests of the state object (fs/engine/state.h):
 * registers and cells, batches through state_execute and state_run with
 * their replies (printed when asked), all-or-nothing failures, the stats
 * counters, the replay of the same records into a second state, queue
 * ids, and concurrent writers and readers.
 *
 * No file log is attached: the state keeps its records in its memory log.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../fs/log/memory.h"
#include "reply.h"
#include "state.h"

#define R(letter) ((letter) - 'A')
#define NCELLS 256
#define SHARED_PER_STATS 2 /* a stats text reads its counters and its digest */
#define SHARED_AT_BEGIN 2  /* state_begin looks at the sessions and the cells */

/* ---- helpers ---------------------------------------------------------- */

/* A state with its session begun and ncells cells. */
static struct state *new_state(size_t ncells)
{
	struct state *st = state_new(NULL);
	char msg[160];

	if (st && state_begin(st, 1, ncells, msg, sizeof(msg)) != 0) {
		state_free(st);
		return NULL;
	}
	return st;
}

static int setup(void **state)
{
	*state = new_state(NCELLS);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	state_free(*state);
	return 0;
}

/* The text of *r in *text (the caller frees it) and its length; frees *r. */
static void print_reply(struct reply *r, char **text, size_t *len)
{
	assert_non_null(r);
	assert_int_equal(reply_text(r, text, len), 0);
	reply_free(r);
}

/* state_execute with the reply printed, as a client reading mnt/ctl sees it. */
static int execute_text(struct state *st, const char *text, size_t len, uint32_t pid,
			char **reply, size_t *reply_len, struct isa_error *err)
{
	struct reply *r;
	int rc = state_execute(st, text, len, pid, &r, err);

	print_reply(r, reply, reply_len);
	return rc;
}

/* state_run with the reply printed. */
static int run_text(struct state *st, const struct isa_insn *insns, size_t count,
		    uint32_t pid, char **reply, size_t *reply_len, struct isa_error *err)
{
	struct reply *r = NULL;
	int rc = state_run(st, insns, count, pid, &r, err);

	print_reply(r, reply, reply_len);
	return rc;
}

/* Runs text through state_execute; returns rc and, in *reply, the reply
 * (the caller frees it).  Checks reply_len against the text. */
static int execute(struct state *st, const char *text, char **reply, struct isa_error *err)
{
	size_t len = 12345;
	int rc;

	*reply = NULL;
	memset(err, 0, sizeof(*err));
	rc = execute_text(st, text, strlen(text), 0, reply, &len, err);
	assert_non_null(*reply);
	assert_int_equal(len, strlen(*reply));
	return rc;
}

/* Runs text that must succeed, and checks its reply. */
static void execute_ok(struct state *st, const char *text, const char *want_reply)
{
	struct isa_error err;
	char *reply;
	int rc = execute(st, text, &reply, &err);

	if (rc != 0)
		fail_msg("\"%s\": rc %d, reply \"%s\"", text, rc, reply);
	if (want_reply && strcmp(reply, want_reply) != 0)
		fail_msg("\"%s\": reply \"%s\", want \"%s\"", text, reply, want_reply);
	free(reply);
}

static int64_t cell(struct state *st, size_t n)
{
	int64_t v = 12345;

	assert_int_equal(state_read_cell(st, n, &v), 0);
	return v;
}

/* One named value of the stats text; fails when it is absent. */
static int64_t stat_of(const char *stats, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = stats; *p; ) {
		const char *nl = strchr(p, '\n');
		size_t llen = nl ? (size_t)(nl - p) : strlen(p);

		if (llen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == ' ') {
			char *end;
			long long v = strtoll(p + nlen + 1, &end, 10);

			if (end != p + llen || end == p + nlen + 1)
				fail_msg("stat \"%.*s\" is not `name integer`", (int)llen, p);
			return v;
		}
		p += llen + (nl != NULL);
	}
	fail_msg("no stat \"%s\" in:\n%s", name, stats);
	return -1;
}

struct stats {
	char text[8192];
	int calls; /* how many times state_format_stats ran */
};

static const char *take_stats(struct state *st, struct stats *s)
{
	int n = state_format_stats(st, s->text, sizeof(s->text));

	s->calls++;
	assert_true(n > 0 && (size_t)n < sizeof(s->text));
	assert_int_equal(strlen(s->text), n);
	return s->text;
}

/* ---- tests ------------------------------------------------------------ */

static void test_free_null(void **state)
{
	(void)state;
	state_free(NULL);
}

static void test_new_state_is_zero(void **state)
{
	static const size_t sizes[] = { 1, 16, STATE_DEFAULT_CELLS, STATE_MAX_CELLS };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct state *st = new_state(sizes[i]);
		int64_t regs[ISA_REGISTERS], v = 1;

		assert_non_null(st);
		assert_int_equal(state_ncells(st), sizes[i]);
		assert_non_null(state_evlog(st));
		for (int r = 0; r < ISA_REGISTERS; r++)
			assert_int_equal(state_read_register(st, r), 0);
		memset(regs, 0xff, sizeof(regs));
		state_read_registers(st, regs);
		for (int r = 0; r < ISA_REGISTERS; r++)
			assert_int_equal(regs[r], 0);
		assert_int_equal(cell(st, 0), 0);
		assert_int_equal(cell(st, sizes[i] - 1), 0);
		assert_int_equal(state_read_cell(st, sizes[i], &v), -ENXIO);
		assert_int_equal(v, 1);
		assert_int_equal(state_read_cell(st, SIZE_MAX, &v), -ENXIO);
		state_free(st);
	}
}

/* Batches that succeed, with their exact replies. */
static void test_execute_replies(void **state)
{
	static const struct {
		const char *text;
		const char *reply;
	} steps[] = {
		{ "SET A 5\nADD A 2", "ok SET A 5 -> A=5\nok ADD A 2 -> A=7\n" },
		{ "add 27 n\n", "ok ADD N 27 -> N=27\n" },
		{ "MOV A B", "ok MOV A B -> B=7\n" },
		{ "MOV 9 C", "ok MOV 9 C -> C=9\n" },
		{ "SUB 3 B\nMUL B 10\nDIV B -3", "ok SUB B 3 -> B=4\nok MUL B 10 -> B=40\n"
						 "ok DIV B -3 -> B=-13\n" },
		{ "SET 97 I", "ok SET I 97 -> I=97\n" },
		{ "WRITE A 100", "ok WRITE A 100 -> mem/100=7\n" },
		{ "WRITE 100 I", "ok WRITE I 100 -> mem/100=97\n" },
		{ "WRITE 7 255", "ok WRITE 7 255 -> mem/255=7\n" },
		{ "READ 100 D", "ok READ D 100 -> D=97\n" },
		{ "# comments and\r\n\r\n  read e 255  # blanks\r\n", "ok READ E 255 -> E=7\n" },
		{ "SET Z -9223372036854775808", "ok SET Z -9223372036854775808 -> "
						"Z=-9223372036854775808\n" },
	};
	struct state *st = *state;
	int64_t regs[ISA_REGISTERS];

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		execute_ok(st, steps[i].text, steps[i].reply);

	state_read_registers(st, regs);
	assert_int_equal(regs[R('A')], 7);
	assert_int_equal(regs[R('B')], -13);
	assert_int_equal(regs[R('C')], 9);
	assert_int_equal(regs[R('D')], 97);
	assert_int_equal(regs[R('E')], 7);
	assert_int_equal(regs[R('I')], 97);
	assert_int_equal(regs[R('N')], 27);
	assert_int_equal(regs[R('Z')], INT64_MIN);
	assert_int_equal(state_read_register(st, R('Z')), INT64_MIN);
	assert_int_equal(cell(st, 100), 97);
	assert_int_equal(cell(st, 255), 7);
	assert_int_equal(cell(st, 0), 0);
}

/* A batch of only comments and blanks is a successful no-op. */
static void test_execute_empty_batch(void **state)
{
	struct state *st = *state;
	const char *text = "# nothing\n\n";
	size_t len = 12345;
	char *reply = NULL;

	assert_int_equal(execute_text(st, text, strlen(text), 0, &reply, &len, NULL), 0);
	/* "receives a malloc'd text": an empty one, not NULL */
	if (reply == NULL)
		fail_msg("empty batch: reply is NULL, want \"\" (len %zu)", len);
	assert_string_equal(reply, "");
	assert_int_equal(len, 0);
	free(reply);
	assert_int_equal(state_execute(st, "", 0, 0, NULL, NULL), 0);
}

/* Failing batches: the rc, the reply's one line, err, and nothing
 * changed.  Each starts from A=10, B=20, cell 5 = 50. */
static void test_execute_failures(void **state)
{
	static const struct {
		const char *text;
		int rc;
		unsigned line;
		const char *reply; /* exact, or a prefix when it ends in ": " */
	} cases[] = {
		{ "SET A 1\nDIV A Z", -EDOM, 2, "error line 2: DIV A Z: division by zero\n" },
		{ "WRITE 1 5\nSET B 2\n\nDIV B 0", -EDOM, 4,
		  "error line 4: DIV B 0: division by zero\n" },
		{ "SET A 9223372036854775807\nADD A 1", -ERANGE, 2, "error line 2: ADD A 1: " },
		{ "SET A -9223372036854775808\nDIV A -1", -ERANGE, 2,
		  "error line 2: DIV A -1: " },
		{ "SET A 1\nWRITE A 256", -ENXIO, 2, "error line 2: WRITE A 256: " },
		{ "READ A 256", -ENXIO, 1, "error line 1: READ A 256: " },
		/* parse errors: nothing runs, not even the lines before */
		{ "SET A 1\nFOO A 1", -EINVAL, 2, "error line 2: " },
		{ "SET A 1\n# c\nSET A B", -EINVAL, 3, "error line 3: " },
		{ "SET A 1\nADD 1 2", -EINVAL, 2, "error line 2: " },
		{ "SET A 1\nSET B 9223372036854775808", -ERANGE, 2, "error line 2: " },
	};
	struct state *st = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i].reply;
		size_t wlen = strlen(want);
		int64_t before[ISA_REGISTERS], after[ISA_REGISTERS];
		struct isa_error err;
		char *reply;
		int rc;

		execute_ok(st, "SET A 10\nSET B 20\nWRITE 50 5", NULL);
		state_read_registers(st, before);

		rc = execute(st, cases[i].text, &reply, &err);
		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].text, rc, cases[i].rc);
		if (want[wlen - 2] == ':' ? strncmp(reply, want, wlen) != 0
					  : strcmp(reply, want) != 0)
			fail_msg("\"%s\": reply \"%s\", want \"%s\"", cases[i].text, reply, want);
		if (strchr(reply, '\n') != reply + strlen(reply) - 1)
			fail_msg("\"%s\": reply \"%s\" is not one line", cases[i].text, reply);
		if (err.line != cases[i].line || err.errnum != -cases[i].rc)
			fail_msg("\"%s\": err {%d, line %u}, want {%d, line %u}", cases[i].text,
				 err.errnum, err.line, -cases[i].rc, cases[i].line);
		free(reply);

		state_read_registers(st, after);
		if (memcmp(before, after, sizeof(before)) != 0)
			fail_msg("\"%s\" failed but changed a register", cases[i].text);
		if (cell(st, 5) != 50 || cell(st, 1) != 0)
			fail_msg("\"%s\" failed but changed a cell", cases[i].text);
	}
}

/* A reply is printed when asked, from what its batch did then: later
 * batches change nothing in it, and it prints the same text every time. */
static void test_reply_printed_later(void **state)
{
	struct state *st = *state;
	const char *first = "SET A 5\nADD A 1\nWRITE A 3", *second = "SET A 100\nWRITE 7 3";
	const char *want = "ok SET A 5 -> A=5\nok ADD A 1 -> A=6\nok WRITE A 3 -> mem/3=6\n";
	struct reply *kept, *later;
	char *text, *again;
	size_t len, len_again;

	assert_int_equal(state_execute(st, first, strlen(first), 0, &kept, NULL), 0);
	assert_int_equal(state_execute(st, second, strlen(second), 0, &later, NULL), 0);
	assert_int_equal(reply_text(kept, &text, &len), 0);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(reply_text(kept, &again, &len_again), 0);
	assert_string_equal(again, want);
	free(text);
	free(again);
	print_reply(later, &text, &len);
	assert_string_equal(text, "ok SET A 100 -> A=100\nok WRITE 7 3 -> mem/3=7\n");
	free(text);
	reply_free(kept);
}

/* The error replies, word for word: a refusal names the instruction and
 * the client's line, a parse error its line, a limit no line at all. */
static void test_reply_errors(void **state)
{
	static const struct {
		const char *text, *reply;
	} cases[] = {
		{ "# c\n\nSET A 1\n  div a 0", "error line 4: DIV A 0: division by zero\n" },
		{ "SET A 1\nMOV 1 2", "error line 2: MOV needs a register operand\n" },
		{ "ADD A 1\nFOO", "error line 2: unknown instruction 'FOO'\n" },
		{ "READ B 256", "error line 1: READ B 256: cell 256 out of range 0..255\n" },
	};
	struct state *st = *state;
	struct isa_error err;
	char *reply, *big;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_not_equal(execute_text(st, cases[i].text, strlen(cases[i].text), 0,
						  &reply, &len, &err), 0);
		assert_string_equal(reply, cases[i].reply);
		assert_int_equal(len, strlen(cases[i].reply));
		free(reply);
	}
	big = calloc(ISA_MAX_BATCH_BYTES + 1, 1);
	assert_non_null(big);
	assert_int_equal(execute_text(st, big, ISA_MAX_BATCH_BYTES + 1, 0, &reply, &len, &err),
			 -EFBIG);
	assert_string_equal(reply, "error: batch of 65537 bytes is over the 65536 byte limit\n");
	free(reply);
	free(big);
}

/* A reply holds at most the instructions it was made for, and an
 * empty one prints as nothing. */
static void test_reply_alone(void **state)
{
	const struct isa_insn set = { .op = ISA_SET, .reg = R('Q'), .src = { false, 4 },
				      .line = 7 };
	const struct isa_error err = { EDOM, 7, "no reason" };
	struct reply *r = reply_new(&set, 1);
	char *text;
	size_t len;

	(void)state;
	assert_non_null(r);
	reply_note(r, &set, false, R('Q'), 4);
	reply_note(r, &set, false, R('Q'), 5);
	assert_int_equal(reply_text(r, &text, &len), 0);
	assert_string_equal(text, "ok SET Q 4 -> Q=4\n");
	free(text);
	reply_fail(r, &set, &err);
	print_reply(r, &text, &len);
	assert_string_equal(text, "error line 7: SET Q 4: no reason\n");
	free(text);

	r = reply_new(NULL, 0);
	assert_non_null(r);
	assert_int_equal(reply_text(r, &text, &len), 0);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);
	reply_free(r);
	reply_free(NULL);
}

/* A reserved reply holds what was written into its room, up to the count
 * set, and only that many outcomes. */
static void test_reply_reserved(void **state)
{
	struct reply *r = reply_reserve(4);
	struct isa_insn *room;
	const struct isa_insn *kept;
	char *text;
	size_t count, len;

	(void)state;
	assert_non_null(r);
	kept = reply_insns(r, &count);
	assert_int_equal(count, 0);
	room = reply_room(r);
	room[0] = (struct isa_insn){ .op = ISA_SET, .reg = R('A'), .src = { false, 3 }, .line = 2 };
	room[1] = (struct isa_insn){ .op = ISA_ADD, .reg = R('A'), .src = { true, R('A') },
				     .line = 4 };
	reply_set_count(r, 2);
	kept = reply_insns(r, &count);
	assert_ptr_equal(kept, room);
	assert_int_equal(count, 2);
	reply_note(r, &room[0], false, R('A'), 3);
	reply_note(r, &room[1], false, R('A'), 6);
	reply_note(r, &room[1], false, R('A'), 12);
	print_reply(r, &text, &len);
	assert_string_equal(text, "ok SET A 3 -> A=3\nok ADD A A -> A=6\n");
	free(text);
}

/* reply and err may be NULL. */
static void test_execute_without_reply(void **state)
{
	struct state *st = *state;
	const char *ok = "SET A 3", *bad = "DIV A Z";

	assert_int_equal(state_execute(st, ok, strlen(ok), 0, NULL, NULL), 0);
	assert_int_equal(state_read_register(st, R('A')), 3);
	assert_int_equal(state_execute(st, bad, strlen(bad), 0, NULL, NULL), -EDOM);
	assert_int_equal(state_read_register(st, R('A')), 3);
}

static char *repeat_line(const char *line, size_t n, size_t *len)
{
	size_t l = strlen(line);
	char *text = malloc(n * l + 1);

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * l, line, l);
	text[n * l] = '\0';
	*len = n * l;
	return text;
}

/* The batch bounds hold through state_execute, and nothing runs. */
static void test_execute_limits(void **state)
{
	struct state *st = *state;
	struct isa_error err;
	size_t len, reply_len, lines = 0;
	char *text, *reply = NULL;

	text = repeat_line("ADD A 1\n", ISA_MAX_BATCH_LINES, &len);
	assert_int_equal(execute_text(st, text, len, 0, &reply, &reply_len, &err), 0);
	assert_int_equal(state_read_register(st, R('A')), ISA_MAX_BATCH_LINES);
	for (char *p = reply; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, ISA_MAX_BATCH_LINES);
	assert_int_equal(reply_len, strlen(reply));
	assert_string_equal(reply + reply_len - strlen("ok ADD A 1 -> A=1000\n"),
			    "ok ADD A 1 -> A=1000\n");
	free(reply);
	free(text);

	text = repeat_line("ADD A 1\n", ISA_MAX_BATCH_LINES + 1, &len);
	reply = NULL;
	assert_int_equal(execute_text(st, text, len, 0, &reply, &reply_len, &err), -E2BIG);
	assert_int_equal(state_read_register(st, R('A')), ISA_MAX_BATCH_LINES);
	free(reply);
	free(text);

	text = repeat_line("#234567\n", ISA_MAX_BATCH_BYTES / 8 + 1, &len);
	memcpy(text, "ADD A 1", 7);
	reply = NULL;
	assert_int_equal(execute_text(st, text, len, 0, &reply, &reply_len, &err), -EFBIG);
	assert_int_equal(state_read_register(st, R('A')), ISA_MAX_BATCH_LINES);
	free(reply);
	free(text);
}

/* state_run takes parsed instructions directly. */
static void test_apply(void **state)
{
	struct state *st = *state;
	const struct isa_insn ok[] = {
		{ .op = ISA_SET, .reg = R('A'), .src = { false, 6 }, .line = 1 },
		{ .op = ISA_MUL, .reg = R('A'), .src = { true, R('A') }, .line = 2 },
		{ .op = ISA_WRITE, .reg = -1, .src = { true, R('A') }, .cell = 9, .line = 3 },
	};
	const struct isa_insn bad[] = {
		{ .op = ISA_SET, .reg = R('A'), .src = { false, 1 }, .line = 1 },
		{ .op = ISA_WRITE, .reg = -1, .src = { false, 1 }, .cell = 9, .line = 2 },
		{ .op = ISA_READ, .reg = R('B'), .cell = NCELLS, .line = 3 },
	};
	struct isa_error err;
	char *reply = NULL;
	size_t len;

	assert_int_equal(run_text(st, ok, 3, 0, &reply, &len, &err), 0);
	assert_string_equal(reply, "ok SET A 6 -> A=6\nok MUL A A -> A=36\n"
				   "ok WRITE A 9 -> mem/9=36\n");
	assert_int_equal(len, strlen(reply));
	free(reply);

	reply = NULL;
	assert_int_equal(run_text(st, bad, 3, 0, &reply, &len, &err), -ENXIO);
	assert_int_equal(err.line, 3);
	assert_memory_equal(reply, "error line 3: READ B 256: ", 26);
	free(reply);
	assert_int_equal(state_read_register(st, R('A')), 36);
	assert_int_equal(cell(st, 9), 36);

	assert_int_equal(state_run(st, ok, 0, 0, NULL, NULL), 0);
}

/* The counters count exactly what was done. */
static void test_stats_counts(void **state)
{
	static const char *const names[] = {
		"uptime_seconds", "reads", "batches", "batch_errors", "insn_mov", "insn_add",
		"insn_sub", "insn_mul", "insn_div", "insn_set", "insn_read", "insn_write",
		"lock_shared", "lock_exclusive", "lock_readers", "lock_waiting_writers",
		"lock_longest_wait_us", "events_listeners",
	};
	struct state *st = *state;
	struct stats s = { .calls = 0 };
	const char *t = take_stats(st, &s);
	int64_t regs[ISA_REGISTERS];

	/* fresh: every name there, every counter 0 */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int64_t v = stat_of(t, names[i]);

		if (strcmp(names[i], "uptime_seconds") == 0)
			assert_true(v >= 0 && v < 3600);
		else if (strcmp(names[i], "lock_shared") == 0)
			assert_true(v >= 0 && v <= SHARED_PER_STATS * s.calls + SHARED_AT_BEGIN);
		else if (strcmp(names[i], "lock_exclusive") == 0)
			assert_int_equal(v, 1); /* the record that opened the session */
		else if (v != 0)
			fail_msg("fresh state: %s is %" PRId64 ", want 0", names[i], v);
	}

	for (int i = 0; i < 3; i++)
		state_read_register(st, R('A'));
	assert_int_equal(stat_of(take_stats(st, &s), "reads"), 3);
	state_read_registers(st, regs);
	cell(st, 0);
	assert_int_equal(stat_of(take_stats(st, &s), "reads"), 5);

	execute_ok(st, "SET A 5\nADD A 2", NULL);
	execute_ok(st, "MOV A B\nSUB B 1\nMUL B 3\nDIV B 2\nWRITE B 7\nREAD C 7\nADD C C",
		   NULL);
	t = take_stats(st, &s);
	assert_int_equal(stat_of(t, "batches"), 2);
	assert_int_equal(stat_of(t, "batch_errors"), 0);
	assert_int_equal(stat_of(t, "insn_mov"), 1);
	assert_int_equal(stat_of(t, "insn_add"), 2);
	assert_int_equal(stat_of(t, "insn_sub"), 1);
	assert_int_equal(stat_of(t, "insn_mul"), 1);
	assert_int_equal(stat_of(t, "insn_div"), 1);
	assert_int_equal(stat_of(t, "insn_set"), 1);
	assert_int_equal(stat_of(t, "insn_read"), 1);
	assert_int_equal(stat_of(t, "insn_write"), 1);
	assert_int_equal(stat_of(t, "lock_exclusive"), 1 + 2);
	assert_int_equal(stat_of(t, "reads"), 5);
	assert_true(stat_of(t, "lock_shared") >= 5);
	assert_true(stat_of(t, "lock_shared") <= 5 + SHARED_PER_STATS * s.calls + SHARED_AT_BEGIN);
	assert_int_equal(stat_of(t, "lock_readers"), 0);
	assert_int_equal(stat_of(t, "lock_waiting_writers"), 0);
	assert_true(stat_of(t, "lock_longest_wait_us") >= 0);
	assert_int_equal(state_read_register(st, R('C')), 18);

	/* a batch that fails is counted as an error and took the lock */
	assert_int_equal(state_execute(st, "SET A 1\nDIV A Z", 15, 0, NULL, NULL), -EDOM);
	t = take_stats(st, &s);
	assert_int_equal(stat_of(t, "batch_errors"), 1);
	assert_int_equal(stat_of(t, "lock_exclusive"), 1 + 3);
	assert_true(stat_of(t, "batches") == 2 || stat_of(t, "batches") == 3);

	/* listeners of the event log */
	evlog_subscribe(state_evlog(st));
	assert_int_equal(stat_of(take_stats(st, &s), "events_listeners"), 1);
	evlog_unsubscribe(state_evlog(st));
	assert_int_equal(stat_of(take_stats(st, &s), "events_listeners"), 0);
}

/* Every line is `name value`; the return is the length needed. */
static void test_stats_format(void **state)
{
	struct state *st = *state;
	char big[8192], small[8];
	int n = state_format_stats(st, big, sizeof(big));

	assert_true(n > 0);
	assert_int_equal(strlen(big), n);
	assert_int_equal(big[n - 1], '\n');
	for (char *line = big; *line; ) {
		char *nl = strchr(line, '\n'), *sp = strchr(line, ' ');

		assert_non_null(nl);
		if (sp == NULL || sp > nl || sp == line || sp + 1 == nl ||
		    memchr(sp + 1, ' ', (size_t)(nl - sp - 1)) != NULL)
			fail_msg("stats line \"%.*s\" is not `name value`", (int)(nl - line), line);
		line = nl + 1;
	}

	memset(small, '@', sizeof(small));
	assert_int_equal(state_format_stats(st, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, big, sizeof(small) - 1);
}

/* Records replayed into a second state give the same state: the second
 * follows a copy of the first's log, refusals included. */
static void test_replay_gives_the_same_state(void **state)
{
	static const char *const batches[] = {
		"SET A 5\nADD A 1\nWRITE A 3\n", "ADD A 1", "SET B 1\nDIV A Z", "WRITE 1 256",
	};
	struct state *st = *state, *again = state_new(NULL);
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1], msg[160];
	uint64_t at_want, at_got;

	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++)
		state_execute(st, batches[i], strlen(batches[i]), 0, NULL, NULL);
	assert_int_equal(state_read_register(st, R('A')), 7);
	assert_int_equal(state_read_register(st, R('B')), 0);
	assert_int_equal(cell(st, 3), 6);
	assert_int_equal(cell(st, 1), 0);

	assert_non_null(again);
	assert_int_equal(state_attach_log(again, log_memory_copy(state_log(st)), msg,
					  sizeof(msg)), 0);
	assert_int_equal(state_read_register(again, R('A')), 7);
	assert_int_equal(cell(again, 3), 6);
	assert_int_equal(state_digest(st, &at_want, want), 0);
	assert_int_equal(state_digest(again, &at_got, got), 0);
	assert_int_equal(at_got, at_want);
	assert_string_equal(got, want);
	state_free(again);
}

/* A queue's id is the position of the record that made it: a queue made
 * again under a deleted one's name has another id, and operations by the
 * old id are refused; a replay and a snapshot give the same ids. */
static void test_queue_ids(void **state)
{
	struct state *st = *state, *again = state_new(NULL), *loaded = state_new(NULL);
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1], msg[160];
	char item[QUEUE_MAX_ITEM];
	uint64_t old, gone, new, id, ticket, at;
	size_t len;

	assert_non_null(again);
	assert_non_null(loaded);
	assert_int_equal(state_queue_create(st, "q", 1, 0644, 0, 0, 0, &old), 0);
	assert_int_equal(state_queue_push(st, old, "a\n", 2, 0), 0);
	assert_int_equal(state_queue_delete(st, "q", 1, 0, &gone), 0);
	assert_int_equal(gone, old);
	assert_int_equal(state_queue_create(st, "q", 1, 0644, 0, 0, 0, &new), 0);
	assert_true(new > old);
	assert_int_equal(state_queue_push(st, old, "b\n", 2, 0), -ENOENT);
	assert_int_equal(state_queue_pop(st, old, 100, 0, item, &len, &ticket), -ENOENT);
	assert_int_equal(state_queue_seal(st, old, true, 0), -ENOENT);
	assert_int_equal(state_queue_push(st, new, "c\n", 2, 0), 0);
	assert_int_equal(state_queue_pop(st, new, 100, 0, item, &len, &ticket), 0);
	assert_int_equal(state_queue_ack(st, old, ticket), -ENOENT);
	assert_int_equal(state_queue_ack(st, new, ticket), 0);
	assert_int_equal(state_queue_push(st, new, "d\n", 2, 0), 0);

	assert_int_equal(state_attach_log(again, log_memory_copy(state_log(st)), msg,
					  sizeof(msg)), 0);
	assert_int_equal(state_queue_find(again, "q", 1, &id, NULL), 0);
	assert_int_equal(id, new);
	assert_int_equal(state_compact(st), 0);
	assert_int_equal(state_attach_log(loaded, log_memory_copy(state_log(st)), msg,
					  sizeof(msg)), 0);
	assert_int_equal(state_queue_find(loaded, "q", 1, &id, NULL), 0);
	assert_int_equal(id, new);
	assert_int_equal(state_digest(st, &at, want), 0);
	assert_int_equal(state_digest(again, &at, got), 0);
	assert_string_equal(got, want);
	assert_int_equal(state_digest(loaded, &at, got), 0);
	assert_string_equal(got, want);
	state_free(again);
	state_free(loaded);
}

/* A memory log whose appends fail with ENOSPC while full is set. */
struct flaky_log {
	struct log log;
	struct log *inner;
	bool full;
};

static struct log *inner_of(struct log *log)
{
	return ((struct flaky_log *)log)->inner;
}

static int flaky_follow(struct log *log, log_load_fn load, log_deliver_fn deliver, void *arg)
{
	log_set_stamp(inner_of(log), log->stamp, log->stamp_arg);
	return log_follow(inner_of(log), load, deliver, arg);
}

static int flaky_append(struct log *log, const void *rec, size_t len, uint64_t *position)
{
	if (((struct flaky_log *)log)->full)
		return -ENOSPC;
	return log_append(inner_of(log), rec, len, position);
}

static int flaky_sync(struct log *log, uint64_t position)
{
	return log_sync(inner_of(log), position);
}

static bool flaky_wants_compaction(struct log *log)
{
	return log_wants_compaction(inner_of(log));
}

static int flaky_compact(struct log *log, log_save_fn save, void *arg)
{
	return log_compact(inner_of(log), save, arg);
}

static int flaky_format_stats(struct log *log, char *buf, size_t size)
{
	return log_format_stats(inner_of(log), buf, size);
}

static void flaky_close(struct log *log)
{
	log_close(inner_of(log));
	free(log);
}

static const struct log_ops flaky_ops = {
	.follow = flaky_follow,
	.append = flaky_append,
	.sync = flaky_sync,
	.wants_compaction = flaky_wants_compaction,
	.compact = flaky_compact,
	.format_stats = flaky_format_stats,
	.close = flaky_close,
};

static uint64_t held_in(struct state *st, uint64_t id)
{
	struct queue_stats qs;

	assert_int_equal(state_queue_stats(st, id, NULL, &qs), 0);
	return qs.held;
}

/* An acknowledgement the log could not take is proposed again with the
 * next change: the item does not stay held, so a sealed queue still ends. */
static void test_an_unjournaled_ack_is_settled_later(void **state)
{
	struct state *st = *state;
	struct flaky_log *flaky = calloc(1, sizeof(*flaky));
	char item[QUEUE_MAX_ITEM], msg[160];
	uint64_t id, ticket;
	size_t len;

	assert_non_null(flaky);
	flaky->log.ops = &flaky_ops;
	flaky->inner = log_memory_copy(state_log(st));
	assert_int_equal(state_attach_log(st, &flaky->log, msg, sizeof(msg)), 0);
	assert_int_equal(state_queue_create(st, "q", 1, 0644, 0, 0, 0, &id), 0);
	assert_int_equal(state_queue_push(st, id, "a\nb\n", 4, 0), 0);
	assert_int_equal(state_queue_pop(st, id, 100, 0, item, &len, &ticket), 0);
	flaky->full = true;
	assert_int_equal(state_queue_ack(st, id, ticket), -ENOSPC);
	assert_int_equal(held_in(st, id), 1);
	flaky->full = false;
	assert_int_equal(state_queue_seal(st, id, true, 0), 0);
	assert_int_equal(state_queue_pop(st, id, 100, 0, item, &len, &ticket), 0);
	assert_memory_equal(item, "b", 1);
	assert_int_equal(state_queue_ack(st, id, ticket), 0);
	assert_int_equal(held_in(st, id), 0);
	assert_int_equal(state_queue_pop(st, id, 100, 0, item, &len, &ticket), 1);
}

/* ---- concurrency ------------------------------------------------------------ */

enum { ADDERS = 4, ADDS = 1000, READERS = 2 };

struct run {
	struct state *st;
	const char *text;
	int failures;         /* under the test's own accounting: one per thread */
	volatile bool *stop;
	long reads;
};

static void *add_loop(void *arg)
{
	struct run *r = arg;
	size_t len = strlen(r->text);

	for (int i = 0; i < ADDS; i++)
		if (state_execute(r->st, r->text, len, 0, NULL, NULL) != 0)
			r->failures++;
	return NULL;
}

/* Snapshots must never show a transfer half done: A + B == 0, cell 0 == A. */
static void *snapshot_loop(void *arg)
{
	struct run *r = arg;

	while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
		int64_t regs[ISA_REGISTERS];

		state_read_registers(r->st, regs);
		if (regs[R('A')] + regs[R('B')] != 0)
			r->failures++;
		r->reads++;
	}
	return NULL;
}

static void test_concurrent_adds(void **state)
{
	struct state *st = *state;
	struct run runs[ADDERS];
	pthread_t t[ADDERS];
	struct stats s = { .calls = 0 };
	const char *text;

	for (int i = 0; i < ADDERS; i++) {
		runs[i] = (struct run){ .st = st, .text = "ADD A 1" };
		assert_int_equal(pthread_create(&t[i], NULL, add_loop, &runs[i]), 0);
	}
	for (int i = 0; i < ADDERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(runs[i].failures, 0);
	}
	assert_int_equal(state_read_register(st, R('A')), ADDERS * ADDS);

	text = take_stats(st, &s);
	assert_int_equal(stat_of(text, "batches"), ADDERS * ADDS);
	assert_int_equal(stat_of(text, "insn_add"), ADDERS * ADDS);
	assert_int_equal(stat_of(text, "lock_exclusive"), 1 + ADDERS * ADDS);
	assert_int_equal(stat_of(text, "lock_readers"), 0);
	assert_int_equal(stat_of(text, "lock_waiting_writers"), 0);
}

/* Readers of the registers snapshot never see a batch half done. */
static void test_snapshots_are_consistent(void **state)
{
	struct state *st = *state;
	struct run adders[ADDERS], readers[READERS];
	pthread_t ta[ADDERS], tr[READERS];
	volatile bool stop = false;
	long reads = 0;
	struct stats s = { .calls = 0 };

	for (int i = 0; i < READERS; i++) {
		readers[i] = (struct run){ .st = st, .stop = &stop };
		assert_int_equal(pthread_create(&tr[i], NULL, snapshot_loop, &readers[i]), 0);
	}
	for (int i = 0; i < ADDERS; i++) {
		adders[i] = (struct run){ .st = st, .text = "ADD A 1\nSUB B 1\n" };
		assert_int_equal(pthread_create(&ta[i], NULL, add_loop, &adders[i]), 0);
	}
	for (int i = 0; i < ADDERS; i++)
		assert_int_equal(pthread_join(ta[i], NULL), 0);
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++) {
		assert_int_equal(pthread_join(tr[i], NULL), 0);
		reads += readers[i].reads;
	}

	for (int i = 0; i < ADDERS; i++)
		assert_int_equal(adders[i].failures, 0);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(readers[i].failures, 0);
	assert_int_equal(state_read_register(st, R('A')), ADDERS * ADDS);
	assert_int_equal(state_read_register(st, R('B')), -ADDERS * ADDS);
	assert_int_equal(stat_of(take_stats(st, &s), "reads"), reads + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_new_state_is_zero),
		cmocka_unit_test_setup_teardown(test_execute_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_execute_empty_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_execute_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_printed_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_errors, setup, teardown),
		cmocka_unit_test(test_reply_alone),
		cmocka_unit_test(test_reply_reserved),
		cmocka_unit_test_setup_teardown(test_execute_without_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_execute_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_gives_the_same_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_unjournaled_ack_is_settled_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_adds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots_are_consistent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
