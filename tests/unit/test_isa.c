/* test_isa.c - unit tests of the instruction language (fs/engine/isa.h):
 * isa_parse_value, isa_parse_batch, isa_format and isa_execute.
 *
 * Inputs are copied into heap buffers of exactly their length, without a
 * terminating NUL, so that AddressSanitizer catches a parser that reads
 * past len.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "isa.h"

#define R(letter) ((letter) - 'A')
#define NCELLS 16

/* ---- helpers ---------------------------------------------------------- */

/* A heap copy of text without its NUL: reads past len are caught by ASan. */
static char *exact_copy(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, text, len);
	return copy;
}

static int parse_value(const char *text, size_t len, int64_t *out)
{
	char *copy = exact_copy(text, len);
	int rc = isa_parse_value(copy, len, out);

	free(copy);
	return rc;
}

static int parse_batch(const char *text, size_t len, struct isa_insn *insns,
		       size_t max, size_t *count, struct isa_error *err)
{
	char *copy = exact_copy(text, len);
	int rc;

	/* Zeroed so that fields an instruction does not use hold no garbage;
	 * test_execute_ignores_unused_fields checks that they do not matter. */
	memset(insns, 0, max * sizeof(*insns));
	memset(err, 0, sizeof(*err));
	rc = isa_parse_batch(copy, len, insns, max, count, err);
	free(copy);
	return rc;
}

/* Parses a text that must hold exactly one instruction. */
static void parse_one(const char *text, struct isa_insn *insn)
{
	struct isa_error err;
	size_t count = 99;
	int rc = parse_batch(text, strlen(text), insn, 1, &count, &err);

	if (rc != 0)
		fail_msg("\"%s\": parse returned %d (%s), want 0", text, rc, err.message);
	if (count != 1)
		fail_msg("\"%s\": count %zu, want 1", text, count);
}

/* Compares the fields that matter for the instruction's kind. */
static int insn_same(const struct isa_insn *a, const struct isa_insn *b)
{
	if (a->op != b->op || a->reg != b->reg)
		return 0;
	if (a->op != ISA_READ && (a->src.is_register != b->src.is_register ||
				  a->src.value != b->src.value))
		return 0;
	if ((a->op == ISA_READ || a->op == ISA_WRITE) && a->cell != b->cell)
		return 0;
	return 1;
}

static void machine_init(struct isa_machine *m, int64_t *cells)
{
	memset(m, 0, sizeof(*m));
	memset(cells, 0, NCELLS * sizeof(*cells));
	m->cells = cells;
	m->ncells = NCELLS;
}

/* An isa_undo with room for 64 written cells. */
struct undo_space {
	struct isa_undo undo;
	struct isa_cell_undo cells[64];
};

static struct isa_undo *undo_init(struct undo_space *u)
{
	memset(u, 0, sizeof(*u));
	u->undo.cells = u->cells;
	return &u->undo;
}

/* Parses and executes text on m; the parse must succeed. */
static int run(struct isa_machine *m, const char *text, struct isa_error *err)
{
	struct isa_insn insns[64];
	struct undo_space undo;
	size_t count;
	int rc = parse_batch(text, strlen(text), insns, 64, &count, err);

	if (rc != 0)
		fail_msg("\"%s\": parse returned %d (%s)", text, rc, err->message);
	memset(err, 0, sizeof(*err));
	return isa_execute(m, insns, count, undo_init(&undo), NULL, NULL, err);
}

/* ---- isa_parse_value -------------------------------------------------- */

static const struct {
	const char *text;
	int rc;
	int64_t value;
} value_cases[] = {
	{ "42", 0, 42 },
	{ " -7 ", 0, -7 },
	{ "42\n", 0, 42 },
	{ "+5", 0, 5 },
	{ "  12\t\n", 0, 12 },
	{ "0", 0, 0 },
	{ "-0", 0, 0 },
	{ "007", 0, 7 },
	{ "\t-3\n", 0, -3 },
	{ "9223372036854775807", 0, INT64_MAX },
	{ "-9223372036854775808", 0, INT64_MIN },
	{ "9223372036854775807\n", 0, INT64_MAX },
	{ "0000000000000000000000000000000000000042", 0, 42 },
	{ "", -EINVAL, 0 },
	{ "\n", -EINVAL, 0 },
	{ "   ", -EINVAL, 0 },
	{ "abc", -EINVAL, 0 },
	{ "1 2", -EINVAL, 0 },
	{ "0x", -EINVAL, 0 },
	{ "0x10", -EINVAL, 0 },
	{ "--1", -EINVAL, 0 },
	{ "+-1", -EINVAL, 0 },
	{ "- 5", -EINVAL, 0 },
	{ "-", -EINVAL, 0 },
	{ "+", -EINVAL, 0 },
	{ "1.5", -EINVAL, 0 },
	{ "1e3", -EINVAL, 0 },
	{ "12abc", -EINVAL, 0 },
	{ "9223372036854775808", -ERANGE, 0 },
	{ "-9223372036854775809", -ERANGE, 0 },
	{ "99999999999999999999999", -ERANGE, 0 },
};

static void test_parse_value_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const char *text = value_cases[i].text;
		int64_t got = 12345;
		int rc = parse_value(text, strlen(text), &got);

		if (rc != value_cases[i].rc)
			fail_msg("isa_parse_value(\"%s\") returned %d, want %d", text, rc,
				 value_cases[i].rc);
		if (rc == 0 && got != value_cases[i].value)
			fail_msg("isa_parse_value(\"%s\") gave %" PRId64 ", want %" PRId64,
				 text, got, value_cases[i].value);
	}
}

/* Only len bytes count: what follows them is not part of the value. */
static void test_parse_value_respects_len(void **state)
{
	int64_t got = 0;

	(void)state;
	assert_int_equal(isa_parse_value("42junk", 2, &got), 0);
	assert_int_equal(got, 42);
	assert_int_equal(isa_parse_value("-123456", 3, &got), 0);
	assert_int_equal(got, -12);
}

/* A value reads as snprintf "%lld\n" would write it, truncation included. */
static void test_format_value_as_snprintf(void **state)
{
	const int64_t values[] = { 0, 7, -7, 42, 1000000, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	char want[32], got[32];

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		for (size_t size = 0; size <= sizeof(got); size++) {
			int n = snprintf(want, size, "%lld\n", (long long)values[i]);

			memset(got, 'x', sizeof(got));
			assert_int_equal(isa_format_value(values[i], size ? got : NULL, size), n);
			if (size)
				assert_string_equal(got, want);
		}
	}
}

