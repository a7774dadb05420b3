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

static int fail(struct isa_error *err, int errnum, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

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
	for (; i < len; i++) {
		unsigned digit = (unsigned char)s[i] - (unsigned)'0';

		if (digit > 9)
			return -EINVAL;
		if (v > (limit - digit) / 10)
			too_large = true;
		else
			v = v * 10 + digit;
	}
	if (too_large)
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

/* Splits one line (comment already cut) into blank-separated tokens.
 * Returns the number of tokens, at most MAX_TOKENS. */
static size_t tokenize(const char *s, size_t len, struct token *tok)
{
	size_t n = 0, i = 0;

	while (i < len && n < MAX_TOKENS) {
		while (i < len && is_blank_char(s[i]))
			i++;
		if (i == len)
			break;
		tok[n].text = s + i;
		while (i < len && !is_blank_char(s[i]))
			i++;
		tok[n].len = (size_t)(s + i - tok[n].text);
		n++;
	}
	return n;
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

static int lookup_op(const struct token *t, enum isa_op *op)
{
	for (size_t i = 0; i < OP_COUNT; i++) {
		if (names(t, op_names[i])) {
			*op = (enum isa_op)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_operand(const struct token *t, struct isa_operand *o,
			 unsigned line, struct isa_error *err)
{
	int ret;

	char letter = (char)(t->text[0] & ~0x20); /* 'a'..'z' to 'A'..'Z' */

	if (t->len == 1 && letter >= 'A' && letter <= 'Z') {
		o->is_register = true;
		o->value = letter - 'A';
		return 0;
	}
	o->is_register = false;
	ret = parse_decimal(t->text, t->len, &o->value);
	if (ret == -ERANGE)
		return fail(err, ERANGE, line, "literal %.*s out of range",
			    (int)t->len, t->text);
	if (ret)
		return fail(err, EINVAL, line,
			    "bad operand '%.*s' (a register A-Z or a decimal integer)",
			    (int)t->len, t->text);
	return 0;
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

static int parse_line(const char *s, size_t len, unsigned line,
		      struct isa_insn *in, struct isa_error *err)
{
	struct token tok[MAX_TOKENS];
	struct isa_operand a, b;
	size_t n = tokenize(s, len, tok);
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
	in->line = line;
	ret = parse_operand(&tok[1], &a, line, err);
	if (!ret)
		ret = parse_operand(&tok[2], &b, line, err);
	if (!ret)
		ret = place_operands(in, &a, &b, err);
	return ret;
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_blank_char(s[i]))
			return false;
	return true;
}

int isa_parse_batch(const char *text, size_t len, struct isa_insn *insns,
		    size_t max, size_t *count, struct isa_error *err)
{
	size_t pos = 0, n = 0;
	unsigned line = 0;
	int ret;

	*count = 0;
	if (len > ISA_MAX_BATCH_BYTES)
		return fail(err, EFBIG, 0, "batch of %zu bytes is over the %d byte limit",
			    len, ISA_MAX_BATCH_BYTES);
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - s) : len - pos;
		const char *hash = memchr(s, '#', linelen);
		size_t codelen = hash ? (size_t)(hash - s) : linelen;

		pos += linelen + (nl != NULL);
		line++;
		if (is_blank(s, codelen))
			continue;
		if (n == max)
			return fail(err, E2BIG, line, "more than %zu instructions", max);
		ret = parse_line(s, codelen, line, &insns[n], err);
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

	memcpy(undo->regs, m->regs, sizeof(undo->regs));
	undo->ncells = 0;
	for (size_t i = 0; i < count; i++) {
		ret = execute_one(m, &insns[i], undo, &target, &value, err);
		if (ret) {
			rollback(m, undo);
			return ret;
		}
		if (outcome)
			outcome(arg, &insns[i], insns[i].op == ISA_WRITE, target, value);
	}
	return 0;
}
