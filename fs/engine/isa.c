/* isa.c - parser, formatter and executor of the instruction language.
 * See isa.h for the language and the canonical forms.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"

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
static inline int parse_decimal(const char *s, size_t len, int64_t *out)
{
	bool negative = false, too_large = false;
	size_t i = 0;
	uint64_t v = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		negative = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return -EINVAL;
	/* Every digit is checked, also past an overflow: "9...9x" is EINVAL.
	 * Up to the bound v * 10 + 9 fits in 64 bits; past it the value is
	 * out of range whatever follows. */
	for (; i < len; i++) {
		unsigned digit = (unsigned char)s[i] - (unsigned)'0';

		if (digit > 9)
			return -EINVAL;
		too_large |= v > (UINT64_MAX - 9) / 10;
		v = v * 10 + digit;
	}
	if (too_large || v > (uint64_t)INT64_MAX + negative)
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

/* --- the parser: each byte of a batch is looked at once ------------------ */

/* A word of a line: its bytes stay in the batch's text. */
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

static inline enum byte_kind kind_of(char c)
{
	return (enum byte_kind)byte_kinds[(unsigned char)c];
}

/* The kind of the byte at p; END_BYTE at end. */
static inline enum byte_kind kind_at(const char *p, const char *end)
{
	return p == end ? END_BYTE : kind_of(*p);
}

/* Where the scanner is in a line's code, and the kind of the byte there:
 * a word's first, or END_BYTE; never a blank.  Keeping the kind looks at
 * each byte once. */
struct cursor {
	const char *p;
	enum byte_kind kind;
};

static inline struct cursor skip_blanks(const char *p, const char *end)
{
	enum byte_kind kind;

	while ((kind = kind_at(p, end)) == BLANK_BYTE)
		p++;
	return (struct cursor){ p, kind };
}

/* Reads the word at c into *t and moves c past it and the blanks after
 * it.  false when the code ends at c. */
static inline bool next_word(struct cursor *c, const char *end, struct token *t)
{
	const char *e = c->p + 1;
	enum byte_kind kind;

	if (c->kind == END_BYTE)
		return false;
	while ((kind = kind_at(e, end)) == WORD_BYTE)
		e++;
	*t = (struct token){ c->p, (size_t)(e - c->p) };
	*c = kind == BLANK_BYTE ? skip_blanks(e + 1, end) : (struct cursor){ e, kind };
	return true;
}

/* The start of the next line, for p where a line's code ended: a comment
 * is skipped to its newline. */
static inline const char *next_line(const char *p, const char *end)
{
	if (p < end && *p == '#') {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return end;
	}
	return p < end ? p + 1 : end;
}

/* A name of 3 to 5 letters as one number: its length, then its letters
 * one a byte (capitals), 0 for those it does not have. */
#define NAME(len, a, b, c, d, e)                                                    \
	((uint64_t)(len) << 40 | (uint64_t)(a) << 32 | (uint64_t)(b) << 24 |          \
	 (uint64_t)(c) << 16 | (uint64_t)(d) << 8 | (uint64_t)(e))

static const uint64_t op_keys[] = {
	[ISA_MOV] = NAME(3, 'M', 'O', 'V', 0, 0),  [ISA_ADD] = NAME(3, 'A', 'D', 'D', 0, 0),
	[ISA_SUB] = NAME(3, 'S', 'U', 'B', 0, 0),  [ISA_MUL] = NAME(3, 'M', 'U', 'L', 0, 0),
	[ISA_DIV] = NAME(3, 'D', 'I', 'V', 0, 0),  [ISA_SET] = NAME(3, 'S', 'E', 'T', 0, 0),
	[ISA_READ] = NAME(4, 'R', 'E', 'A', 'D', 0), [ISA_WRITE] = NAME(5, 'W', 'R', 'I', 'T', 'E'),
};

/* The operation that t names, in any case, or -1.  The first letter (for
 * M and S also the second) picks the only name t can be; one comparison
 * of t as a NAME tells.  `& ~0x20` makes a letter a capital and no other
 * byte a letter. */
static inline int lookup_op(const struct token *t)
{
	const unsigned char *s = (const unsigned char *)t->text;
	uint64_t key;
	int op;

	if (t->len < 3 || t->len > 5)
		return -1;
	key = NAME(t->len, s[0], s[1], s[2], 0, 0);
	if (t->len > 3)
		key |= NAME(0, 0, 0, 0, s[3], 0);
	if (t->len > 4)
		key |= NAME(0, 0, 0, 0, 0, s[4]);
	key &= ~NAME(0, 0x20, 0x20, 0x20, 0x20, 0x20);
	switch (s[0] & ~0x20) {
	case 'A': op = ISA_ADD; break;
	case 'D': op = ISA_DIV; break;
	case 'M': op = (s[1] & ~0x20) == 'O' ? ISA_MOV : ISA_MUL; break;
	case 'R': op = ISA_READ; break;
	case 'S': op = (s[1] & ~0x20) == 'U' ? ISA_SUB : ISA_SET; break;
	case 'W': op = ISA_WRITE; break;
	default: return -1;
	}
	return key == op_keys[op] ? op : -1;
}