/* ---- isa_parse_batch: accepted forms ------------------------------------ */

static const struct parse_case {
	const char *text;
	enum isa_op op;
	int reg;
	int src_is_register;
	int64_t src;
	int64_t cell;
} good_cases[] = {
	/* MOV's source text is `MOV src dst` */
	{ "MOV A B", ISA_MOV, R('B'), 1, R('A'), 0 },
	{ "MOV Z A", ISA_MOV, R('A'), 1, R('Z'), 0 },
	{ "MOV 5 B", ISA_MOV, R('B'), 0, 5, 0 },
	{ "MOV B 5", ISA_MOV, R('B'), 0, 5, 0 },
	{ "ADD A B", ISA_ADD, R('A'), 1, R('B'), 0 },
	{ "ADD N 27", ISA_ADD, R('N'), 0, 27, 0 },
	{ "ADD 27 N", ISA_ADD, R('N'), 0, 27, 0 },
	{ "ADD N -27", ISA_ADD, R('N'), 0, -27, 0 },
	{ "SUB A B", ISA_SUB, R('A'), 1, R('B'), 0 },
	{ "SUB A 3", ISA_SUB, R('A'), 0, 3, 0 },
	{ "SUB 3 A", ISA_SUB, R('A'), 0, 3, 0 },
	{ "MUL C D", ISA_MUL, R('C'), 1, R('D'), 0 },
	{ "MUL 4 C", ISA_MUL, R('C'), 0, 4, 0 },
	{ "DIV A B", ISA_DIV, R('A'), 1, R('B'), 0 },
	{ "DIV A 2", ISA_DIV, R('A'), 0, 2, 0 },
	{ "DIV 2 A", ISA_DIV, R('A'), 0, 2, 0 },
	{ "SET I 97", ISA_SET, R('I'), 0, 97, 0 },
	{ "SET 97 I", ISA_SET, R('I'), 0, 97, 0 },
	{ "SET A -9223372036854775808", ISA_SET, R('A'), 0, INT64_MIN, 0 },
	{ "SET A 9223372036854775807", ISA_SET, R('A'), 0, INT64_MAX, 0 },
	{ "READ B 100", ISA_READ, R('B'), 0, 0, 100 },
	{ "READ 100 B", ISA_READ, R('B'), 0, 0, 100 },
	{ "READ B 0", ISA_READ, R('B'), 0, 0, 0 },
	{ "WRITE A 100", ISA_WRITE, -1, 1, R('A'), 100 },
	{ "WRITE 100 A", ISA_WRITE, -1, 1, R('A'), 100 },
	{ "WRITE 7 100", ISA_WRITE, -1, 0, 7, 100 },
	/* names and registers are case-insensitive */
	{ "add a 1", ISA_ADD, R('A'), 0, 1, 0 },
	{ "Add n B", ISA_ADD, R('N'), 1, R('B'), 0 },
	{ "mov a b", ISA_MOV, R('B'), 1, R('A'), 0 },
	{ "sub 3 a", ISA_SUB, R('A'), 0, 3, 0 },
	{ "mul z z", ISA_MUL, R('Z'), 1, R('Z'), 0 },
	{ "div b 4", ISA_DIV, R('B'), 0, 4, 0 },
	{ "set 97 i", ISA_SET, R('I'), 0, 97, 0 },
	{ "read b 100", ISA_READ, R('B'), 0, 0, 100 },
	{ "wRiTe a 100", ISA_WRITE, -1, 1, R('A'), 100 },
	/* blanks, comments and line ends */
	{ "  ADD A 1", ISA_ADD, R('A'), 0, 1, 0 },
	{ "ADD A 1   ", ISA_ADD, R('A'), 0, 1, 0 },
	{ "\tADD\tA\t1\t", ISA_ADD, R('A'), 0, 1, 0 },
	{ "ADD    A     1", ISA_ADD, R('A'), 0, 1, 0 },
	{ "ADD A 1 # trailing comment", ISA_ADD, R('A'), 0, 1, 0 },
	{ "ADD A 1# no blank before it", ISA_ADD, R('A'), 0, 1, 0 },
	{ "ADD A 1\n", ISA_ADD, R('A'), 0, 1, 0 },
	{ "ADD A 1\r\n", ISA_ADD, R('A'), 0, 1, 0 },
	{ "# leading comment\nADD A 1\n", ISA_ADD, R('A'), 0, 1, 0 },
	{ "\n\n   \n\t\nADD A 1\n\n", ISA_ADD, R('A'), 0, 1, 0 },
};

static void test_parse_every_form(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct parse_case *c = &good_cases[i];
		struct isa_insn got, want = {
			.op = c->op,
			.reg = c->reg,
			.src = { .is_register = c->src_is_register, .value = c->src },
			.cell = c->cell,
		};

		memset(&got, 0, sizeof(got));
		parse_one(c->text, &got);
		if (!insn_same(&got, &want))
			fail_msg("\"%s\": got op %d reg %d src %s%" PRId64 " cell %" PRId64
				 "; want op %d reg %d src %s%" PRId64 " cell %" PRId64,
				 c->text, got.op, got.reg, got.src.is_register ? "reg " : "",
				 got.src.value, got.cell, want.op, want.reg,
				 want.src.is_register ? "reg " : "", want.src.value, want.cell);
	}
}

/* Every physical line counts, comments and blank ones included. */
static void test_parse_lines_and_comments(void **state)
{
	const char *text = "# header comment\r\n"
			   "\n"
			   "SET A 1\r\n"
			   "   # indented comment\n"
			   "  add a 2  # why\n"
			   "\t\n"
			   "WRITE 7 100";
	struct isa_insn insns[8];
	struct isa_error err;
	size_t count = 0;

	(void)state;
	assert_int_equal(parse_batch(text, strlen(text), insns, 8, &count, &err), 0);
	assert_int_equal(count, 3);
	assert_int_equal(insns[0].op, ISA_SET);
	assert_int_equal(insns[0].line, 3);
	assert_int_equal(insns[1].op, ISA_ADD);
	assert_int_equal(insns[1].line, 5);
	assert_int_equal(insns[2].op, ISA_WRITE);
	assert_int_equal(insns[2].line, 7);
	assert_int_equal(insns[2].cell, 100);
}

