/* isa.c - parser, formatter and executor of the instruction language.
 * See isa.h for the language and the canonical forms.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"

#define MAX_TOKENS 4 /* one more than any instruction has, to catch extras */
#define TOKEN_MAX 32

static const char *const op_names[] = {
	[ISA_MOV] = "MOV", [ISA_ADD] = "ADD",   [ISA_SUB] = "SUB",
	[ISA_MUL] = "MUL", [ISA_DIV] = "DIV",   [ISA_SET] = "SET",
	[ISA_READ] = "READ", [ISA_WRITE] = "WRITE",
};

#define OP_COUNT (sizeof(op_names) / sizeof(op_names[0]))

const char *isa_op_name(enum isa_op op)
{
	return (unsigned)op < OP_COUNT ? op_names[op] : NULL;
}

/* Cold: kept out of the parser's and executor's loops. */
static int fail(struct isa_error *err, int errnum, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), cold));

static int fail(struct isa_error *err, int errnum, unsigned line, const char *fmt, ...)
{
	va_list ap;

	err->errnum = errnum;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -errnum;
}

/* isspace in the C locale, without its table lookup call: every byte of a
 * batch passes here. */
static bool is_blank_char(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* [+-]digits exactly (no blanks, leading zeros allowed) that fit in an
 * int64: -EINVAL for anything else, -ERANGE for too large a value.  By
 * hand rather than with strtoll, which would want a terminated copy:
 * every register write comes through here. */
static int parse_decimal(const char *s, size_t len, int64_t *out)
{
	bool negative = len > 0 && s[0] == '-';
	size_t i = len > 0 && (s[0] == '+' || s[0] == '-');
	uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	bool too_large = false;

	if (i == len)
		return -EINVAL;
	/* Every digit is checked, also past an overflow: "9...9x" is EINVAL. */
	for (; i < len; i++) {
		unsigned digit = (unsigned char)s[i] - (unsigned)'0';

		if (digit > 9)
			return -EINVAL;
		too_large |= __builtin_mul_overflow(v, 10, &v);
		too_large |= __builtin_add_overflow(v, digit, &v);
	}
	if (too_large || v > limit)
		return -ERANGE;
	*out = !negative ? (int64_t)v : v ? -(int64_t)(v - 1) - 1 : 0;
	return 0;
}

int isa_parse_value(const char *text, size_t len, int64_t *out)
{
	size_t start = 0;

	while (start < len && is_blank_char(text[start]))
		start++;
	while (len > start && is_blank_char(text[len - 1]))
		len--;
	if (start == len)
		return -EINVAL;
	return parse_decimal(text + start, len - start, out);
}

/* --- formatting, by hand: a ctl reply has a line per instruction ------------ */

/* A line being built into buf: len counts every byte put, also past size,
 * as snprintf counts. */
struct line {
	char *buf;
	size_t size, len;
};

static void put_char(struct line *l, char c)
{
	if (l->len + 1 < l->size)
		l->buf[l->len] = c;
	l->len++;
}

/* Byte by byte: the pieces are a few bytes, shorter than a call of memcpy. */
static void put_bytes(struct line *l, const char *s, size_t n)
{
	while (n--)
		put_char(l, *s++);
}

static void put_str(struct line *l, const char *s)
{
	while (*s)
		put_char(l, *s++);
}

static void put_int(struct line *l, int64_t v)
{
	char digits[24];
	char *p = digits + sizeof(digits);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	put_bytes(l, p, (size_t)(digits + sizeof(digits) - p));
}

/* NUL-terminates the line; its whole length, as snprintf returns it. */
static int line_end(struct line *l)
{
	if (l->size)
		l->buf[l->len < l->size ? l->len : l->size - 1] = '\0';
	return (int)l->len;
}

int isa_format_value(int64_t v, char *buf, size_t size)
{
	struct line l = { buf, size, 0 };

	put_int(&l, v);
	put_char(&l, '\n');
	return line_end(&l);
}

struct token {
	const char *text;
	size_t len;
};

/* What a byte of a batch is to the scanner: a newline ends the line, a
 * `#` its code; the blanks are isspace's in the C locale. */
enum byte_kind { WORD_BYTE, BLANK_BYTE, END_BYTE };

static const unsigned char byte_kinds[256] = {
	['\t'] = BLANK_BYTE, ['\v'] = BLANK_BYTE, ['\f'] = BLANK_BYTE,
	['\r'] = BLANK_BYTE, [' '] = BLANK_BYTE,  ['\n'] = END_BYTE, ['#'] = END_BYTE,
};

static enum byte_kind kind_of(char c)
{
	return (enum byte_kind)byte_kinds[(unsigned char)c];
}

/* Splits the line that starts at p into blank-separated tokens, looking
 * at each byte of its code once; a comment is skipped to the newline.
 * Keeps at most MAX_TOKENS tokens in tok and their number in *count.
 * Returns the start of the next line (end after the last). */
static const char *scan_line(const char *p, const char *end, struct token *tok,
			     size_t *count)
{
	size_t n = 0;
	enum byte_kind kind;

	/* The byte after a word is classified once, by the word's loop. */
	while (p < end && (kind = kind_of(*p)) != END_BYTE) {
		const char *start = p;

		if (kind == BLANK_BYTE) {
			p++;
			continue;
		}
		while (++p < end && (kind = kind_of(*p)) == WORD_BYTE)
			;
		if (n < MAX_TOKENS)
			tok[n++] = (struct token){ start, (size_t)(p - start) };
		if (p == end || kind == END_BYTE)
			break;
		p++; /* the blank that ended the word */
	}
	*count = n;
	if (p < end && *p == '#') {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return end;
	}
	return p < end ? p + 1 : end;
}

/* Whether token t is name (capitals), in any case. */
static bool names(const struct token *t, const char *name)
{
	size_t k = 0;

	for (; k < t->len && name[k]; k++)
		if ((t->text[k] & ~0x20) != name[k])
			return false;
	return k == t->len && !name[k];
}

/* The first letter names the operation, the second tells MOV from MUL and
 * SUB from SET: one comparison with the only name it can be. */
static int lookup_op(const struct token *t, enum isa_op *op)
{
	char second = t->len > 1 ? (char)(t->text[1] & ~0x20) : 0;
	enum isa_op guess;

	switch (t->text[0] & ~0x20) {
	case 'A': guess = ISA_ADD; break;
	case 'D': guess = ISA_DIV; break;
	case 'M': guess = second == 'O' ? ISA_MOV : ISA_MUL; break;
	case 'R': guess = ISA_READ; break;
	case 'S': guess = second == 'U' ? ISA_SUB : ISA_SET; break;
	case 'W': guess = ISA_WRITE; break;
	default: return -EINVAL;
	}
	if (!names(t, op_names[guess]))
		return -EINVAL;
	*op = guess;
	return 0;
}

/* The error of an operand that parse_decimal refused with ret. */
static int operand_error(const struct token *t, int ret, unsigned line, struct isa_error *err)
{
	if (ret == -ERANGE)
		return fail(err, ERANGE, line, "literal %.*s out of range",
			    (int)t->len, t->text);
	return fail(err, EINVAL, line,
		    "bad operand '%.*s' (a register A-Z or a decimal integer)",
		    (int)t->len, t->text);
}

/* Reads t as a register or a literal: 0, or parse_decimal's -EINVAL or
 * -ERANGE, which operand_error words. */
static int parse_operand(const struct token *t, struct isa_operand *o)
{
	char letter = (char)(t->text[0] & ~0x20); /* 'a'..'z' to 'A'..'Z' */

	if (t->len == 1 && letter >= 'A' && letter <= 'Z') {
		o->is_register = true;
		o->value = letter - 'A';
		return 0;
	}
	o->is_register = false;
	return parse_decimal(t->text, t->len, &o->value);
}

/* Puts two parsed operands into their canonical places for op.  With one
 * register and one literal the order written does not matter. */
static int place_operands(struct isa_insn *in, const struct isa_operand *a,
			  const struct isa_operand *b, struct isa_error *err)
{
	const struct isa_operand *reg = a->is_register ? a : b;
	const struct isa_operand *lit = a->is_register ? b : a;
	const char *name = op_names[in->op];
	bool one_each = a->is_register != b->is_register;

	in->reg = -1;
	in->cell = 0;
	switch (in->op) {
	case ISA_MOV: /* source order: MOV src dst */
		if (!a->is_register && !b->is_register)
			break;
		in->reg = (int)(b->is_register ? b : a)->value;
		in->src = b->is_register ? *a : *b;
		return 0;
	case ISA_ADD: case ISA_SUB: case ISA_MUL: case ISA_DIV:
		if (!a->is_register && !b->is_register)
			break;
		in->reg = (int)(a->is_register ? a : b)->value;
		in->src = a->is_register ? *b : *a;
		return 0;
	case ISA_SET:
		if (!one_each)
			return fail(err, EINVAL, in->line,
				    "SET takes a register and a literal");
		in->reg = (int)reg->value;
		in->src = *lit;
		return 0;
	case ISA_READ:
		if (!one_each)
			return fail(err, EINVAL, in->line,
				    "READ takes a register and a cell number");
		in->reg = (int)reg->value;
		in->cell = lit->value;
		return 0;
	case ISA_WRITE:
		if (a->is_register && b->is_register)
			return fail(err, EINVAL, in->line,
				    "WRITE takes a value and a cell number");
		in->src = one_each ? *reg : *a;
		in->cell = one_each ? lit->value : b->value;
		return 0;
	}
	return fail(err, EINVAL, in->line, "%s needs a register operand", name);
}

static int parse_line(const struct token *tok, size_t n, unsigned line,
		      struct isa_insn *in, struct isa_error *err)
{
	struct isa_operand a, b;
	int ret;

	*in = (struct isa_insn){ .line = line };
	if (lookup_op(&tok[0], &in->op))
		return fail(err, EINVAL, line, "unknown instruction '%.*s'",
			    (int)(tok[0].len > TOKEN_MAX ? TOKEN_MAX : tok[0].len),
			    tok[0].text);
	if (n < 3)
		return fail(err, EINVAL, line, "%s takes 2 operands, got %zu",
			    op_names[in->op], n - 1);
	if (n > 3)
		return fail(err, EINVAL, line, "%s takes 2 operands, got more",
			    op_names[in->op]);
	ret = parse_operand(&tok[1], &a);
	if (ret)
		return operand_error(&tok[1], ret, line, err);
	ret = parse_operand(&tok[2], &b);
	if (ret)
		return operand_error(&tok[2], ret, line, err);
	return place_operands(in, &a, &b, err);
}

int isa_parse_batch(const char *text, size_t len, struct isa_insn *insns,
		    size_t max, size_t *count, struct isa_error *err)
{
	const char *p = text, *end = text + len;
	size_t n = 0;
	unsigned line = 0;
	int ret;

	*count = 0;
	if (len > ISA_MAX_BATCH_BYTES)
		return fail(err, EFBIG, 0, "batch of %zu bytes is over the %d byte limit",
			    len, ISA_MAX_BATCH_BYTES);
	while (p < end) {
		struct token tok[MAX_TOKENS];
		size_t ntok;

		p = scan_line(p, end, tok, &ntok);
		line++;
		if (ntok == 0)
			continue;
		if (n == max)
			return fail(err, E2BIG, line, "more than %zu instructions", max);
		ret = parse_line(tok, ntok, line, &insns[n], err);
		if (ret)
			return ret;
		n++;
	}
	*count = n;
	return 0;
}

static void put_operand(struct line *l, const struct isa_operand *o)
{
	if (o->is_register)
		put_char(l, (char)('A' + o->value));
	else
		put_int(l, o->value);
}

static void put_insn(struct line *l, const struct isa_insn *in)
{
	char reg = (char)('A' + in->reg);

	put_str(l, op_names[in->op]);
	put_char(l, ' ');
	switch (in->op) {
	case ISA_MOV:
		put_operand(l, &in->src);
		put_char(l, ' ');
		put_char(l, reg);
		break;
	case ISA_READ:
		put_char(l, reg);
		put_char(l, ' ');
		put_int(l, in->cell);
		break;
	case ISA_WRITE:
		put_operand(l, &in->src);
		put_char(l, ' ');
		put_int(l, in->cell);
		break;
	default:
		put_char(l, reg);
		put_char(l, ' ');
		put_operand(l, &in->src);
		break;
	}
}

int isa_format(const struct isa_insn *in, char *buf, size_t size)
{
	struct line l = { buf, size, 0 };

	put_insn(&l, in);
	return line_end(&l);
}

int isa_format_outcome(const struct isa_insn *in, bool is_cell, int64_t target, int64_t value,
		       char *buf, size_t size)
{
	struct line l = { buf, size, 0 };

	put_str(&l, "ok ");
	put_insn(&l, in);
	if (is_cell) {
		put_str(&l, " -> mem/");
		put_int(&l, target);
	} else {
		put_str(&l, " -> ");
		put_char(&l, (char)('A' + target));
	}
	put_char(&l, '=');
	put_int(&l, value);
	put_char(&l, '\n');
	return line_end(&l);
}

static int64_t operand_value(const struct isa_machine *m, const struct isa_operand *o)
{
	return o->is_register ? m->regs[o->value] : o->value;
}

static int check_cell(const struct isa_machine *m, const struct isa_insn *in,
		      struct isa_error *err)
{
	if (in->cell < 0 || (uint64_t)in->cell >= m->ncells)
		return fail(err, ENXIO, in->line, "cell %lld out of range 0..%zu",
			    (long long)in->cell, m->ncells - 1);
	return 0;
}

/* Computes reg OP value for the arithmetic instructions into *out. */
static int arithmetic(const struct isa_insn *in, int64_t a, int64_t b, int64_t *out,
		      struct isa_error *err)
{
	bool overflow = false;

	switch (in->op) {
	case ISA_ADD:
		overflow = __builtin_add_overflow(a, b, out);
		break;
	case ISA_SUB:
		overflow = __builtin_sub_overflow(a, b, out);
		break;
	case ISA_MUL:
		overflow = __builtin_mul_overflow(a, b, out);
		break;
	case ISA_DIV:
		if (b == 0)
			return fail(err, EDOM, in->line, "division by zero");
		overflow = a == INT64_MIN && b == -1;
		if (!overflow)
			*out = a / b;
		break;
	default:
		*out = b;
		break;
	}
	if (overflow)
		return fail(err, ERANGE, in->line, "overflow: result out of 64-bit range");
	return 0;
}

/* Runs one instruction.  A cell about to be written is saved in undo. */
static int execute_one(struct isa_machine *m, const struct isa_insn *in,
		       struct isa_undo *undo, int64_t *target, int64_t *value,
		       struct isa_error *err)
{
	int64_t src;
	int ret;

	if (in->op == ISA_READ || in->op == ISA_WRITE) {
		ret = check_cell(m, in, err);
		if (ret)
			return ret;
	}
	src = in->op == ISA_READ ? m->cells[in->cell] : operand_value(m, &in->src);
	if (in->op == ISA_WRITE) {
		undo->cells[undo->ncells++] =
			(struct isa_cell_undo){ (size_t)in->cell, m->cells[in->cell] };
		m->cells[in->cell] = src;
		*target = in->cell;
		*value = src;
		return 0;
	}
	ret = arithmetic(in, m->regs[in->reg], src, value, err);
	if (ret)
		return ret;
	m->regs[in->reg] = *value;
	*target = in->reg;
	return 0;
}

/* Puts m back as it was before the batch undo noted. */
static void rollback(struct isa_machine *m, const struct isa_undo *undo)
{
	memcpy(m->regs, undo->regs, sizeof(m->regs));
	for (size_t i = undo->ncells; i > 0; i--)
		m->cells[undo->cells[i - 1].cell] = undo->cells[i - 1].old;
}

int isa_execute(struct isa_machine *m, const struct isa_insn *insns, size_t count,
		struct isa_undo *undo, isa_outcome_fn outcome, void *arg,
		struct isa_error *err)
{
	int64_t target = 0, value = 0;
	int ret;

	/* An instruction that fails has changed nothing: a lone one needs no
	 * copy of the registers to go back to (a register write is one). */
	if (count > 1)
		memcpy(undo->regs, m->regs, sizeof(undo->regs));
	undo->ncells = 0;
	for (size_t i = 0; i < count; i++) {
		ret = execute_one(m, &insns[i], undo, &target, &value, err);
		if (ret) {
			if (i > 0)
				rollback(m, undo);
			return ret;
		}
		if (outcome)
			outcome(arg, &insns[i], insns[i].op == ISA_WRITE, target, value);
	}
	return 0;
}