/* Reads t as a register or a literal into *o: 0, or the error of a word
 * that is neither. */
static inline int parse_operand(const struct token *t, unsigned line, struct isa_operand *o,
			struct isa_error *err)
{
	char letter = (char)(t->text[0] & ~0x20); /* 'a'..'z' to 'A'..'Z' */
	unsigned digit = (unsigned char)t->text[0] - (unsigned)'0';
	int64_t value = 0;
	int ret;

	/* One byte, the common case: a register or a digit, taken at once. */
	if (t->len == 1 && letter >= 'A' && letter <= 'Z') {
		*o = (struct isa_operand){ true, letter - 'A' };
		return 0;
	}
	if (t->len == 1 && digit <= 9) {
		*o = (struct isa_operand){ false, digit };
		return 0;
	}
	ret = parse_decimal(t->text, t->len, &value);
	if (ret == -ERANGE)
		return fail(err, ERANGE, line, "literal %.*s out of range",
			    (int)t->len, t->text);
	if (ret)
		return fail(err, EINVAL, line,
			    "bad operand '%.*s' (a register A-Z or a decimal integer)",
			    (int)t->len, t->text);
	*o = (struct isa_operand){ false, value };
	return 0;
}

/* Fills in from op and its operands a and b as written, into their
 * canonical places; the fields op does not use are 0 (-1 for reg). */
static inline int place_operands(struct isa_insn *in, enum isa_op op, struct isa_operand a,
			struct isa_operand b, struct isa_error *err)
{
	/* With one register and one literal the order written does not matter. */
	struct isa_operand reg = a.is_register ? a : b, lit = a.is_register ? b : a;
	bool one_each = a.is_register != b.is_register;

	in->op = op;
	in->reg = -1;
	in->cell = 0;
	switch (op) {
	case ISA_MOV: /* source order: MOV src dst */
		if (!a.is_register && !b.is_register)
			break;
		in->reg = (int)(b.is_register ? b : a).value;
		in->src = b.is_register ? a : b;
		return 0;
	case ISA_ADD: case ISA_SUB: case ISA_MUL: case ISA_DIV:
		if (!a.is_register && !b.is_register)
			break;
		in->reg = (int)reg.value;
		in->src = lit;
		return 0;
	case ISA_SET:
		if (!one_each)
			return fail(err, EINVAL, in->line,
				    "SET takes a register and a literal");
		in->reg = (int)reg.value;
		in->src = lit;
		return 0;
	case ISA_READ:
		if (!one_each)
			return fail(err, EINVAL, in->line,
				    "READ takes a register and a cell number");
		in->reg = (int)reg.value;
		in->src = (struct isa_operand){ false, 0 };
		in->cell = lit.value;
		return 0;
	case ISA_WRITE:
		if (a.is_register && b.is_register)
			return fail(err, EINVAL, in->line,
				    "WRITE takes a value and a cell number");
		in->src = one_each ? reg : a;
		in->cell = one_each ? lit.value : b.value;
		return 0;
	}
	return fail(err, EINVAL, in->line, "%s needs a register operand", op_names[op]);
}

/* Parses the instruction of a line whose first word is name, reading the
 * rest of its code from c, into *in.  The checks come in the order the
 * messages promise: the name, the count of operands, each operand, then
 * their kinds. */
static inline int parse_insn(const struct token *name, struct cursor *c, const char *end,
		    unsigned line, struct isa_insn *in, struct isa_error *err)
{
	struct token ta, tb;
	/* Zeroed only for -Wmaybe-uninitialized: each is read once parsed. */
	struct isa_operand a = { 0 }, b = { 0 };
	int op = lookup_op(name), ret;

	if (op < 0)
		return fail(err, EINVAL, line, "unknown instruction '%.*s'",
			    (int)(name->len > TOKEN_MAX ? TOKEN_MAX : name->len), name->text);
	if (!next_word(c, end, &ta))
		return fail(err, EINVAL, line, "%s takes 2 operands, got 0", op_names[op]);
	if (!next_word(c, end, &tb))
		return fail(err, EINVAL, line, "%s takes 2 operands, got 1", op_names[op]);
	if (c->kind != END_BYTE)
		return fail(err, EINVAL, line, "%s takes 2 operands, got more", op_names[op]);
	ret = parse_operand(&ta, line, &a, err);
	if (ret)
		return ret;
	ret = parse_operand(&tb, line, &b, err);
	if (ret)
		return ret;
	in->line = line;
	return place_operands(in, (enum isa_op)op, a, b, err);
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
		struct cursor c = skip_blanks(p, end);
		struct token name;

		line++;
		if (next_word(&c, end, &name)) {
			if (n == max)
				return fail(err, E2BIG, line, "more than %zu instructions", max);
			ret = parse_insn(&name, &c, end, line, &insns[n], err);
			if (ret)
				return ret;
			n++;
		}
		p = next_line(c.p, end);
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