static void test_parse_empty_batches(void **state)
{
	static const char *const texts[] = {
		"", "\n", "\n\n\n", "   \t  \n", "# only a comment",
		"# one\n# two\n\n", "\r\n\r\n", "  # indented\n",
	};
	struct isa_insn insns[4];
	struct isa_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t count = 99;
		int rc = parse_batch(texts[i], strlen(texts[i]), insns, 4, &count, &err);

		if (rc != 0 || count != 0)
			fail_msg("\"%s\": rc %d count %zu, want 0 and 0", texts[i], rc, count);
	}
}

/* ---- isa_parse_batch: refused forms ------------------------------------- */

static const struct {
	const char *text;
	int rc;
	unsigned line;
} bad_cases[] = {
	{ "FOO A 1", -EINVAL, 1 },
	{ "ADDD A 1", -EINVAL, 1 },
	{ "ADD", -EINVAL, 1 },
	{ "ADD A", -EINVAL, 1 },
	{ "SET A", -EINVAL, 1 },
	{ "READ B", -EINVAL, 1 },
	{ "WRITE 7", -EINVAL, 1 },
	{ "MOV A", -EINVAL, 1 },
	{ "ADD A 1 2", -EINVAL, 1 },
	{ "SET A 1 B", -EINVAL, 1 },
	{ "READ B 100 C", -EINVAL, 1 },
	{ "ADD 1 2", -EINVAL, 1 },
	{ "SUB 1 2", -EINVAL, 1 },
	{ "MUL 1 2", -EINVAL, 1 },
	{ "DIV 1 2", -EINVAL, 1 },
	{ "MOV 1 2", -EINVAL, 1 },
	{ "SET 5 7", -EINVAL, 1 },
	{ "SET A B", -EINVAL, 1 },
	{ "READ A B", -EINVAL, 1 },
	{ "READ 5 7", -EINVAL, 1 },
	{ "WRITE A B", -EINVAL, 1 },
	{ "ADD AA 1", -EINVAL, 1 },
	{ "ADD 1A B", -EINVAL, 1 },
	{ "ADD A 1A", -EINVAL, 1 },
	{ "ADD @ 1", -EINVAL, 1 },
	{ "ADD A 0x10", -EINVAL, 1 },
	{ "ADD A 1.5", -EINVAL, 1 },
	{ "SET A --1", -EINVAL, 1 },
	{ "SET A -", -EINVAL, 1 },
	{ "SET A abcdefghijklmnopqrstuvwxyzabcdefghijklmn", -EINVAL, 1 },
	{ "SET A 9223372036854775808", -ERANGE, 1 },
	{ "SET A -9223372036854775809", -ERANGE, 1 },
	{ "ADD A 99999999999999999999", -ERANGE, 1 },
	{ "READ B 99999999999999999999", -ERANGE, 1 },
	/* the line is the physical line, comments and blanks included */
	{ "SET A 1\nADD B\n", -EINVAL, 2 },
	{ "# c\n\nSET A 1\n  # c\nADD A 2\n\r\nBOGUS\nSET B 2\n", -EINVAL, 7 },
	{ "\n\n\nSET A 9223372036854775808\n", -ERANGE, 4 },
	{ "SET A 1\r\nSET B 2\r\nSET 5 7\r\n", -EINVAL, 3 },
};

static void test_parse_refuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const char *text = bad_cases[i].text;
		struct isa_insn insns[8];
		struct isa_error err;
		size_t count = 0;
		int rc = parse_batch(text, strlen(text), insns, 8, &count, &err);

		if (rc != bad_cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", text, rc, bad_cases[i].rc);
		if (err.line != bad_cases[i].line)
			fail_msg("\"%s\": error line %u, want %u", text, err.line,
				 bad_cases[i].line);
		if (err.errnum != -bad_cases[i].rc)
			fail_msg("\"%s\": err.errnum %d, want %d", text, err.errnum,
				 -bad_cases[i].rc);
		if (err.message[0] == '\0')
			fail_msg("\"%s\": empty error message", text);
		if (strchr(err.message, '\n') != NULL)
			fail_msg("\"%s\": error message has a newline", text);
	}
}

/* The exact words and line of each refusal: the mnt/ctl reply quotes them. */
static void test_parse_messages(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *message;
	} cases[] = {
		{ "FOO A 1", 1, "unknown instruction 'FOO'" },
		{ "MOVE A B", 1, "unknown instruction 'MOVE'" },
		{ "mo A B", 1, "unknown instruction 'mo'" },
		{ "SE A 1", 1, "unknown instruction 'SE'" },
		{ "S", 1, "unknown instruction 'S'" },
		{ "WRITEX 1 2", 1, "unknown instruction 'WRITEX'" },
		{ "ADD A 1#x\nREADS A 1", 2, "unknown instruction 'READS'" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 A 1", 1,
		  "unknown instruction 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'" },
		{ "\n# c\n \t \nBAD", 4, "unknown instruction 'BAD'" },
		{ "ADD", 1, "ADD takes 2 operands, got 0" },
		{ "sub A # B", 1, "SUB takes 2 operands, got 1" },
		{ "ADD A 1 2", 1, "ADD takes 2 operands, got more" },
		{ "add\tA\v1\f2\r3 4 5", 1, "ADD takes 2 operands, got more" },
		{ "ADD A x1", 1, "bad operand 'x1' (a register A-Z or a decimal integer)" },
		{ "ADD AB 1", 1, "bad operand 'AB' (a register A-Z or a decimal integer)" },
		{ "ADD A 99999999999999999999x", 1,
		  "bad operand '99999999999999999999x' (a register A-Z or a decimal integer)" },
		{ "SET A 1\nADD A 99999999999999999999", 2,
		  "literal 99999999999999999999 out of range" },
		{ "ADD A -9223372036854775809", 1, "literal -9223372036854775809 out of range" },
		{ "SET A B", 1, "SET takes a register and a literal" },
		{ "READ 1 2", 1, "READ takes a register and a cell number" },
		{ "WRITE A B", 1, "WRITE takes a value and a cell number" },
		{ "MOV 1 2", 1, "MOV needs a register operand" },
		{ "DIV 1 2", 1, "DIV needs a register operand" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct isa_insn insns[4];
		struct isa_error err;
		size_t count;

		assert_int_not_equal(parse_batch(cases[i].text, strlen(cases[i].text), insns, 4,
						 &count, &err), 0);
		if (err.line != cases[i].line || strcmp(err.message, cases[i].message) != 0)
			fail_msg("\"%s\": line %u \"%s\", want line %u \"%s\"", cases[i].text,
				 err.line, err.message, cases[i].line, cases[i].message);
	}
}

/* Every isspace byte but the newline separates tokens; `#` ends a token
 * and the line's code, also inside a word. */
static void test_parse_blanks_and_comment_marks(void **state)
{
	const char *text = "\v\fsub\tB\r-3\t\f\n"
			   "ADD A 1#2 3\n"
			   "mul#\n"
			   "MOV 7 C# comment without a newline";
	struct isa_insn insns[4];
	struct isa_error err;
	size_t count = 0;

	(void)state;
	assert_int_equal(parse_batch(text, strlen(text), insns, 4, &count, &err), -EINVAL);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.message, "MUL takes 2 operands, got 0");
	text = "\v\fsub\tB\r-3\t\f\nADD A 1#2 3\nMOV 7 C# comment without a newline";
	assert_int_equal(parse_batch(text, strlen(text), insns, 4, &count, &err), 0);
	assert_int_equal(count, 3);
	assert_int_equal(insns[0].op, ISA_SUB);
	assert_int_equal(insns[0].reg, 'B' - 'A');
	assert_int_equal(insns[0].src.value, -3);
	assert_int_equal(insns[1].op, ISA_ADD);
	assert_int_equal(insns[1].src.value, 1);
	assert_int_equal(insns[2].op, ISA_MOV);
	assert_int_equal(insns[2].reg, 'C' - 'A');
	assert_int_equal(insns[2].line, 3);
}

/* Appends printf output to a growing heap string. */
static void appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (*len + (size_t)n + 1 > *cap) {
		*cap = (*len + (size_t)n + 1) * 2;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
}

/* n instructions "ADD A 1", each preceded by comments lines of comment. */
static char *make_batch(size_t n, size_t comments, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	appendf(&buf, len, &cap, "%s", "");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < comments; j++)
			appendf(&buf, len, &cap, "# comment\n");
		appendf(&buf, len, &cap, "ADD A 1\n");
	}
	return buf;
}

static void test_parse_line_limit(void **state)
{
	struct isa_insn *insns = calloc(ISA_MAX_BATCH_LINES + 1, sizeof(*insns));
	struct isa_error err;
	size_t len, count;
	char *text;

	(void)state;
	assert_non_null(insns);

	/* exactly the limit, comments not counted */
	text = make_batch(ISA_MAX_BATCH_LINES, 1, &len);
	assert_int_equal(parse_batch(text, len, insns, ISA_MAX_BATCH_LINES, &count, &err), 0);
	assert_int_equal(count, ISA_MAX_BATCH_LINES);
	assert_int_equal(insns[ISA_MAX_BATCH_LINES - 1].line, 2 * ISA_MAX_BATCH_LINES);
	free(text);

	/* one more */
	text = make_batch(ISA_MAX_BATCH_LINES + 1, 0, &len);
	assert_int_equal(parse_batch(text, len, insns, ISA_MAX_BATCH_LINES, &count, &err),
			 -E2BIG);
	assert_int_equal(err.errnum, E2BIG);
	free(text);

	/* max is the caller's bound */
	text = make_batch(3, 0, &len);
	assert_int_equal(parse_batch(text, len, insns, 3, &count, &err), 0);
	assert_int_equal(count, 3);
	assert_int_equal(parse_batch(text, len, insns, 2, &count, &err), -E2BIG);
	free(text);

	free(insns);
}

/* A batch of exactly size bytes: one instruction, then comment padding. */
static char *make_sized_batch(size_t size)
{
	char *text = malloc(size);

	assert_non_null(text);
	memset(text, 'x', size);
	memcpy(text, "SET A 1\n#", 9);
	for (size_t i = 80; i < size; i += 80) {
		text[i - 1] = '\n';
		text[i] = '#';
	}
	text[size - 1] = '\n';
	return text;
}

static void test_parse_byte_limit(void **state)
{
	struct isa_insn insns[4];
	struct isa_error err;
	size_t count;
	char *text;

	(void)state;
	text = make_sized_batch(ISA_MAX_BATCH_BYTES);
	assert_int_equal(parse_batch(text, ISA_MAX_BATCH_BYTES, insns, 4, &count, &err), 0);
	assert_int_equal(count, 1);
	free(text);

	text = make_sized_batch(ISA_MAX_BATCH_BYTES + 1);
	assert_int_equal(parse_batch(text, ISA_MAX_BATCH_BYTES + 1, insns, 4, &count, &err),
			 -EFBIG);
	assert_int_equal(err.errnum, EFBIG);
	free(text);
}

/* ---- isa_format ----------------------------------------------------------- */

static const struct {
	const char *text;
	const char *canonical;
} format_cases[] = {
	{ "add 27 n", "ADD N 27" },
	{ "ADD N 27", "ADD N 27" },
	{ "add a b", "ADD A B" },
	{ "  add   a   -5  # comment", "ADD A -5" },
	{ "MOV A B", "MOV A B" },
	{ "mov z a", "MOV Z A" },
	{ "MOV 5 B", "MOV 5 B" },
	{ "MOV B 5", "MOV 5 B" },
	{ "SUB 3 A", "SUB A 3" },
	{ "sub a b", "SUB A B" },
	{ "MUL 4 C", "MUL C 4" },
	{ "div 2 a", "DIV A 2" },
	{ "DIV A Z", "DIV A Z" },
	{ "SET 97 I", "SET I 97" },
	{ "set a -9223372036854775808", "SET A -9223372036854775808" },
	{ "SET A 9223372036854775807", "SET A 9223372036854775807" },
	{ "READ 100 B", "READ B 100" },
	{ "read b 0", "READ B 0" },
	{ "WRITE 100 A", "WRITE A 100" },
	{ "write a 100", "WRITE A 100" },
	{ "WRITE 7 100", "WRITE 7 100" },
	{ "WRITE -7 3", "WRITE -7 3" },
};

static void test_format_canonical(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		struct isa_insn insn;
		char buf[128];
		int n;

		parse_one(format_cases[i].text, &insn);
		memset(buf, '@', sizeof(buf));
		n = isa_format(&insn, buf, sizeof(buf));
		if (strcmp(buf, format_cases[i].canonical) != 0)
			fail_msg("\"%s\" formats as \"%s\", want \"%s\"", format_cases[i].text,
				 buf, format_cases[i].canonical);
		if (n != (int)strlen(format_cases[i].canonical))
			fail_msg("\"%s\": isa_format returned %d, want %zu", format_cases[i].text,
				 n, strlen(format_cases[i].canonical));
	}
}

/* Like snprintf: truncates, terminates, returns the length it needed. */
static void test_format_truncates(void **state)
{
	struct isa_insn insn;
	char buf[8];

	(void)state;
	parse_one("ADD 27 N", &insn);
	memset(buf, '@', sizeof(buf));
	assert_int_equal(isa_format(&insn, buf, 4), 8);
	assert_string_equal(buf, "ADD");
	assert_int_equal(buf[4], '@');
	assert_int_equal(isa_format(&insn, buf, 1), 8);
	assert_string_equal(buf, "");
	assert_int_equal(isa_format(&insn, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "ADD N 2");
}

/* A reply line, for a register and for a cell, and cut as snprintf cuts. */
static void test_format_outcome(void **state)
{
	struct isa_insn insn;
	char buf[80];

	(void)state;
	parse_one("ADD A -5", &insn);
	assert_int_equal(isa_format_outcome(&insn, false, 0, INT64_MIN, buf, sizeof(buf)), 38);
	assert_string_equal(buf, "ok ADD A -5 -> A=-9223372036854775808\n");
	parse_one("WRITE B 7", &insn);
	assert_int_equal(isa_format_outcome(&insn, true, 7, 42, buf, sizeof(buf)), 25);
	assert_string_equal(buf, "ok WRITE B 7 -> mem/7=42\n");
	memset(buf, '@', sizeof(buf));
	assert_int_equal(isa_format_outcome(&insn, true, 7, 42, buf, 10), 25);
	assert_string_equal(buf, "ok WRITE ");
	assert_int_equal(buf[10], '@');
}

/* parse(format(x)) == x, for every kind and extreme operands. */
static void test_format_round_trip(void **state)
{
	static const int64_t literals[] = { 0, 1, -1, 27, INT64_MAX, INT64_MIN };
	static const enum isa_op reg_ops[] = { ISA_MOV, ISA_ADD, ISA_SUB, ISA_MUL, ISA_DIV };

	(void)state;
	for (size_t o = 0; o < sizeof(reg_ops) / sizeof(reg_ops[0]); o++) {
		for (int dst = 0; dst < ISA_REGISTERS; dst += 5) {
			for (int src = 0; src < ISA_REGISTERS; src += 7) {
				struct isa_insn x = { .op = reg_ops[o], .reg = dst,
						      .src = { true, src } };
				struct isa_insn y;
				char buf[128];

				isa_format(&x, buf, sizeof(buf));
				parse_one(buf, &y);
				if (!insn_same(&x, &y))
					fail_msg("round trip of \"%s\" changed it", buf);
			}
			for (size_t l = 0; l < sizeof(literals) / sizeof(literals[0]); l++) {
				struct isa_insn x = { .op = reg_ops[o], .reg = dst,
						      .src = { false, literals[l] } };
				struct isa_insn y;
				char buf[128];

				isa_format(&x, buf, sizeof(buf));
				parse_one(buf, &y);
				if (!insn_same(&x, &y))
					fail_msg("round trip of \"%s\" changed it", buf);
			}
		}
	}
	for (size_t l = 0; l < sizeof(literals) / sizeof(literals[0]); l++) {
		int64_t cell = literals[l] < 0 ? 0 : literals[l];
		struct isa_insn xs[] = {
			{ .op = ISA_SET, .reg = R('Q'), .src = { false, literals[l] } },
			{ .op = ISA_READ, .reg = R('B'), .cell = cell },
			{ .op = ISA_WRITE, .reg = -1, .src = { true, R('Y') }, .cell = cell },
			{ .op = ISA_WRITE, .reg = -1, .src = { false, literals[l] }, .cell = 100 },
		};

		for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
			struct isa_insn y;
			char buf[128];

			isa_format(&xs[i], buf, sizeof(buf));
			parse_one(buf, &y);
			if (!insn_same(&xs[i], &y))
				fail_msg("round trip of \"%s\" changed it", buf);
		}
	}
}

static void test_op_names(void **state)
{
	static const struct {
		enum isa_op op;
		const char *name;
	} names[] = {
		{ ISA_MOV, "MOV" }, { ISA_ADD, "ADD" },   { ISA_SUB, "SUB" },
		{ ISA_MUL, "MUL" }, { ISA_DIV, "DIV" },   { ISA_SET, "SET" },
		{ ISA_READ, "READ" }, { ISA_WRITE, "WRITE" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(isa_op_name(names[i].op), names[i].name);
}

/* ---- isa_execute ---------------------------------------------------------- */

/* setup runs first as its own batch; then prog runs and must return rc.
 * On success, register reg (or cell, when reg < 0) must hold want; on
 * failure nothing may change. */
static const struct exec_case {
	const char *setup;
	const char *prog;
	int rc;
	int reg;
	int64_t cell;
	int64_t want;
} exec_cases[] = {
	{ "SET A 5", "MOV A B", 0, R('B'), 0, 5 },
	{ "SET A 5", "MOV A B", 0, R('A'), 0, 5 },
	{ "", "MOV 9 C", 0, R('C'), 0, 9 },
	{ "", "MOV C 9", 0, R('C'), 0, 9 },
	{ "SET N 3", "ADD 27 N", 0, R('N'), 0, 30 },
	{ "SET N 3", "ADD N 27", 0, R('N'), 0, 30 },
	{ "SET A 2\nSET B 3", "ADD A B", 0, R('A'), 0, 5 },
	{ "SET A 2", "ADD A A", 0, R('A'), 0, 4 },
	{ "SET A 10", "SUB A 3", 0, R('A'), 0, 7 },
	{ "SET A 10", "SUB 3 A", 0, R('A'), 0, 7 },
	{ "SET A 10\nSET B 13", "SUB A B", 0, R('A'), 0, -3 },
	{ "SET A -4", "MUL A 3", 0, R('A'), 0, -12 },
	{ "SET A -4\nSET B -5", "MUL A B", 0, R('A'), 0, 20 },
	{ "SET A 20", "DIV A 4", 0, R('A'), 0, 5 },
	{ "SET A -7", "DIV A 2", 0, R('A'), 0, -3 },
	{ "SET A 7", "DIV A -2", 0, R('A'), 0, -3 },
	{ "SET A -7", "DIV A -2", 0, R('A'), 0, 3 },
	{ "SET A 7", "DIV 2 A", 0, R('A'), 0, 3 },
	{ "SET A 7\nSET B 2", "DIV A B", 0, R('A'), 0, 3 },
	{ "", "SET 97 I", 0, R('I'), 0, 97 },
	{ "SET I 1", "SET I -97", 0, R('I'), 0, -97 },
	{ "WRITE 42 3", "READ B 3", 0, R('B'), 0, 42 },
	{ "WRITE 42 15", "READ 15 B", 0, R('B'), 0, 42 },
	{ "SET A 11", "WRITE A 0", 0, -1, 0, 11 },
	{ "SET A 11", "WRITE 15 A", 0, -1, 15, 11 },
	{ "", "WRITE 7 9", 0, -1, 9, 7 },
	/* the edges of int64 that still fit */
	{ "SET A 9223372036854775806", "ADD A 1", 0, R('A'), 0, INT64_MAX },
	{ "SET A -9223372036854775807", "SUB A 1", 0, R('A'), 0, INT64_MIN },
	{ "SET A 9223372036854775807", "ADD A -1", 0, R('A'), 0, INT64_MAX - 1 },
	{ "SET A 4611686018427387904", "MUL A -2", 0, R('A'), 0, INT64_MIN },
	{ "SET A -9223372036854775808", "MUL A 1", 0, R('A'), 0, INT64_MIN },
	{ "SET A -9223372036854775808", "DIV A 1", 0, R('A'), 0, INT64_MIN },
	{ "SET A -9223372036854775807", "DIV A -1", 0, R('A'), 0, INT64_MAX },
	/* overflow */
	{ "SET A 9223372036854775807", "ADD A 1", -ERANGE, 0, 0, 0 },
	{ "SET A -9223372036854775808", "ADD A -1", -ERANGE, 0, 0, 0 },
	{ "SET A 9223372036854775807", "ADD A A", -ERANGE, 0, 0, 0 },
	{ "SET A -9223372036854775808", "SUB A 1", -ERANGE, 0, 0, 0 },
	{ "SET B -9223372036854775808", "SUB A B", -ERANGE, 0, 0, 0 },
	{ "SET A 9223372036854775807", "SUB A -1", -ERANGE, 0, 0, 0 },
	{ "SET A 4611686018427387904", "MUL A 2", -ERANGE, 0, 0, 0 },
	{ "SET A -9223372036854775808", "MUL A -1", -ERANGE, 0, 0, 0 },
	{ "SET A 3037000500", "MUL A A", -ERANGE, 0, 0, 0 },
	{ "SET A -9223372036854775808", "DIV A -1", -ERANGE, 0, 0, 0 },
	{ "SET A -9223372036854775808\nSET B -1", "DIV A B", -ERANGE, 0, 0, 0 },
	/* division by zero */
	{ "SET A 5", "DIV A Z", -EDOM, 0, 0, 0 },
	{ "SET A 5", "DIV A 0", -EDOM, 0, 0, 0 },
	{ "", "DIV A A", -EDOM, 0, 0, 0 },
	/* cells */
	{ "", "READ A 16", -ENXIO, 0, 0, 0 },
	{ "", "WRITE 1 16", -ENXIO, 0, 0, 0 },
	{ "SET A 1", "WRITE A 1000000", -ENXIO, 0, 0, 0 },
	{ "", "READ A 9223372036854775807", -ENXIO, 0, 0, 0 },
};

static void test_execute_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(exec_cases) / sizeof(exec_cases[0]); i++) {
		const struct exec_case *c = &exec_cases[i];
		struct isa_machine m, before;
		int64_t cells[NCELLS], cells_before[NCELLS];
		struct isa_error err;
		int rc;

		machine_init(&m, cells);
		if (run(&m, c->setup, &err) != 0)
			fail_msg("setup \"%s\" failed: %s", c->setup, err.message);
		before = m;
		memcpy(cells_before, cells, sizeof(cells));

		rc = run(&m, c->prog, &err);
		if (rc != c->rc)
			fail_msg("\"%s\" then \"%s\": rc %d, want %d", c->setup, c->prog, rc, c->rc);
		if (rc == 0) {
			int64_t got = c->reg >= 0 ? m.regs[c->reg] : cells[c->cell];

			if (got != c->want)
				fail_msg("\"%s\" then \"%s\": got %" PRId64 ", want %" PRId64,
					 c->setup, c->prog, got, c->want);
			continue;
		}
		if (memcmp(m.regs, before.regs, sizeof(m.regs)) != 0 ||
		    memcmp(cells, cells_before, sizeof(cells)) != 0)
			fail_msg("\"%s\" then \"%s\" failed but changed the state", c->setup,
				 c->prog);
		if (err.errnum != -c->rc || err.line != 1 || err.message[0] == '\0')
			fail_msg("\"%s\": err {%d, %u, \"%s\"}, want errnum %d line 1", c->prog,
				 err.errnum, err.line, err.message, -c->rc);
	}
}

static void test_execute_division_message(void **state)
{
	struct isa_machine m;
	int64_t cells[NCELLS];
	struct isa_error err;

	(void)state;
	machine_init(&m, cells);
	assert_int_equal(run(&m, "SET A 1\nDIV A Z", &err), -EDOM);
	assert_string_equal(err.message, "division by zero");
	assert_int_equal(err.line, 2);
}

/* Cells are checked at run time, against m->ncells, negative included. */
static void test_execute_cell_bounds(void **state)
{
	static const struct {
		enum isa_op op;
		int64_t cell;
		int rc;
	} cases[] = {
		{ ISA_READ, -1, -ENXIO },        { ISA_WRITE, -1, -ENXIO },
		{ ISA_READ, INT64_MIN, -ENXIO }, { ISA_WRITE, INT64_MIN, -ENXIO },
		{ ISA_READ, NCELLS, -ENXIO },    { ISA_WRITE, NCELLS, -ENXIO },
		{ ISA_READ, NCELLS - 1, 0 },     { ISA_WRITE, NCELLS - 1, 0 },
		{ ISA_READ, 0, 0 },              { ISA_WRITE, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct isa_insn insn = {
			.op = cases[i].op,
			.reg = cases[i].op == ISA_READ ? R('B') : -1,
			.src = { false, 77 },
			.cell = cases[i].cell,
			.line = 1,
		};
		struct isa_machine m;
		int64_t cells[NCELLS];
		struct undo_space undo;
		struct isa_error err;
		int rc;

		machine_init(&m, cells);
		memset(&err, 0, sizeof(err));
		rc = isa_execute(&m, &insn, 1, undo_init(&undo), NULL, NULL, &err);
		if (rc != cases[i].rc)
			fail_msg("%s cell %" PRId64 ": rc %d, want %d", isa_op_name(cases[i].op),
				 cases[i].cell, rc, cases[i].rc);
		if (rc != 0 && err.errnum != ENXIO)
			fail_msg("%s cell %" PRId64 ": errnum %d", isa_op_name(cases[i].op),
				 cases[i].cell, err.errnum);
	}
}

/* A batch that writes registers and cells (one cell twice) and then fails
 * leaves everything exactly as before, whatever the failure. */
static void test_execute_all_or_nothing(void **state)
{
	static const struct {
		const char *last;
		int rc;
	} failures[] = {
		{ "DIV A Z", -EDOM },
		{ "ADD Y 9223372036854775807", -ERANGE },
		{ "MUL Y 9223372036854775807", -ERANGE },
		{ "DIV X -1", -ERANGE },
		{ "READ A 16", -ENXIO },
		{ "WRITE A 16", -ENXIO },
	};
	static const char prefix[] = "# a batch that touches everything\n"
				     "SET A 5\n"
				     "WRITE A 3\n"
				     "ADD B 7\n"
				     "WRITE 9 3\n"
				     "MOV B C\n"
				     "READ D 3\n"
				     "\n"
				     "WRITE 11 4\n"
				     "MUL E 3\n"
				     "SET X -9223372036854775808\n"
				     "SET Y 9223372036854775807\n";

	(void)state;
	for (size_t f = 0; f < sizeof(failures) / sizeof(failures[0]); f++) {
		struct isa_machine m;
		int64_t cells[NCELLS], cells_before[NCELLS];
		int64_t regs_before[ISA_REGISTERS];
		struct isa_error err;
		char text[1024];
		int rc;

		machine_init(&m, cells);
		for (int r = 0; r < ISA_REGISTERS - 1; r++)
			m.regs[r] = (r + 1) * 1000 + r; /* Z stays 0 */
		for (int c = 0; c < NCELLS; c++)
			cells[c] = -100 - c;
		memcpy(regs_before, m.regs, sizeof(regs_before));
		memcpy(cells_before, cells, sizeof(cells));

		snprintf(text, sizeof(text), "%s%s\nSET F 1\n", prefix, failures[f].last);
		rc = run(&m, text, &err);
		if (rc != failures[f].rc)
			fail_msg("batch ending in \"%s\": rc %d, want %d", failures[f].last, rc,
				 failures[f].rc);
		if (err.line != 13)
			fail_msg("batch ending in \"%s\": error line %u, want 13",
				 failures[f].last, err.line);
		if (memcmp(m.regs, regs_before, sizeof(regs_before)) != 0)
			fail_msg("batch ending in \"%s\" changed registers", failures[f].last);
		if (memcmp(cells, cells_before, sizeof(cells)) != 0)
			fail_msg("batch ending in \"%s\" changed cells", failures[f].last);
	}
}

/* The same batch without the failure commits all of it. */
static void test_execute_batch_commits(void **state)
{
	struct isa_machine m;
	int64_t cells[NCELLS];
	struct isa_error err;

	(void)state;
	machine_init(&m, cells);
	assert_int_equal(run(&m, "SET A 5\nWRITE A 3\nADD B 7\nWRITE 9 3\nMOV B C\n"
				 "READ D 3\nWRITE 11 4\nMUL C 3\n",
			     &err),
			 0);
	assert_int_equal(m.regs[R('A')], 5);
	assert_int_equal(m.regs[R('B')], 7);
	assert_int_equal(m.regs[R('C')], 21);
	assert_int_equal(m.regs[R('D')], 9);
	assert_int_equal(cells[3], 9);
	assert_int_equal(cells[4], 11);
	for (int c = 0; c < NCELLS; c++)
		if (c != 3 && c != 4)
			assert_int_equal(cells[c], 0);
	for (int r = R('E'); r < ISA_REGISTERS; r++)
		assert_int_equal(m.regs[r], 0);
}

struct outcome {
	enum isa_op op;
	unsigned line;
	bool is_cell;
	int64_t target;
	int64_t value;
};

struct outcome_log {
	size_t n;
	struct outcome entries[16];
};

static void record_outcome(void *arg, const struct isa_insn *insn, bool is_cell,
			   int64_t target, int64_t value)
{
	struct outcome_log *log = arg;

	assert_true(log->n < 16);
	log->entries[log->n++] = (struct outcome){ insn->op, insn->line, is_cell, target, value };
}

static void check_outcomes(const struct outcome_log *log, const struct outcome *want,
			   size_t n)
{
	assert_int_equal(log->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct outcome *g = &log->entries[i], *w = &want[i];

		if (g->op != w->op || g->line != w->line || g->is_cell != w->is_cell ||
		    g->target != w->target || g->value != w->value)
			fail_msg("outcome %zu: {%s line %u %s %" PRId64 " = %" PRId64
				 "}, want {%s line %u %s %" PRId64 " = %" PRId64 "}",
				 i, isa_op_name(g->op), g->line, g->is_cell ? "cell" : "reg",
				 g->target, g->value, isa_op_name(w->op), w->line,
				 w->is_cell ? "cell" : "reg", w->target, w->value);
	}
}

static void test_execute_outcomes(void **state)
{
	const char *text = "SET A 5\nWRITE A 3\n# comment\nREAD B 3\nADD B 2\nMOV B C\n"
			   "SUB 1 C\nMUL C 10\nDIV C 3\nWRITE 8 15\n";
	static const struct outcome want[] = {
		{ ISA_SET, 1, false, R('A'), 5 },
		{ ISA_WRITE, 2, true, 3, 5 },
		{ ISA_READ, 4, false, R('B'), 5 },
		{ ISA_ADD, 5, false, R('B'), 7 },
		{ ISA_MOV, 6, false, R('C'), 7 },
		{ ISA_SUB, 7, false, R('C'), 6 },
		{ ISA_MUL, 8, false, R('C'), 60 },
		{ ISA_DIV, 9, false, R('C'), 20 },
		{ ISA_WRITE, 10, true, 15, 8 },
	};
	struct isa_insn insns[16];
	struct undo_space undo;
	struct outcome_log log = { 0 };
	struct isa_machine m;
	int64_t cells[NCELLS];
	struct isa_error err;
	size_t count;

	(void)state;
	machine_init(&m, cells);
	assert_int_equal(parse_batch(text, strlen(text), insns, 16, &count, &err), 0);
	assert_int_equal(isa_execute(&m, insns, count, undo_init(&undo), record_outcome, &log,
				     &err),
			 0);
	check_outcomes(&log, want, sizeof(want) / sizeof(want[0]));
}

/* Instructions that ran before the failure are reported; the failing one
 * and those after it are not. */
static void test_execute_outcomes_on_failure(void **state)
{
	const char *text = "SET A 5\nWRITE A 3\nDIV A Z\nSET B 1\n";
	static const struct outcome want[] = {
		{ ISA_SET, 1, false, R('A'), 5 },
		{ ISA_WRITE, 2, true, 3, 5 },
	};
	struct isa_insn insns[8];
	struct undo_space undo;
	struct outcome_log log = { 0 };
	struct isa_machine m;
	int64_t cells[NCELLS];
	struct isa_error err;
	size_t count;

	(void)state;
	machine_init(&m, cells);
	assert_int_equal(parse_batch(text, strlen(text), insns, 8, &count, &err), 0);
	assert_int_equal(isa_execute(&m, insns, count, undo_init(&undo), record_outcome, &log,
				     &err),
			 -EDOM);
	assert_int_equal(err.line, 3);
	check_outcomes(&log, want, sizeof(want) / sizeof(want[0]));
	assert_int_equal(m.regs[R('A')], 0);
	assert_int_equal(cells[3], 0);
}

/* A batch that fails at its last instruction is taken back whole:
 * registers and every cell it wrote, a cell written twice included. */
static void test_failure_takes_back_every_write(void **state)
{
	const char *text = "SET A 5\nWRITE A 3\nWRITE 9 3\nADD B 7\nWRITE 1 4\nREAD C 3\nDIV A 0\n";
	struct isa_insn insns[8];
	struct undo_space space;
	struct isa_undo *undo = undo_init(&space);
	struct isa_machine m;
	int64_t cells[NCELLS], cells_before[NCELLS], regs_before[ISA_REGISTERS];
	struct isa_error err;
	size_t count;

	(void)state;
	machine_init(&m, cells);
	for (int r = 0; r < ISA_REGISTERS; r++)
		m.regs[r] = 100 + r;
	for (int c = 0; c < NCELLS; c++)
		cells[c] = -c;
	memcpy(regs_before, m.regs, sizeof(regs_before));
	memcpy(cells_before, cells, sizeof(cells));

	assert_int_equal(parse_batch(text, strlen(text), insns, 8, &count, &err), 0);
	assert_int_equal(isa_execute(&m, insns, count, undo, NULL, NULL, &err), -EDOM);
	assert_int_equal(err.line, 7);
	assert_memory_equal(m.regs, regs_before, sizeof(regs_before));
	assert_memory_equal(cells, cells_before, sizeof(cells));
}

/* READ does not use src and SET/READ/WRITE do not use the fields the header
 * leaves unused: whatever a caller left there must not matter. */
static void test_execute_ignores_unused_fields(void **state)
{
	static const struct isa_insn insns[] = {
		{ .op = ISA_WRITE, .reg = -1, .src = { false, 42 }, .cell = 3, .line = 1 },
		{ .op = ISA_READ, .reg = R('B'), .src = { true, 1000000 }, .cell = 3, .line = 2 },
		{ .op = ISA_READ, .reg = R('C'), .src = { false, INT64_MIN }, .cell = 3, .line = 3 },
		{ .op = ISA_SET, .reg = R('D'), .src = { false, 9 }, .cell = 1000000, .line = 4 },
	};
	struct undo_space undo;
	struct isa_machine m;
	int64_t cells[NCELLS];
	struct isa_error err;
	char buf[64];

	(void)state;
	machine_init(&m, cells);
	memset(&err, 0, sizeof(err));
	assert_int_equal(isa_execute(&m, insns, 4, undo_init(&undo), NULL, NULL, &err), 0);
	assert_int_equal(m.regs[R('B')], 42);
	assert_int_equal(m.regs[R('C')], 42);
	assert_int_equal(m.regs[R('D')], 9);
	isa_format(&insns[1], buf, sizeof(buf));
	assert_string_equal(buf, "READ B 3");
}

static void test_execute_empty(void **state)
{
	struct isa_machine m;
	int64_t cells[NCELLS];
	struct undo_space undo;
	struct isa_error err;

	(void)state;
	machine_init(&m, cells);
	assert_int_equal(isa_execute(&m, NULL, 0, undo_init(&undo), NULL, NULL, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_value_table),
		cmocka_unit_test(test_parse_value_respects_len),
		cmocka_unit_test(test_format_value_as_snprintf),
		cmocka_unit_test(test_parse_every_form),
		cmocka_unit_test(test_parse_lines_and_comments),
		cmocka_unit_test(test_parse_empty_batches),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_messages),
		cmocka_unit_test(test_parse_blanks_and_comment_marks),
		cmocka_unit_test(test_parse_line_limit),
		cmocka_unit_test(test_parse_byte_limit),
		cmocka_unit_test(test_format_canonical),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_format_outcome),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_execute_table),
		cmocka_unit_test(test_execute_division_message),
		cmocka_unit_test(test_execute_cell_bounds),
		cmocka_unit_test(test_execute_all_or_nothing),
		cmocka_unit_test(test_execute_batch_commits),
		cmocka_unit_test(test_execute_outcomes),
		cmocka_unit_test(test_execute_outcomes_on_failure),
		cmocka_unit_test(test_failure_takes_back_every_write),
		cmocka_unit_test(test_execute_ignores_unused_fields),
		cmocka_unit_test(test_execute_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
